"""Time vs n: fastsgd against NumPy and a streaming read, and one epoch of fit, on a log grid of n.

Side by side in one run (calls interleaved round by round), with 1 and 2 threads:

- kernels, for float32 X with d = 2 (n = 10^3 ... 10^7) and d = 100 (n = 10^3 ... 10^6),
  four sizes per decade, y = X @ w_true + noise and a w near the truth:

  - ``fastsgd.mse_grad(X, y, w)``: loss and gradient in one fused pass over X;
  - ``fastsgd.reference.mse_grad(X, y, w)``: NumPy, two BLAS passes (X @ w, Xᵀ r);
  - ``fastsgd._core.stream_read(X)``: a plain read of every byte of X (C++, OpenMP), the
    bandwidth limit of a one-pass kernel;

- one epoch of SGD on the lesson's data (``make_line(n, dtype=float32)``, n = 10^3 ... 10^6):
  ``fastsgd.fit(X, y, w0=(-1, 1), epochs=1, batch_size=64, learning_rate=0.1)`` against
  ``fastsgd.reference.fit`` with the same arguments (the same trainer, its batch loop in
  Python + NumPy).

The smaller X are prefixes (views, no copies) of one X per d. A call on a small X takes
microseconds, so each timed sample repeats the call until the sample lasts at least 2 ms
(the same X each time: small X stay in the caches, which is what the curves show) and the
time per call is the sample / the number of calls.

It prints and writes ``results/scaling.md`` and ``results/scaling.json``
(``--quick``: ``scaling-quick.*``, smaller grids). ``plot_results.py`` draws them.
"""

from __future__ import annotations

import _common

_common.reexec_without_openblas_overrides()  # before NumPy loads OpenBLAS

import argparse
import math
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import fastsgd
from fastsgd import reference
from fastsgd._ext import _core
from fastsgd.datasets import make_line


def log_grid(lo: int, hi: int, per_decade: int = 4) -> list[int]:
    """n = 10^lo ... 10^hi, ``per_decade`` sizes per decade, two significant digits."""
    out = []
    for i in range((hi - lo) * per_decade + 1):
        x = 10 ** (lo + i / per_decade)
        digits = math.floor(math.log10(x)) - 1
        out.append(int(round(x, -digits)))
    return out


