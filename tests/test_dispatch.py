"""Run-time choice of the kernels' instruction set, and fastsgd.show_config().

The hot kernels are compiled once per instruction set (baseline x86-64, AVX2+FMA,
AVX-512) and the best one the CPU supports is picked at import. ``FASTSGD_ISA``
forces a set at import (an unknown or unsupported value falls back to the best
available) and ``_core.set_isa`` switches at run time. Each set is run here in
its own process and checked against the NumPy reference and against the others.
"""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastsgd
from fastsgd import _core, reference
from fastsgd._buildinfo import _cpu_flags

ORDER = ["baseline", "avx2", "avx512"]  # worst to best
COMPILED = list(_core.build_info()["isas_compiled"])


def _cpu_supports() -> dict[str, bool] | None:
    """Which sets this CPU offers, read from /proc/cpuinfo (None off Linux)."""
    flags = _cpu_flags()
    if flags is None:
        return None
    return {
        "baseline": True,
        "avx2": {"avx2", "fma"} <= flags,
        "avx512": {"avx512f", "avx512dq", "avx512bw", "avx512vl", "fma"} <= flags,
    }


CPU = _cpu_supports()
needs_cpuinfo = pytest.mark.skipif(CPU is None, reason="no /proc/cpuinfo to say what the CPU has")


def _best() -> str:
    assert CPU is not None
    return [isa for isa in ORDER if isa in COMPILED and CPU[isa]][-1]


def _usable(isa: str) -> bool:
    return CPU is not None and isa in COMPILED and CPU[isa]


# The child computes every kernel on fixed data with the kernels of one instruction set
# and saves the results; the parent compares them.
CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import fastsgd
    from fastsgd import _core

    out = {"active": _core.active_isa()}
    rng = np.random.default_rng(7)
    arrays = {}
    for dtype in ("float32", "float64"):
        X = rng.standard_normal((1003, 37)).astype(dtype)  # odd sizes: SIMD tails
        w = rng.standard_normal(37).astype(dtype)
        W = rng.standard_normal((37, 5)).astype(dtype)
        y = (X @ w + rng.standard_normal(1003)).astype(dtype)
        labels = rng.integers(0, 5, 1003)
        arrays[dtype + "/dot"] = fastsgd.dot(X, W, np.arange(5, dtype=dtype))
        loss, gw, gb = fastsgd.mse_grad(X, y, w, 0.5)
        arrays[dtype + "/mse_grad"] = np.concatenate([[loss], gw, np.ravel(gb)])
        loss, gW, gbs = fastsgd.softmax_xent_grad(X, labels, W, np.zeros(5))
        arrays[dtype + "/softmax_xent_grad"] = np.concatenate([[loss], gW.ravel(), gbs])
        r = fastsgd.fit(X, y, np.zeros(37), learning_rate=0.05, epochs=3, batch_size=32,
                        seed=3, fit_intercept=True)
        arrays[dtype + "/fit"] = np.concatenate([r.w, [r.b], r.loss_history])
    np.savez(sys.argv[1], **arrays)
    print(json.dumps(out))
    """
)


def _run_child(tmp_path: Path, env_isa: str | None) -> tuple[str, dict[str, np.ndarray[Any, Any]]]:
    env = dict(os.environ)
    env.pop("FASTSGD_ISA", None)
    if env_isa is not None:
        env["FASTSGD_ISA"] = env_isa
    path = tmp_path / f"isa-{env_isa}.npz"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    active = json.loads(proc.stdout.strip().splitlines()[-1])["active"]
    with np.load(path) as data:
        return active, {k: data[k] for k in data.files}


@functools.cache
def _reference_results() -> dict[str, np.ndarray[Any, Any]]:
    """The same numbers from fastsgd.reference (NumPy), computed in float64."""
    rng = np.random.default_rng(7)
    out = {}
    for dtype in ("float32", "float64"):
        X = rng.standard_normal((1003, 37)).astype(dtype)
        w = rng.standard_normal(37).astype(dtype)
        W = rng.standard_normal((37, 5)).astype(dtype)
        y = (X @ w + rng.standard_normal(1003)).astype(dtype)
        labels = rng.integers(0, 5, 1003)
        X64, y64 = X.astype(np.float64), y.astype(np.float64)
        out[dtype + "/dot"] = reference.dot(X64, W.astype(np.float64), np.arange(5.0))
        loss, gw, gb = reference.mse_grad(X64, y64, w.astype(np.float64), 0.5)
        out[dtype + "/mse_grad"] = np.concatenate([[loss], gw, np.ravel(gb)])
        loss, gW, gbs = reference.softmax_xent_grad(X64, labels, W.astype(np.float64), np.zeros(5))
        out[dtype + "/softmax_xent_grad"] = np.concatenate([[loss], gW.ravel(), gbs])
        r = reference.fit(
            X64,
            y64,
            np.zeros(37),
            learning_rate=0.05,
            epochs=3,
            batch_size=32,
            seed=3,
            fit_intercept=True,
        )
        out[dtype + "/fit"] = np.concatenate([r.w, [r.b], r.loss_history])
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each compiled instruction set forced by FASTSGD_ISA, run in a child process."""
    tmp = tmp_path_factory.mktemp("isa")
    return {isa: _run_child(tmp, isa) for isa in COMPILED}


