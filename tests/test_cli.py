"""The ``fastsgd`` command: ``demo`` runs the lesson, ``info`` shows the build, and a
mistake is one line on standard error with exit status 2, never a traceback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastsgd
from fastsgd._ext import _core
from fastsgd.cli import main
from fastsgd.datasets import make_line

STEP = re.compile(r"step\s+(\d+)\s+loss\s+([-\d.]+)\s+a = \[\s*([-\d.]+),\s*([-\d.]+)\]")
FITTED = re.compile(r"fitted a = \[\s*([-\d.]+),\s*([-\d.]+)\]")
TRUTH = re.compile(r"truth\s+a = \[\s*([-\d.]+),\s*([-\d.]+)\]")


def _gradient_descent(steps: int, lr: float = 0.1) -> tuple[list[float], list[Any]]:
    """The lesson by hand: loss and a after each full-batch step from a = (-1, 1)."""
    X, y = make_line(n=100, seed=0)
    a = np.array([-1.0, 1.0])
    losses, params = [], []
    for _ in range(steps):
        r = X @ a - y
        a = a - lr * (2.0 / len(y)) * (X.T @ r)
        losses.append(float(np.mean((X @ a - y) ** 2)))
        params.append(a.copy())
    return losses, params


def _check_demo_output(out: str, steps: int = 100) -> None:
    rows = [(int(s), float(loss), float(a1), float(a2)) for s, loss, a1, a2 in STEP.findall(out)]
    assert [r[0] for r in rows] == list(range(10, steps + 1, 10))  # the loss every 10 steps
    losses, params = _gradient_descent(steps)
    for step, loss, a1, a2 in rows:
        assert loss == pytest.approx(losses[step - 1], abs=1e-6)  # printed with 6 decimals
        np.testing.assert_allclose([a1, a2], params[step - 1], atol=1e-4)
    printed = [r[1] for r in rows]
    assert printed == sorted(printed, reverse=True)  # the loss goes down


def test_demo_prints_the_loss_every_ten_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert len(STEP.findall(out)) == 10
    _check_demo_output(out)
    X, y = make_line(n=100, seed=0)
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    fitted = np.array([float(v) for v in FITTED.search(out).groups()])  # type: ignore[union-attr]
    truth = np.array([float(v) for v in TRUTH.search(out).groups()])  # type: ignore[union-attr]
    np.testing.assert_allclose(truth, [3.0, 2.0])
    np.testing.assert_allclose(fitted, best, atol=0.01)  # 100 steps reach least squares
    assert fitted[0] == pytest.approx(truth[0], abs=0.2)  # the slope of the truth line
    assert fitted[1] - truth[1] == pytest.approx(0.5, abs=0.1)  # the noise's mean 1/2


def test_demo_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--steps", "30"]) == 0
    out = capsys.readouterr().out
    _check_demo_output(out, steps=30)


def test_demo_as_a_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fastsgd.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stderr == ""
    _check_demo_output(out.stdout)


def test_console_script() -> None:
    # the script installed with this interpreter's fastsgd, not whichever is first on PATH
    scripts = sysconfig.get_path("scripts")
    exe = shutil.which("fastsgd", path=scripts)
    if exe is None:
        pytest.skip(f"no fastsgd console script in {scripts}")
    out = subprocess.run(
        [exe, "demo", "--steps", "10"], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    _check_demo_output(out.stdout, steps=10)


def test_info_prints_the_instruction_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"instruction set in use: {_core.active_isa()}" in out
    for isa in _core.build_info()["isas_compiled"]:
        assert isa in out
    assert "threads:" in out


def test_info_follows_fastsgd_isa() -> None:
    env = {**os.environ, "FASTSGD_ISA": "baseline"}
    out = subprocess.run(
        [sys.executable, "-m", "fastsgd.cli", "info"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "instruction set in use: baseline" in out.stdout


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "demo" in out
    assert "info" in out


def test_unknown_command_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    assert "no-such-command" in capsys.readouterr().err


# --- mistakes: one line on standard error, exit status 2 --------------------------------------

# What the console script runs (its entry point, looked up as pip's wrapper does), after
# blocking the modules named in FASTSGD_TEST_BLOCK: sys.modules[name] = None makes their
# import raise ImportError, as if they were not installed.
ENTRY_POINT = """\
import os, sys
for name in filter(None, os.environ.get("FASTSGD_TEST_BLOCK", "").split(",")):
    sys.modules[name] = None