FULL_KERNEL_GRID = {2: log_grid(3, 7), 100: log_grid(3, 6)}
QUICK_KERNEL_GRID = {2: log_grid(3, 5, 2), 100: log_grid(3, 4, 2)}
FULL_FIT_GRID = log_grid(3, 6)
QUICK_FIT_GRID = log_grid(3, 4, 2)
BATCH_SIZE = 64
LR = 0.1
W0 = (-1.0, 1.0)
MIN_SAMPLE_S = 0.002  # a timed sample repeats the call until it lasts this long
MAX_CALLS = 100_000
CONTENDERS = {
    "kernel": {
        "fastsgd": "fastsgd.mse_grad",
        "numpy": "NumPy (reference.mse_grad)",
        "stream": "streaming read (_core.stream_read)",
    },
    "fit": {"fastsgd": "fastsgd.fit", "numpy": "NumPy loop (reference.fit)"},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = _common.base_parser(
        __doc__,
        quick_help="small grids (seconds: a smoke test, not a measurement)",
        repeats=(9, "timed samples per contender and size (default 9; the median is reported)"),
        warmup=(1, "untimed calls first (default 1)"),
        threads=([1, 2], "thread counts, the same for every contender (default 1 2)"),
    ).parse_checked(argv)
    args.threads = sorted(set(args.threads))
    return args


# --- timing ---------------------------------------------------------------------------------


def _repeated(fn: Callable[[], object], calls: int) -> Callable[[], object]:
    def run() -> object:
        for _ in range(calls):
            fn()
        return None

    return run


def calls_per_sample(fn: Callable[[], object], warmup: int) -> int:
    """Calls of ``fn`` that make a sample of at least MIN_SAMPLE_S (after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if best >= MIN_SAMPLE_S:
            return 1
    return max(1, min(MAX_CALLS, math.ceil(MIN_SAMPLE_S / max(best, 1e-9))))


def measure_per_call(
    fns: Mapping[str, Callable[[], object]], repeats: int, warmup: int
) -> tuple[dict[str, _common.Timing], dict[str, int]]:
    """Seconds per call of each function, timed side by side (``_common.measure_interleaved``);
    each sample repeats the call so that it lasts at least MIN_SAMPLE_S."""
    calls = {k: calls_per_sample(f, warmup) for k, f in fns.items()}
    samples = _common.measure_interleaved(
        {k: _repeated(f, calls[k]) for k, f in fns.items()}, repeats=repeats, warmup=0
    )
    per_call = {}
    for k, t in samples.items():
        c = calls[k]
        per_call[k] = _common.Timing(t.median / c, t.min / c, t.q1 / c, t.q3 / c, t.repeats)
    return per_call, calls


# --- the kernels ----------------------------------------------------------------------------


def make_data(n: int, d: int, seed: int = 0) -> tuple[Any, Any, Any]:
    """Gaussian float32 X, y = X @ w_true + noise, and a w near (not at) the truth (as
    bench_kernels.py)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    w_true = rng.standard_normal(d).astype(np.float32)
    y = X @ w_true + rng.standard_normal(n, dtype=np.float32)
    w = w_true + np.float32(0.1) * rng.standard_normal(d, dtype=np.float32)
    return X, y, w


def rel_diff(X: Any, y: Any, w: Any) -> float:
    """The larger of the loss's and the gradient's relative difference to NumPy's."""
    loss_f, g_f, _ = fastsgd.mse_grad(X, y, w)
    loss_r, g_r, _ = reference.mse_grad(X, y, w)
    g_f64, g_r64 = np.asarray(g_f, np.float64), np.asarray(g_r, np.float64)
    return max(
        abs(loss_f - loss_r) / abs(loss_r),
        float(np.linalg.norm(g_f64 - g_r64) / np.linalg.norm(g_r64)),
    )


def run_kernels(args: argparse.Namespace, grid: Mapping[int, list[int]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    prev_threads = fastsgd.get_num_threads()
    try:
        for d, ns in grid.items():
            X_all, y_all, w = make_data(max(ns), d)
            for n in ns:
                X, y = X_all[:n], y_all[:n]  # C-contiguous views
                diff = rel_diff(X, y, w)
                for t in args.threads:
                    fastsgd.set_num_threads(t)
                    with threadpool_limits(limits=t, user_api="blas"):
                        times, calls = measure_per_call(
                            {
                                "fastsgd": partial(fastsgd.mse_grad, X, y, w),
                                "numpy": partial(reference.mse_grad, X, y, w),
                                "stream": partial(_core.stream_read, X, threads=t),
                            },
                            args.repeats,
                            args.warmup,
                        )
                    gb = X.nbytes / 1e9
                    rows.append(
                        {
                            "d": d,
                            "n": n,
                            "threads": t,
                            "x_bytes": X.nbytes,
                            "y_bytes": y.nbytes,
                            **times,
                            "calls_per_sample": calls,
                            "fastsgd_gbs": gb / times["fastsgd"].median,
                            "numpy_gbs": gb / times["numpy"].median,
                            "stream_gbs": gb / times["stream"].median,
                            "speedup_vs_numpy": times["numpy"].median / times["fastsgd"].median,
                            "pct_of_stream": 100 * times["stream"].median / times["fastsgd"].median,
                            "rel_diff": diff,
                        }
                    )
                print(
                    f"  d={d} n={n:_}: "
                    + ", ".join(
                        f"{r['threads']} thr fastsgd {fmt_time(r['fastsgd'].median)} NumPy "
                        f"{fmt_time(r['numpy'].median)} stream {fmt_time(r['stream'].median)}"
                        for r in rows[-len(args.threads) :]
                    ),
                    file=sys.stderr,
                    flush=True,
                )
            del X_all, y_all
    finally:
        fastsgd.set_num_threads(prev_threads)
    return rows


# --- one epoch of fit -----------------------------------------------------------------------


def run_fit(args: argparse.Namespace, grid: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in grid:
        X, y = make_line(n, dtype=np.float32)
        for t in args.threads:
            opts = {
                "w0": W0,
                "epochs": 1,
                "batch_size": BATCH_SIZE,
                "learning_rate": LR,
                "n_threads": t,
            }
            with threadpool_limits(limits=t):  # NumPy's BLAS and every OpenMP runtime
                fns = {
                    "fastsgd": partial(fastsgd.fit, X, y, **opts),
                    "numpy": partial(reference.fit, X, y, **opts),
                }
                times, calls = measure_per_call(fns, args.repeats, args.warmup)
                loss = {k: float(f().loss_history[-1]) for k, f in fns.items()}
            steps = -(-n // BATCH_SIZE)
            rows.append(
                {
                    "n": n,
                    "d": 2,
                    "threads": t,
                    "x_bytes": X.nbytes,
                    "batch_size": BATCH_SIZE,
                    "steps": steps,
                    **times,
                    "calls_per_sample": calls,
                    "fastsgd_us_per_step": 1e6 * times["fastsgd"].median / steps,
                    "numpy_us_per_step": 1e6 * times["numpy"].median / steps,
                    "speedup_vs_numpy": times["numpy"].median / times["fastsgd"].median,
                    "final_loss_fastsgd": loss["fastsgd"],
                    "final_loss_numpy": loss["numpy"],
                    "loss_rel_diff": abs(loss["numpy"] / loss["fastsgd"] - 1),
                }
            )
        print(
            f"  fit n={n:_}: "
            + ", ".join(
                f"{r['threads']} thr fastsgd {fmt_time(r['fastsgd'].median)} NumPy "
                f"{fmt_time(r['numpy'].median)}"
                for r in rows[-len(args.threads) :]
            ),
            file=sys.stderr,
            flush=True,
        )
    return rows


# --- output ---------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    """Three significant figures in µs, ms or s."""
    for unit, scale in (("µs", 1e-6), ("ms", 1e-3)):
        if seconds < 1000 * scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def render(machine: dict[str, Any], result: dict[str, Any], args: argparse.Namespace) -> str:
    f = fmt_time
    kernel_sections = []
    for d in result["kernel_grid"]:
        rows = [r for r in result["kernel_rows"] if r["d"] == d]
        table = _common.markdown_table(
            [
                "n",
                "MB of X",
                "threads",
                "fastsgd (IQR)",
                "NumPy",
                "stream",
                "fastsgd GB/s",
                "NumPy GB/s",
                "stream GB/s",
                "speedup vs NumPy",
                "% of stream",
                "rel. diff",
            ],
            [
                [
                    f"{r['n']:_}",
                    f"{r['x_bytes'] / 1e6:.3g}",
                    r["threads"],
                    f"{f(r['fastsgd'].median)} ({f(r['fastsgd'].iqr)})",
                    f(r["numpy"].median),
                    f(r["stream"].median),
                    f"{r['fastsgd_gbs']:.1f}",
                    f"{r['numpy_gbs']:.1f}",
                    f"{r['stream_gbs']:.1f}",
                    _common.fmt_ratio(r["speedup_vs_numpy"]),
                    f"{r['pct_of_stream']:.0f}%",
                    f"{r['rel_diff']:.1e}",
                ]
                for r in rows
            ],
        )
        kernel_sections.append(f"## mse_grad, float32 X with d = {d}\n\n{table}\n")
    fit_table = _common.markdown_table(
        [
            "n",
            "threads",
            "steps",
            "fastsgd.fit (IQR)",
            "NumPy loop",
            "fastsgd µs/step",
            "NumPy µs/step",
            "speedup vs NumPy",
            "final loss gap",
        ],
        [
            [
                f"{r['n']:_}",
                r["threads"],
                f"{r['steps']:_}",
                f"{f(r['fastsgd'].median)} ({f(r['fastsgd'].iqr)})",
                f(r["numpy"].median),
                f"{r['fastsgd_us_per_step']:.3g}",
                f"{r['numpy_us_per_step']:.3g}",
                _common.fmt_ratio(r["speedup_vs_numpy"]),
                f"{r['loss_rel_diff']:.1e}",
            ]
            for r in result["fit_rows"]
        ],
    )
    quick_note = (
        "\n**Quick run (--quick): small grids, mostly cache-resident: a smoke test, not a "
        "measurement.**\n"
        if args.quick
        else ""
    )
    threads = ", ".join(str(t) for t in args.threads)
    return f"""# Time vs n: fastsgd vs NumPy vs a streaming read, and one epoch of fit
{quick_note}
{_common.machine_markdown(machine)}
- Runs: threads {threads}, the same for every contender (fastsgd.set_num_threads or
  fit(n_threads=T), threadpoolctl's limit for NumPy's BLAS, `stream_read(X, threads=T)`);
  calls interleaved round by round; {args.warmup} warm-up call(s), then {args.repeats} timed
  samples per contender and size, each repeating the call until it lasts at least
  {MIN_SAMPLE_S * 1e3:g} ms (on the same X: small X stay in the caches); times are medians per
  call, IQR = interquartile range.
- Kernels: float32 X ~ N(0, 1), y = X @ w_true + noise, w near w_true; the smaller X are
  prefixes of the largest. fastsgd = `fastsgd.mse_grad(X, y, w)` (one fused pass);
  NumPy = `fastsgd.reference.mse_grad(X, y, w)` (`X @ w`, then `X.T @ r`); stream =
  `fastsgd._core.stream_read(X, threads=T)` (Σ X in C++/OpenMP: a plain read of X, the
  bandwidth limit of a one-pass kernel). GB/s = bytes of X / median time (y adds 1/d more to
  both kernels, not counted); speedup vs NumPy = NumPy time / fastsgd time; % of stream =
  stream time / fastsgd time, same threads; rel. diff = larger of the loss's and gradient's
  relative difference to NumPy's.

{chr(10).join(kernel_sections)}
## One epoch of SGD on the lesson's line, batch {BATCH_SIZE}

`make_line(n, dtype=float32)`: X = [x, 1], x ~ U[-1, 1], y = 3x + 2 + U[0, 1) noise.
`fastsgd.fit(X, y, w0=(-1, 1), epochs=1, batch_size={BATCH_SIZE}, learning_rate={LR},
n_threads=T)` vs `fastsgd.reference.fit(...)` with the same arguments (the same trainer and
shuffle, its batch loop in Python + NumPy). Each call includes the full-data loss before and
after the epoch. µs/step = time / (n / batch); final loss gap = |NumPy's final loss /
fastsgd's − 1|.

{fit_table}
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kernel_grid = QUICK_KERNEL_GRID if args.quick else FULL_KERNEL_GRID
    fit_grid = QUICK_FIT_GRID if args.quick else FULL_FIT_GRID
    machine = _common.machine_info(
        threads=args.threads,
        kernel_grid=kernel_grid,
        fit_grid=fit_grid,
        dtype="float32",
        repeats=args.repeats,
        warmup=args.warmup,
        min_sample_s=MIN_SAMPLE_S,
        quick=args.quick,
    )
    _common.announce("bench_scaling", machine, f"NumPy BLAS {machine['numpy_blas']}")
    load = _common.OtherLoad()
    result = {
        "kernel_grid": kernel_grid,
        "fit_grid": fit_grid,
        "batch_size": BATCH_SIZE,
        "learning_rate": LR,
        "w0": W0,
        "contenders": CONTENDERS,
        "kernel_rows": run_kernels(args, kernel_grid),
        "fit_rows": run_fit(args, fit_grid),
    }
    machine["during_run"] = load.stop()
    md = render(machine, result, args)
    print(md)
    if not args.no_write:
        _common.save_results(
            "scaling",
            args.quick,
            md,
            machine,
            ratios={
                "speedup_vs_numpy": "NumPy median seconds per call / fastsgd's (same run)",
                "pct_of_stream": "100 * stream_read median / fastsgd.mse_grad median, same threads",
                "gbs": "bytes of X / median seconds per call",
                "loss_rel_diff": "|reference.fit final loss / fastsgd.fit final loss - 1|",
            },
            **result,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