def test_baseline_is_always_compiled() -> None:
    assert "baseline" in COMPILED
    assert set(COMPILED) <= set(ORDER)
    assert _core.active_isa() in COMPILED


@needs_cpuinfo
def test_import_picks_the_best_set_the_cpu_has(tmp_path: Path) -> None:
    """Without FASTSGD_ISA, a portable build runs the fastest kernels this CPU supports."""
    active, _ = _run_child(tmp_path, None)
    assert active == _best()


@pytest.mark.parametrize("isa", ORDER)
def test_forced_set_is_used(isa: str, runs: dict[str, tuple[str, dict[str, Any]]]) -> None:
    if isa not in COMPILED:
        pytest.skip(f"{isa} kernels are not compiled in this build")
    if CPU is not None and not CPU[isa]:
        pytest.skip(f"this CPU has no {isa}")
    active, _ = runs[isa]
    assert active == isa


@needs_cpuinfo
@pytest.mark.parametrize("value", ["", "nonsense", "AVX2", "sse2", "avx512 "])
def test_unknown_value_falls_back_to_the_best(tmp_path: Path, value: str) -> None:
    active, results = _run_child(tmp_path, value)
    assert active == _best()
    assert np.isfinite(results["float64/fit"]).all()


@needs_cpuinfo
@pytest.mark.parametrize("isa", ORDER)
def test_unsupported_set_falls_back_to_the_best(tmp_path: Path, isa: str) -> None:
    if _usable(isa):
        pytest.skip(f"this machine can run {isa}: nothing to fall back from")
    active, _ = _run_child(tmp_path, isa)
    assert active == _best()


