"""fastsgd's fused loss + gradient against the memory bandwidth and against plain NumPy.

For each case (a loss, the shape and dtype of X) and each thread count T, side by
side in one run (calls interleaved round by round), this measures

- ``fastsgd``: the public function, checks included: ``fastsgd.mse_grad(X, y, w)``,
  ``fastsgd.logistic_xent_grad(X, y01, w)`` or ``fastsgd.softmax_xent_grad(X, y, W)``,
  with ``fastsgd.set_num_threads(T)``;
- ``kernel``: the same sums from the binding, ``_core.loss_grad`` with targets built
  once (no Python checks): the fused kernel alone;
- ``read``: ``_core.stream_read(X, threads=T)``, a vectorised C++ read of every
  byte of X (four interleaved streams per thread, no useful arithmetic): the
  memory-bandwidth limit of any kernel that reads X once;
- ``NumPy``: what a user writes, with no validation, its BLAS limited to T threads
  (threadpoolctl): ``r = X @ w - y; g = X.T @ r`` (mse), ``z = X @ w;
  p = 1 / (1 + exp(-z)); g = X.T @ (p - y)`` (logistic), ``Z = X @ W; P = softmax(Z);
  G = X.T @ (P - onehot)`` (softmax), each with its loss and scaled by 1/n.

For the softmax cases it also reports the multiply-adds per second against the
machine's peak (``_core.fma_peak``: 12 independent chains of float32 multiply-adds
per thread on the widest vectors, timed the same way): a kernel with k classes does
2·k·d multiply-adds per row (the scores and the gradient).

It prints and writes ``results/kernels.md`` and ``results/kernels.json``. Run
``python benchmarks/bench_kernels.py --help`` for the options; the README beside
this file says what every column means.
"""

from __future__ import annotations

import _common

_common.reexec_without_openblas_overrides()  # before NumPy loads OpenBLAS

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import fastsgd
from fastsgd._ext import _core


@dataclass(frozen=True)
class Case:
    loss: str  # "mse", "logistic" or "softmax"
    n: int
    d: int
    dtype: str
    k: int = 1

    @property
    def name(self) -> str:
        k = f", k={self.k}" if self.loss == "softmax" else ""
        return f"{self.loss} ({self.n:_}, {self.d}) {self.dtype}{k}"


SHAPES = [(10_000_000, 2), (1_000_000, 100), (100_000, 1000)]
QUICK_SHAPES = [(200_000, 2), (20_000, 100), (2_000, 1000)]


def cases(quick: bool) -> list[Case]:
    out = []
    for n, d in QUICK_SHAPES if quick else SHAPES:
        for dtype in ("float32", "float64"):
            out += [Case("mse", n, d, dtype), Case("logistic", n, d, dtype)]
            if d >= 100 and (dtype == "float32" or d == 100):
                out.append(Case("softmax", n, d, dtype, 10))
    n_big = 20_000 if quick else 200_000
    out.append(Case("softmax", n_big, 100, "float32", 100))
    return out


# targets: share of the read (same threads) by loss and d, and of the multiply-add peak
READ_TARGETS = {("mse", 2): 75.0, ("logistic", 2): 75.0, ("softmax", None): 75.0}
READ_TARGET_WIDE = 85.0  # mse and logistic at d = 100 and 1000
PEAK_TARGET = 70.0  # softmax with k = 100


def read_target(c: Case) -> float | None:
    if c.loss == "softmax":
        return READ_TARGETS[("softmax", None)] if c.k <= 10 else None
    return READ_TARGET_WIDE if c.d >= 100 else READ_TARGETS.get((c.loss, c.d))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = _common.base_parser(
        __doc__,
        quick_help="small shapes (cache-resident: a smoke test, not a measurement)",
        repeats=(9, "timed calls per contender (default 9; the median is reported)"),
        warmup=(2, "untimed calls first (default 2)"),
        threads=([1, 2], "thread counts (default 1 2)"),
    ).parse_checked(argv)
    args.threads = sorted(set(args.threads))
    return args


# --- data and the contenders -----------------------------------------------------------------


