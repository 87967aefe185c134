"""fastsgd.mse_grad against the NumPy reference and a plain streaming read of X.

For float32 X of shapes (10_000_000, 2), (1_000_000, 100) and (100_000, 1000),
with 1 and 2 threads, side by side in one run (calls interleaved round by
round), this measures

- ``fastsgd.mse_grad(X, y, w)``: loss and gradient in one fused pass over X;
- ``fastsgd.reference.mse_grad(X, y, w)``: NumPy, two BLAS passes (X @ w, Xᵀ r);
- a streaming read of X: the fastest of several ways to read every byte of X
  once with almost no arithmetic (the memory-bandwidth limit of any one-pass
  kernel), chosen per row and named in the table.

It prints and writes ``results/kernels.md`` and ``results/kernels.json``.
Run ``python benchmarks/bench_kernels.py --help`` for the options; the README
beside this file says what every column means.
"""

from __future__ import annotations

import _common

_common.reexec_without_openblas_overrides()  # before NumPy loads OpenBLAS

import argparse
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import fastsgd
from fastsgd import reference
from fastsgd._ext import _core

FULL_SHAPES = [(10_000_000, 2), (1_000_000, 100), (100_000, 1000)]
QUICK_SHAPES = [(200_000, 2), (20_000, 100), (2_000, 1000)]
# issue 2: fastsgd / NumPy speedup per d, and % of the single-thread streaming read at d=100
SPEEDUP_TARGETS = {2: 5.0, 100: 2.5, 1000: 1.6}
STREAM_TARGET_D, STREAM_TARGET_PCT = 100, 85.0
GEMV_COLS = 1024  # columns of the matrix view that the BLAS gemv candidate reads


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = _common.base_parser(
        __doc__,
        quick_help="small shapes (cache-resident: a smoke test, not a measurement)",
        repeats=(10, "timed calls per contender (default 10; the median is reported)"),
        warmup=(2, "untimed calls first (default 2)"),
        threads=([1, 2], "thread counts (default 1 2; 1 is always run: it is the reference read)"),
    ).parse_checked(argv)
    args.threads = sorted(set(args.threads) | {1})
    return args