@pytest.mark.parametrize("isa", ORDER)
@pytest.mark.parametrize("kernel", ["dot", "mse_grad", "softmax_xent_grad", "fit"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_set_matches_the_reference(
    isa: str, kernel: str, dtype: str, runs: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    if isa not in runs or runs[isa][0] != isa:
        pytest.skip(f"{isa} kernels cannot run here")
    got = runs[isa][1][f"{dtype}/{kernel}"]
    want = _reference_results()[f"{dtype}/{kernel}"]
    # float32 data: the kernels return float32 (rounded once from float64 sums; fit keeps
    # the parameters in float64); the reference computes in float64 from the same values.
    rtol, atol = (2e-6, 1e-6) if dtype == "float32" else (1e-11, 1e-12)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("kernel", ["dot", "mse_grad", "softmax_xent_grad", "fit"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sets_agree_within_rounding(
    kernel: str, dtype: str, runs: dict[str, tuple[str, dict[str, Any]]]
) -> None:
    ran = {isa: results for isa, (active, results) in runs.items() if active == isa}
    if len(ran) < 2:
        pytest.skip("fewer than two instruction sets can run here")
    base = ran["baseline"][f"{dtype}/{kernel}"]
    eps = np.finfo(dtype).eps
    for isa, results in ran.items():
        # Different vector widths add the row sums in a different order and FMA rounds
        # once instead of twice: a few units in the last place, no more.
        np.testing.assert_allclose(
            results[f"{dtype}/{kernel}"],
            base,
            rtol=64 * eps,
            atol=64 * eps * float(np.abs(base).max()),
            err_msg=f"{isa} vs baseline",
        )


def test_set_isa_switches_at_run_time() -> None:
    before = _core.active_isa()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((501, 19))
    y = rng.standard_normal(501)
    w = rng.standard_normal(19)
    want = reference.mse_grad(X, y, w)
    try:
        for isa in COMPILED:
            ok = _core.set_isa(isa)
            if CPU is not None:
                assert ok == CPU[isa]
            if not ok:
                continue
            assert _core.active_isa() == isa
            loss, gw, _ = fastsgd.mse_grad(X, y, w)
            np.testing.assert_allclose(loss, want[0], rtol=1e-12)
            np.testing.assert_allclose(gw, want[1], rtol=1e-11, atol=1e-13)
        current = _core.active_isa()
        assert _core.set_isa("nonsense") is False
        assert _core.active_isa() == current  # a refused switch changes nothing
    finally:
        assert _core.set_isa(before)
    assert _core.active_isa() == before


# --- show_config ------------------------------------------------------------------------------


def test_show_config_reports_the_dispatch() -> None:
    config = fastsgd.show_config()
    assert config["isa"]["active"] == _core.active_isa()
    assert config["isa"]["compiled"] == COMPILED
    assert config["isa"]["cpu_supports"] == CPU
    assert config["fastsgd"]["version"] == fastsgd.__version__
    assert config["numpy"] == np.__version__
    assert config["build"]["native"] is bool(_core.build_info()["native"])
    assert config["openmp"]["threads"] == fastsgd.get_num_threads()


def test_show_config_follows_the_active_set() -> None:
    before = _core.active_isa()
    try:
        assert _core.set_isa("baseline")
        assert fastsgd.show_config()["isa"]["active"] == "baseline"
    finally:
        _core.set_isa(before)


@pytest.mark.usefixtures("restore_threads")
def test_show_config_reports_the_thread_count() -> None:
    fastsgd.set_num_threads(3)
    assert fastsgd.show_config()["openmp"]["threads"] == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process's memory map")
def test_show_config_names_the_openmp_runtime_the_core_uses() -> None:
    config = fastsgd.show_config()["openmp"]
    if not config["compiled"]:
        pytest.skip("built without OpenMP")
    library = config["library"]
    assert library is not None
    assert Path(library).name.startswith(("libgomp", "libomp", "libiomp"))
    assert library in config["loaded"]
    # the same file is mapped into this process
    maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    mapped = {os.path.realpath(line.split()[-1]) for line in maps.splitlines() if "/" in line}
    assert library in mapped


def test_show_config_finds_openmp_without_threadpoolctl(monkeypatch: pytest.MonkeyPatch) -> None:
    if not fastsgd.show_config()["openmp"]["compiled"] or not sys.platform.startswith("linux"):
        pytest.skip("needs an OpenMP build on Linux")
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails
    config = fastsgd.show_config()["openmp"]
    assert config["library"] in config["loaded"]


def test_show_config_prints_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    config = fastsgd.show_config()
    assert capsys.readouterr().out == ""
    fastsgd.show_config(print_info=True)
    out = capsys.readouterr().out
    assert f"active       : {config['isa']['active']}" in out
    assert f"version  : {fastsgd.__version__}" in out
    buffer = io.StringIO()
    fastsgd.show_config(file=buffer)
    assert buffer.getvalue() == out