def make_data(c: Case, seed: int = 0) -> dict[str, Any]:
    """Gaussian X; mse: y = X @ w_true + noise and w near w_true; logistic: labels from
    σ(X @ w_true) and w near w_true; softmax: labels from argmax(X @ W_true + Gumbel)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(c.dtype)
    X = rng.standard_normal((c.n, c.d), dtype=np.float32).astype(dt, copy=False)
    scale = 1.0 / np.sqrt(c.d)
    if c.loss == "softmax":
        W_true = rng.standard_normal((c.d, c.k)) * scale
        y = np.argmax(X @ W_true.astype(dt) + rng.gumbel(size=(c.n, c.k)).astype(dt), axis=1)
        W = (W_true + 0.1 * scale * rng.standard_normal((c.d, c.k))).astype(dt)
        return {"X": X, "y": y.astype(np.int64), "w": W}
    w_true = (rng.standard_normal(c.d) * scale).astype(dt)
    w = w_true + (0.1 * scale * rng.standard_normal(c.d)).astype(dt)
    z = X @ w_true
    if c.loss == "mse":
        y = z + rng.standard_normal(c.n).astype(dt)
    else:
        y = (rng.random(c.n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return {"X": X, "y": y, "w": w}


def fastsgd_call(c: Case, data: dict[str, Any]) -> Callable[[], Any]:
    fn = {
        "mse": fastsgd.mse_grad,
        "logistic": fastsgd.logistic_xent_grad,
        "softmax": fastsgd.softmax_xent_grad,
    }[c.loss]
    return partial(fn, data["X"], data["y"], data["w"])


def kernel_call(c: Case, data: dict[str, Any], threads: int) -> Callable[[], Any]:
    """_core.loss_grad with everything built once: the fused kernel without Python checks."""
    X, y, w = data["X"], data["y"], data["w"]
    W = np.ascontiguousarray(np.asarray(w, dtype=np.float64).reshape(c.d, -1).T)
    if c.loss == "mse":
        targets = _core.Targets(Y=y.reshape(-1, 1))
        spec = _core.LossSpec("squared", [1.0])
    else:
        targets = _core.Targets(labels=y)
        spec = _core.LossSpec(c.loss, [])
    return partial(_core.loss_grad, X, targets, W, None, spec, True, None, threads)


def numpy_call(c: Case, data: dict[str, Any]) -> Callable[[], Any]:
    """The two passes over X a user writes in NumPy, no validation."""
    X, y, w = data["X"], data["y"], data["w"]
    n = X.shape[0]
    if c.loss == "mse":

        def mse() -> Any:
            r = X @ w - y
            return r @ r / n, (2.0 / n) * (X.T @ r)

        return mse
    if c.loss == "logistic":
        yf = y.astype(X.dtype)

        def logistic() -> Any:
            z = X @ w
            p = 1.0 / (1.0 + np.exp(-z))
            loss = np.mean(np.logaddexp(0.0, z) - yf * z)
            return loss, X.T @ (p - yf) / n

        return logistic
    rows = np.arange(n)

    def softmax() -> Any:
        Z = X @ w
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(P[rows, y]))
        P[rows, y] -= 1.0  # P - onehot(y)
        return loss, X.T @ P / n

    return softmax


def agreement(c: Case, data: dict[str, Any]) -> float:
    """The largest relative difference of fastsgd's loss and gradient from plain NumPy's."""
    got = fastsgd_call(c, data)()
    with np.errstate(over="ignore"):
        want = numpy_call(c, data)()
    g1 = np.asarray(got[1], np.float64).ravel()
    g2 = np.asarray(want[1], np.float64).ravel()
    return max(
        abs(got[0] - float(want[0])) / abs(float(want[0])),
        float(np.linalg.norm(g1 - g2) / np.linalg.norm(g2)),
    )


def fma_peak(threads: int, repeats: int) -> float:
    """The machine's float32 multiply-adds per second on `threads` threads (median of
    `repeats` calls of about 50 ms)."""
    iterations = 20_000_000
    _core.fma_peak(iterations // 10, threads)  # warm up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        work, _lanes = _core.fma_peak(iterations, threads)
        rates.append(work / (time.perf_counter() - t0))
    return statistics.median(rates)


# --- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    prev_threads = fastsgd.get_num_threads()
    peaks = {t: fma_peak(t, 7) for t in args.threads}
    try:
        for c in cases(args.quick):
            data = make_data(c)
            diff = agreement(c, data)
            X = data["X"]
            target_bytes = data["y"].nbytes  # y or the labels, read by every contender
            for t in args.threads:
                fastsgd.set_num_threads(t)
                with threadpool_limits(limits=t, user_api="blas"), np.errstate(over="ignore"):
                    times = _common.measure_interleaved(
                        {
                            "fastsgd": fastsgd_call(c, data),
                            "kernel": kernel_call(c, data, t),
                            "read": partial(_core.stream_read, X, threads=t),
                            "numpy": numpy_call(c, data),
                        },
                        repeats=args.repeats,
                        warmup=args.warmup,
                    )
                gb = X.nbytes / 1e9
                med = {k: v.median for k, v in times.items()}
                fma = 2.0 * c.k * c.d * c.n  # multiply-adds of the scores and the gradient
                row = {
                    "case": c.name,
                    "loss": c.loss,
                    "n": c.n,
                    "d": c.d,
                    "k": c.k,
                    "dtype": c.dtype,
                    "threads": t,
                    "x_bytes": X.nbytes,
                    "target_bytes": target_bytes,
                    "timings": times,
                    **{f"{k}_gbs": gb / v for k, v in med.items()},
                    "pct_of_read": 100.0 * med["read"] / med["fastsgd"],
                    "kernel_pct_of_read": 100.0 * med["read"] / med["kernel"],
                    "speedup_vs_numpy": med["numpy"] / med["fastsgd"],
                    "fma_peak_per_s": peaks[t],
                    "pct_of_fma_peak": 100.0 * fma / med["kernel"] / peaks[t],
                    "rel_diff_vs_numpy": diff,
                }
                rows.append(row)
                print(
                    f"  {c.name}, {t} thread(s): fastsgd {row['fastsgd_gbs']:.1f} GB/s, kernel "
                    f"{row['kernel_gbs']:.1f}, read {row['read_gbs']:.1f} "
                    f"({row['pct_of_read']:.0f}% / {row['kernel_pct_of_read']:.0f}%), NumPy "
                    f"{row['numpy_gbs']:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
            del data, X
    finally:
        fastsgd.set_num_threads(prev_threads)
    return {"rows": rows, "fma_peak_per_s": peaks}


def targets(rows: list[dict[str, Any]]) -> list[_common.Target]:
    out = []
    for r in rows:
        c = Case(r["loss"], r["n"], r["d"], r["dtype"], r["k"])
        goal = read_target(c)
        where = f"{c.name}, {r['threads']} thread(s)"
        if goal is not None:
            out.append(
                _common.Target(f"{where}: % of the read (fastsgd)", r["pct_of_read"], goal, "%")
            )
            out.append(
                _common.Target(
                    f"{where}: % of the read (kernel)", r["kernel_pct_of_read"], goal, "%"
                )
            )
        if c.loss == "softmax" and c.k > 10:
            out.append(
                _common.Target(
                    f"{where}: % of the multiply-add peak", r["pct_of_fma_peak"], PEAK_TARGET, "%"
                )
            )
    return out


def render(machine: dict[str, Any], result: dict[str, Any], args: argparse.Namespace) -> str:
    rows = result["rows"]
    f = _common.fmt_ms
    table = _common.markdown_table(
        [
            "case",
            "threads",
            "fastsgd ms (IQR)",
            "fastsgd GB/s",
            "kernel GB/s",
            "read GB/s",
            "% of read",
            "kernel % of read",
            "NumPy GB/s",
            "vs NumPy",
            "bytes / X",
            "% of FMA peak",
            "rel. diff",
        ],
        [
            [
                r["case"],
                r["threads"],
                f"{f(r['timings']['fastsgd'].median)} ({f(r['timings']['fastsgd'].iqr)})",
                f"{r['fastsgd_gbs']:.1f}",
                f"{r['kernel_gbs']:.1f}",
                f"{r['read_gbs']:.1f}",
                f"{r['pct_of_read']:.0f}%",
                f"{r['kernel_pct_of_read']:.0f}%",
                f"{r['numpy_gbs']:.1f}",
                _common.fmt_ratio(r["speedup_vs_numpy"]),
                f"{1 + r['target_bytes'] / r['x_bytes']:.2f}",
                f"{r['pct_of_fma_peak']:.0f}%" if r["loss"] == "softmax" else "–",
                f"{r['rel_diff_vs_numpy']:.1e}",
            ]
            for r in rows
        ],
        align="lr" + "r" * 11,
    )
    peaks = ", ".join(
        f"{t} thread(s) {p / 1e9:.1f} G/s" for t, p in result["fma_peak_per_s"].items()
    )
    quick_note = (
        "\n**Quick run (--quick): small, cache-resident shapes. The targets are for the full "
        "shapes; the verdicts below are only a smoke test.**\n"
        if args.quick
        else ""
    )
    shapes = ", ".join(f"({n:_}, {d})" for n, d in (QUICK_SHAPES if args.quick else SHAPES))
    return f"""# Fused loss + gradient vs the memory bandwidth and plain NumPy
{quick_note}
{_common.machine_markdown(machine)}
- Sizes: X of {shapes} in float32 and float64 (mse, logistic; softmax with k = 10 at
  d >= 100), and softmax with k = 100 on ({rows[-1]["n"]:_}, 100) float32; threads
  {", ".join(str(t) for t in args.threads)} (fastsgd.set_num_threads for fastsgd, the
  `threads` argument for the kernel and the read, threadpoolctl's BLAS limit for NumPy)
- Every call interleaved round by round: {args.warmup} warm-up + {args.repeats} timed calls
  each; times are medians per call; IQR = interquartile range
- The machine's float32 multiply-add peak (`_core.fma_peak`): {peaks}

{table}

What the columns are:
- fastsgd = the public function (`fastsgd.mse_grad`, `fastsgd.logistic_xent_grad`,
  `fastsgd.softmax_xent_grad`), its checks of the arguments included; kernel =
  `_core.loss_grad` with the targets built once: the fused kernel alone.
- read = `_core.stream_read(X, threads=T)`: every byte of X read once in C++ with no
  useful arithmetic, four interleaved streams per thread: the memory-bandwidth limit of a
  kernel that reads X once, measured in the same rounds with the same threads.
- GB/s = bytes of X / median time. % of read = read time / fastsgd (or kernel) time.
- NumPy = the plain two-pass code a user writes (module docstring), no validation, BLAS
  limited to the same threads; vs NumPy = NumPy time / fastsgd time.
- bytes / X = (bytes of X + bytes of y or the labels) / bytes of X: what each contender
  must read besides X (float y, or int64 labels: at d = 2 they are as large as X or half
  of it), not counted in GB/s, so a kernel that reads at the read's speed shows
  1 / (bytes / X) of it.
- % of FMA peak (softmax) = 2·k·d·n multiply-adds / kernel time / the machine's peak at
  the same threads.
- rel. diff = the larger of the loss's and the gradient's relative difference to plain
  NumPy's (NumPy sums float32 in float32, fastsgd in float64).

## Targets

{chr(10).join(t.line() for t in targets(rows))}
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = _common.machine_info(
        threads=args.threads,
        cases=[c.name for c in cases(args.quick)],
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
                "pct_of_read": "100 * stream_read median / fastsgd median (same threads)",
                "kernel_pct_of_read": "100 * stream_read median / _core.loss_grad median",
                "speedup_vs_numpy": "plain NumPy median / fastsgd median",
                "pct_of_fma_peak": "100 * 2·k·d·n / kernel median / fma peak per second",
                "gbs": "bytes of X / median seconds",
            },
            **result,
            targets=targets(result["rows"]),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