def make_data(n: int, d: int, seed: int = 0) -> tuple[Any, Any, Any]:
    """Gaussian float32 X, y = X @ w_true + noise, and a w near (not at) the truth."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    w_true = rng.standard_normal(d).astype(np.float32)
    y = X @ w_true + rng.standard_normal(n, dtype=np.float32)
    w = w_true + np.float32(0.1) * rng.standard_normal(d, dtype=np.float32)
    return X, y, w


def stream_candidates(
    X: Any, threads: int, pool: ThreadPoolExecutor
) -> dict[str, Callable[[], object]]:
    """Ways to read every byte of X once with next to no arithmetic.

    Each reads X in place (no copy). NumPy's reductions run on one thread;
    with more threads X is split into that many contiguous parts reduced
    concurrently (NumPy releases the GIL in numeric reductions). The BLAS
    candidate is threaded by BLAS itself (limited by threadpoolctl).
    """
    flat = X.reshape(-1)  # a view: X is C-contiguous
    bits = flat.view(np.uint32 if X.dtype == np.float32 else np.uint64)
    m = flat.size // GEMV_COLS * GEMV_COLS
    head, tail = flat[:m].reshape(-1, GEMV_COLS), flat[m:]
    ones = np.ones(GEMV_COLS, dtype=X.dtype)

    def gemv() -> object:
        return (head @ ones, tail.sum())

    cands: dict[str, Callable[[], object]] = {
        "np.maximum.reduce(X)": lambda: np.maximum.reduce(flat),
        "np.bitwise_or.reduce(X as uint)": lambda: np.bitwise_or.reduce(bits),
        "X.sum()": lambda: flat.sum(),
        f"BLAS gemv X.reshape(-1, {GEMV_COLS}) @ 1": gemv,
    }
    if threads > 1:
        parts = np.array_split(flat, threads)
        bit_parts = np.array_split(bits, threads)
        cands[f"np.maximum.reduce, {threads} Python threads"] = lambda: list(
            pool.map(np.maximum.reduce, parts)
        )
        cands[f"np.bitwise_or.reduce, {threads} Python threads"] = lambda: list(
            pool.map(np.bitwise_or.reduce, bit_parts)
        )
    core_read = _core_stream_read(threads)
    if core_read is not None:  # the core's own streaming read (C++, OpenMP), when it has one
        cands["fastsgd._core.stream_read(X)"] = partial(core_read, X)
    return cands


def _core_stream_read(threads: int) -> Callable[[Any], object] | None:
    """``_core.stream_read`` bound to a thread count, if the core has it (with or without a
    ``threads`` argument)."""
    fn = getattr(_core, "stream_read", None)
    if fn is None:
        return None
    probe = np.zeros((1, 1), dtype=np.float32)
    try:
        fn(probe, threads=threads)
    except TypeError:
        return fn  # no threads argument: it follows fastsgd.set_num_threads
    return partial(fn, threads=threads)


def check_agreement(X: Any, y: Any, w: Any) -> dict[str, float]:
    """How far fastsgd's answer is from NumPy's (a benchmark of a wrong answer means nothing)."""
    loss_f, g_f, _ = fastsgd.mse_grad(X, y, w)
    loss_r, g_r, _ = reference.mse_grad(X, y, w)
    g_f64, g_r64 = np.asarray(g_f, np.float64), np.asarray(g_r, np.float64)
    return {
        "loss_rel_diff": abs(loss_f - loss_r) / abs(loss_r),
        "grad_rel_diff": float(np.linalg.norm(g_f64 - g_r64) / np.linalg.norm(g_r64)),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    rows: list[dict[str, Any]] = []
    pool = ThreadPoolExecutor(max(args.threads))
    prev_threads = fastsgd.get_num_threads()
    try:
        for n, d in shapes:
            X, y, w = make_data(n, d)
            agree = check_agreement(X, y, w)
            stream1: float | None = None  # the single-thread read: median, and best call
            stream1_min: float | None = None
            for t in args.threads:
                fastsgd.set_num_threads(t)
                with threadpool_limits(limits=t, user_api="blas"):
                    cands = stream_candidates(X, t, pool)
                    contenders: dict[str, Callable[[], object]] = {
                        "fastsgd": partial(fastsgd.mse_grad, X, y, w),
                        "numpy": partial(reference.mse_grad, X, y, w),
                        **{"stream: " + k: f for k, f in cands.items()},
                    }
                    times = _common.measure_interleaved(
                        contenders, repeats=args.repeats, warmup=args.warmup
                    )
                stream_times = {
                    k[len("stream: ") :]: v for k, v in times.items() if k.startswith("stream: ")
                }
                best = min(stream_times, key=lambda k: stream_times[k].median)
                t_fast, t_np, t_stream = times["fastsgd"], times["numpy"], stream_times[best]
                if t == 1:
                    stream1 = t_stream.median
                    stream1_min = min(v.min for v in stream_times.values())
                assert stream1 is not None
                assert stream1_min is not None
                gb = X.nbytes / 1e9
                row = {
                    "n": n,
                    "d": d,
                    "threads": t,
                    "x_bytes": X.nbytes,
                    "y_bytes": y.nbytes,
                    "fastsgd": t_fast,
                    "numpy": t_np,
                    "stream": t_stream,
                    "stream_read": best,
                    "fastsgd_gbs": gb / t_fast.median,
                    "numpy_gbs": gb / t_np.median,
                    "stream_gbs": gb / t_stream.median,
                    "stream_1thread_gbs": gb / stream1,
                    "speedup_vs_numpy": t_np.median / t_fast.median,
                    "pct_of_1thread_stream": 100.0 * stream1 / t_fast.median,
                    "speedup_vs_numpy_best": t_np.min / t_fast.min,
                    "pct_of_1thread_stream_best": 100.0 * stream1_min / t_fast.min,
                    "stream_candidates_gbs": {k: gb / v.median for k, v in stream_times.items()},
                    "stream_candidates": stream_times,
                    **agree,
                }
                rows.append(row)
                print(
                    f"  X ({n}, {d}) threads={t}: fastsgd {_common.fmt_ms(t_fast.median)} ms, "
                    f"NumPy {_common.fmt_ms(t_np.median)} ms, stream {_common.fmt_ms(t_stream.median)} ms"
                    f" ({best})",
                    file=sys.stderr,
                    flush=True,
                )
            del X, y
    finally:
        fastsgd.set_num_threads(prev_threads)
        pool.shutdown()
    return {"rows": rows}


def targets(rows: list[dict[str, Any]]) -> list[_common.Target]:
    out = []
    for r in rows:
        goal = SPEEDUP_TARGETS.get(r["d"])
        if goal is not None:
            out.append(
                _common.Target(
                    f"d={r['d']}, {r['threads']} thread(s): fastsgd / NumPy speedup",
                    r["speedup_vs_numpy"],
                    goal,
                )
            )
        if r["d"] == STREAM_TARGET_D:
            out.append(
                _common.Target(
                    f"d={r['d']}, {r['threads']} thread(s): % of the single-thread streaming read",
                    r["pct_of_1thread_stream"],
                    STREAM_TARGET_PCT,
                    "%",
                )
            )
    return out


def render(machine: dict[str, Any], result: dict[str, Any], args: argparse.Namespace) -> str:
    rows = result["rows"]
    f = _common.fmt_ms
    table = _common.markdown_table(
        [
            "X (float32)",
            "MB",
            "threads",
            "fastsgd ms (IQR)",
            "NumPy ms",
            "stream ms",
            "fastsgd GB/s",
            "NumPy GB/s",
            "stream GB/s",
            "speedup vs NumPy",
            "% of 1-thread stream",
            "best-of-N speedup",
            "best-of-N % of stream",
            "fastsgd vs NumPy rel. diff",
        ],
        [
            [
                f"({r['n']:_}, {r['d']})",
                f"{r['x_bytes'] / 1e6:.0f}",
                r["threads"],
                f"{f(r['fastsgd'].median)} ({f(r['fastsgd'].iqr)})",
                f(r["numpy"].median),
                f(r["stream"].median),
                f"{r['fastsgd_gbs']:.1f}",
                f"{r['numpy_gbs']:.1f}",
                f"{r['stream_gbs']:.1f}",
                _common.fmt_ratio(r["speedup_vs_numpy"]),
                f"{r['pct_of_1thread_stream']:.0f}%",
                _common.fmt_ratio(r["speedup_vs_numpy_best"]),
                f"{r['pct_of_1thread_stream_best']:.0f}%",
                f"{max(r['loss_rel_diff'], r['grad_rel_diff']):.1e}",
            ]
            for r in rows
        ],
    )
    names = list(dict.fromkeys(k for r in rows for k in r["stream_candidates_gbs"]))
    cand_table = _common.markdown_table(
        ["X (float32)", "threads", *names],
        [
            [
                f"({r['n']:_}, {r['d']})",
                r["threads"],
                *(
                    f"{r['stream_candidates_gbs'][k]:.1f}" + (" *" if k == r["stream_read"] else "")
                    if k in r["stream_candidates_gbs"]
                    else "–"
                    for k in names
                ),
            ]
            for r in rows
        ],
        align="lr" + "r" * len(names),
    )
    tg = targets(rows)
    quick_note = (
        "\n**Quick run (--quick): small, cache-resident shapes. The targets are for the full "
        "shapes; the verdicts below are only a smoke test.**\n"
        if args.quick
        else ""
    )
    blas_threads = ", ".join(str(t) for t in args.threads)
    return f"""# fastsgd.mse_grad vs NumPy vs a streaming read of X
{quick_note}
{_common.machine_markdown(machine)}
- Runs: threads {blas_threads} (fastsgd.set_num_threads for fastsgd, threadpoolctl's BLAS
  limit for NumPy); every call interleaved round by round, {args.warmup} warm-up +
  {args.repeats} timed calls each; times are medians per call; IQR = interquartile range.