from importlib.metadata import entry_points
(ep,) = entry_points(group="console_scripts", name="fastsgd")
sys.exit(ep.load()())
"""


def fastsgd_cli(
    *args: str, cwd: Path, without: tuple[str, ...] = (), stderr: Any = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """Run ``fastsgd ARGS`` in a fresh process, in ``cwd``, as if ``without`` were missing."""
    env = {**os.environ, "FASTSGD_TEST_BLOCK": ",".join(without)}
    return subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], command: str) -> str:
    """Exit status 2 and exactly one line on standard error: ``fastsgd CMD: error: ...``."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{command}: error: "), lines[0]
    assert proc.returncode == 2, proc.stderr
    return lines[0]


MISTAKES = {
    # id: (arguments, what the line must say); every file named is under tmp_path
    "animate-negative-lr": (["animate", "--lr", "-0.1"], "argument --lr: must be > 0, got -0.1"),
    "animate-lr-word": (["animate", "--lr", "fast"], "argument --lr: must be a number"),
    "animate-out-missing-folder": (
        ["animate", "--out", "missing/sgd.gif"], "the folder 'missing' of 'missing/sgd.gif' does not exist",
    ),
    "animate-out-mp4": (["animate", "--out", "sgd.mp4"], "must end in .gif, .html or .htm"),
    "animate-surface-missing-folder": (["animate", "--surface", "missing/s.png"], "does not exist"),
    "animate-curves-txt": (["animate", "--curves", "c.txt"], "argument --curves: must end in .png"),
    "animate-zero-steps": (["animate", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
    "animate-zero-fps": (["animate", "--fps", "0"], "argument --fps: must be >= 1, got 0"),
    "animate-zero-dpi": (["animate", "--dpi", "0"], "argument --dpi: must be > 0, got 0"),
    "overfit-out-txt": (["overfit", "--out", "x.txt"], "argument --out: must end in .png"),
    "overfit-out-missing-folder": (["overfit", "--out", "missing/o.png"], "does not exist"),
    "overfit-out-is-a-folder": (["overfit", "--out", "folder.png"], "is a folder, not a file"),
    "overfit-one-point": (["overfit", "--n", "1"], "argument --n: must be >= 2, got 1"),
    "overfit-nan-noise": (["overfit", "--noise", "nan"], "argument --noise: must be a finite"),
    "digits-out-missing-folder": (["digits", "--out", "missing/d.png"], "does not exist"),
    "digits-lr-word": (["digits", "--lr", "fast"], "must be a finite number > 0 or 'auto'"),
    "demo-plot-missing-folder": (["demo", "--plot", "missing/lesson"], "does not exist"),
    "demo-negative-steps": (["demo", "--steps", "-1"], "argument --steps: must be >= 1, got -1"),
    "demo-no-points": (["demo", "--n", "0"], "argument --n: must be >= 1, got 0"),
    "demo-diverges": (["demo", "--lr", "5"], "training diverged at epoch 2 with learning_rate=5"),
    "unknown-option": (["demo", "--epochs", "3"], "unrecognized arguments: --epochs 3"),
    "noise-negative-lr": (["noise", "--lr", "-1"], "argument --lr: must be > 0, got -1"),
    "noise-out-txt": (["noise", "--out", "n.txt"], "argument --out: must end in .png"),
    "noise-out-missing-folder": (["noise", "--out", "missing/n.png"], "does not exist"),
    "noise-zero-batch": (["noise", "--batch-size", "0"], "argument --batch-size: must be >= 1"),
    "noise-diverges": (["noise", "--lr", "50"], "training diverged"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MISTAKES), ids=list(MISTAKES))
def test_a_mistake_is_one_line_and_exit_status_2(case: str, tmp_path: Path) -> None:
    args, says = MISTAKES[case]
    (tmp_path / "folder.png").mkdir()
    before = sorted(tmp_path.iterdir())
    proc = fastsgd_cli(*args, cwd=tmp_path)
    line = assert_one_line_error(proc, f"fastsgd {args[0]}")
    assert says in line
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_an_unknown_command_is_one_line(tmp_path: Path) -> None:
    proc = fastsgd_cli("no-such-command", cwd=tmp_path)
    line = assert_one_line_error(proc, "fastsgd")
    assert "invalid choice: 'no-such-command'" in line


def test_diverging_says_the_stable_rate_in_one_line(tmp_path: Path) -> None:
    proc = fastsgd_cli("demo", "--lr", "5", cwd=tmp_path)
    line = assert_one_line_error(proc, "fastsgd demo")
    X, _ = make_line(n=100, seed=0)
    assert f"stable below {fastsgd.suggest_learning_rate(X):.4g}" in line
    assert STEP.findall(proc.stdout) == []  # it stopped before the first report
    assert proc.stdout == ""  # and said nothing else first


MISSING = {
    # id: (the module missing, arguments, the line's start after "error: ")
    "demo-progress-no-tqdm": (
        "tqdm", ["demo", "--progress"], "--progress needs tqdm: pip install 'fastsgd[progress]'",
    ),
    "demo-plot-no-matplotlib": (
        "matplotlib", ["demo", "--plot"], "--plot needs matplotlib: pip install 'fastsgd[plot]'",
    ),
    "animate-no-matplotlib": (
        "matplotlib", ["animate"], "this command needs matplotlib: pip install 'fastsgd[plot]'",
    ),
    "animate-progress-no-tqdm": (
        "tqdm", ["animate", "--progress"], "--progress needs tqdm: pip install 'fastsgd[progress]'",
    ),
    "noise-no-matplotlib": (
        "matplotlib", ["noise"], "this command needs matplotlib: pip install 'fastsgd[plot]'",
    ),
    "overfit-no-matplotlib": (
        "matplotlib", ["overfit"], "this command needs matplotlib: pip install 'fastsgd[plot]'",
    ),
    "digits-no-sklearn": (
        "sklearn", ["digits"], "this command needs scikit-learn: pip install 'fastsgd[sklearn]'",
    ),
    "digits-out-no-matplotlib": (
        "matplotlib", ["digits", "--out", "d.png"], "--out needs matplotlib: pip install 'fastsgd[plot]'",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MISSING), ids=list(MISSING))
def test_a_missing_extra_is_named_before_any_work(case: str, tmp_path: Path) -> None:
    module, args, says = MISSING[case]
    proc = fastsgd_cli(*args, cwd=tmp_path, without=(module,))
    line = assert_one_line_error(proc, f"fastsgd {args[0]}")
    assert line.endswith(f"error: {says}")
    assert proc.stdout == ""  # nothing ran: demo --plot did not print the lesson first
    assert list(tmp_path.iterdir()) == []


def test_version(tmp_path: Path) -> None:
    proc = fastsgd_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"fastsgd {fastsgd.__version__}\n"


def test_a_bug_still_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the errors a user causes become one line; anything else keeps its traceback."""
    from fastsgd._commands import info

    def raises(exc: Exception) -> Any:
        def run(args: Any) -> int:
            raise exc

        return run

    monkeypatch.setattr(info, "run", raises(KeyError("a bug")))
    with pytest.raises(KeyError, match="a bug"):
        main(["info"])
    monkeypatch.setattr(info, "run", raises(OSError("no file named")))
    with pytest.raises(OSError, match="no file named"):
        main(["info"])  # an OSError that names no file is not about an output file
    monkeypatch.setattr(info, "run", raises(ValueError("a bad value")))
    assert main(["info"]) == 2  # a ValueError is the user's
    monkeypatch.setattr(info, "run", raises(PermissionError(13, "Permission denied", "x.png")))
    assert main(["info"]) == 2


# --- progress bars ------------------------------------------------------------------------------


def test_demo_progress_bar_keeps_the_lines_whole(tmp_path: Path) -> None:
    pytest.importorskip("tqdm")
    proc = fastsgd_cli("demo", "--progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    _check_demo_output(proc.stdout)  # the report lines on standard output, whole
    assert "demo:" in proc.stderr  # the bar on standard error


def test_animate_progress_bar_when_asked(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    args = ("animate", "--lr", "0.1", "--steps", "3", "--n", "20", "--dpi", "20", "--out", "a.gif")
    proc = fastsgd_cli(*args, "--progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "rendering a.gif:" in proc.stderr
    assert proc.stdout == "wrote a.gif\n"
    # standard error is not a terminal here: no bar unless asked
    proc = fastsgd_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_plain_progress_bar_on_a_terminal_without_tqdm(tmp_path: Path) -> None:
    """Standard error a terminal, tqdm missing: the plain bar, drawn to the last frame."""
    pytest.importorskip("matplotlib")
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-c", ENTRY_POINT, "animate", "--lr", "0.1", "--steps", "3",
         "--n", "20", "--dpi", "20", "--out", "a.gif"],
        cwd=tmp_path, env={**os.environ, "FASTSGD_TEST_BLOCK": "tqdm"},
        stdout=subprocess.PIPE, stderr=secondary, text=True,
    ) as proc:  # fmt: skip
        os.close(secondary)
        err = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            err += chunk
        os.close(primary)
        out = proc.stdout.read() if proc.stdout else ""
    assert proc.returncode == 0, err
    assert out == "wrote a.gif\n"
    text = err.decode()
    assert "rendering a.gif: 100% |####################| 4/4 frame" in text
    assert text.endswith("\r")
    assert text.split("\r")[-2].strip() == ""  # the bar is cleared when done


def test_noise_draws_the_noise_floor(tmp_path: Path) -> None:
    proc = fastsgd_cli("noise", "--epochs", "5", "--out", "n.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote n.png"
    assert (tmp_path / "n.png").stat().st_size > 10_000