{table}

What the columns are:
- fastsgd = `fastsgd.mse_grad(X, y, w)` (loss + gradient, one pass over X);
  NumPy = `fastsgd.reference.mse_grad(X, y, w)` (float32, `X @ w` then `X.T @ r`).
- GB/s = bytes of X / median time (y adds 1/d more bytes to both kernels, not counted).
- stream = the fastest streaming read of X in this row (table below, marked *), a
  plain read of every byte with no useful arithmetic: the memory-bandwidth limit of
  a one-pass kernel.
- speedup vs NumPy = NumPy time / fastsgd time (same X, same threads).
- % of 1-thread stream = single-thread stream time of the same shape in this run /
  fastsgd time (fastsgd GB/s as a share of the one-core read bandwidth).
- best-of-N: the same two ratios from each contender's fastest call instead of its
  median (the fastest single-thread read of any candidate): a cross-check that is less
  sensitive to other processes on the machine. The targets use the medians.
- rel. diff = larger of |loss − loss_ref|/loss_ref and ‖g − g_ref‖/‖g_ref‖ (NumPy sums
  in float32, fastsgd in float64).

## Streaming-read candidates (GB/s of X; * = the one used)

{cand_table}

## Targets (issue 2)

{chr(10).join(t.line() for t in tg)}
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    machine = _common.machine_info(
        threads=args.threads,
        shapes=shapes,
        dtype="float32",
        repeats=args.repeats,
        warmup=args.warmup,
        quick=args.quick,
    )
    _common.announce("bench_kernels", machine, f"NumPy BLAS {machine['numpy_blas']}")
    load = _common.OtherLoad()
    result = run(args)
    machine["during_run"] = load.stop()
    md = render(machine, result, args)
    print(md)
    if not args.no_write:
        _common.save_results(
            "kernels",
            args.quick,
            md,
            machine,
            ratios={
                "speedup_vs_numpy": "reference.mse_grad median / fastsgd.mse_grad median",
                "pct_of_1thread_stream": "100 * single-thread stream median / fastsgd median",
                "speedup_vs_numpy_best": "fastest NumPy call / fastest fastsgd call",
                "pct_of_1thread_stream_best": (
                    "100 * fastest single-thread read (any candidate) / fastest fastsgd call"
                ),
                "gbs": "bytes of X / median seconds",
            },
            **result,
            targets=targets(result["rows"]),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
