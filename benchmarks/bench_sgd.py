"""One epoch of mini-batch SGD on the lesson's data: fastsgd.fit against the others.

The data is the lesson's line with n = 1_000_000 rows (``make_line``: x uniform
in [-1, 1], a column of ones, y = 3x + 2 + U[0, 1) noise), float32. For batch
sizes 64 and 256 and learning rate 0.1, side by side in one run (calls
interleaved round by round), each contender runs one epoch from a = (-1, 1):

- fastsgd: ``fastsgd.fit(X, y, w0=(-1, 1), epochs=1, batch_size=B, learning_rate=0.1)``
  (the whole batch loop in C++);
- NumPy: ``fastsgd.reference.fit(...)`` with the same arguments (the same
  trainer with its batch loop in Python + NumPy);
- scikit-learn: ``SGDRegressor(max_iter=1, tol=None, fit_intercept=False,
  learning_rate="constant", eta0=0.005, shuffle=True, penalty=None)``, one
  epoch of per-sample SGD (the batch size does not apply);
- PyTorch (when torch is importable): the lesson's loop over shuffled batches
  from ``torch.randperm``: ``loss = ((xb @ a - yb)**2).mean(); loss.backward();
  a.sub_(lr * a.grad); a.grad.zero_()``.

It prints and writes ``results/sgd.md`` and ``results/sgd.json``. The README
beside this file says what every column means.
"""

from __future__ import annotations

import _common

_common.reexec_without_openblas_overrides()  # before NumPy loads OpenBLAS

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDRegressor
from threadpoolctl import threadpool_limits

import fastsgd
from fastsgd import reference
from fastsgd.datasets import make_line

try:
    import torch
except ImportError:  # torch is optional: no extra installs it (its default wheel is huge)
    torch = None  # type: ignore[assignment]

FULL_N, QUICK_N = 1_000_000, 50_000
BATCH_SIZES = (64, 256)
LR = 0.1
W0 = (-1.0, 1.0)
SKLEARN_ETA0 = 0.005  # per-sample steps need a smaller rate than lr = 0.1 on batches
TARGET_BATCH = 64
# issue 3, at batch 64: fastsgd's speedup over each, and the same final loss within 1 %
SPEEDUP_TARGETS = {"numpy": 12.0, "sklearn": 8.0, "torch": 150.0}
LOSS_TOLERANCE = 0.01
NAMES = {
    "fastsgd": "fastsgd.fit",
    "numpy": "NumPy loop (reference.fit)",
    "sklearn": "scikit-learn SGDRegressor",
    "torch": "PyTorch loop",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = _common.base_parser(
        __doc__,
        quick_help=f"n = {QUICK_N:_} rows (a smoke test)",
        repeats=(5, "timed epochs per contender (default 5; the median is reported)"),
        warmup=(1, "untimed epochs first (default 1)"),
        threads=([1, 2], "thread counts, the same for every contender (default 1 2)"),
        own_options=lambda p: p.add_argument(
            "--no-torch", action="store_true", help="leave PyTorch out even if present"
        ),
    ).parse_checked(argv)
    args.threads = sorted(set(args.threads))
    return args


def full_loss(X64: Any, y64: Any, w: Any) -> float:
    """Mean squared error over all rows, in float64, the same formula for every contender."""
    r = X64 @ np.asarray(w, dtype=np.float64).reshape(-1) - y64
    return float(r @ r / r.size)


def contenders(
    X: Any, y: Any, B: int, threads: int, use_torch: bool
) -> dict[str, Callable[[], Any]]:
    """name -> a function that runs one epoch from W0 and returns the fitted weights."""

    def run_fastsgd() -> Any:
        return fastsgd.fit(
            X, y, w0=W0, epochs=1, batch_size=B, learning_rate=LR, n_threads=threads
        ).w

    def run_numpy() -> Any:
        return reference.fit(
            X, y, w0=W0, epochs=1, batch_size=B, learning_rate=LR, n_threads=threads
        ).w

    def run_sklearn() -> Any:
        est = SGDRegressor(
            max_iter=1,
            tol=None,
            fit_intercept=False,
            learning_rate="constant",
            eta0=SKLEARN_ETA0,
            shuffle=True,
            penalty=None,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=1 is on purpose
            est.fit(X, y, coef_init=np.asarray(W0))
        return est.coef_

    out: dict[str, Callable[[], Any]] = {
        "fastsgd": run_fastsgd,
        "numpy": run_numpy,
        "sklearn": run_sklearn,
    }
    if use_torch and torch is not None:
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)  # no copies
        n = X.shape[0]

        def run_torch() -> Any:
            # the lesson's loop, over shuffled batches
            torch.manual_seed(0)
            a = torch.tensor(W0, dtype=Xt.dtype, requires_grad=True)
            perm = torch.randperm(n)
            for i in range(0, n, B):
                idx = perm[i : i + B]
                xb, yb = Xt[idx], yt[idx]
                loss = ((xb @ a - yb) ** 2).mean()
                loss.backward()
                with torch.no_grad():
                    a.sub_(LR * a.grad)
                    a.grad.zero_()
            return a.detach().numpy().copy()

        out["torch"] = run_torch
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    n = QUICK_N if args.quick else FULL_N
    X, y = make_line(n, dtype=np.float32)
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    w_ls = np.linalg.lstsq(X64, y64, rcond=None)[0]
    use_torch = torch is not None and not args.no_torch
    rows: list[dict[str, Any]] = []
    torch_threads = torch.get_num_threads() if torch is not None else None
    try:
        for t in args.threads:
            if torch is not None:
                torch.set_num_threads(t)
            with threadpool_limits(limits=t):  # NumPy's BLAS and every OpenMP runtime
                for B in BATCH_SIZES:
                    fns = contenders(X, y, B, t, use_torch)
                    times = _common.measure_interleaved(
                        fns, repeats=args.repeats, warmup=args.warmup
                    )
                    losses = {k: full_loss(X64, y64, f()) for k, f in fns.items()}
                    t_fast, l_fast = times["fastsgd"], losses["fastsgd"]
                    for k in fns:
                        rows.append(
                            {
                                "threads": t,
                                "batch_size": B if k != "sklearn" else 1,
                                "batch_group": B,
                                "contender": k,
                                "time": times[k],
                                "steps": -(-n // (B if k != "sklearn" else 1)),
                                "final_loss": losses[k],
                                "loss_vs_fastsgd": losses[k] / l_fast - 1.0,
                                "fastsgd_speedup": times[k].median / t_fast.median,
                                "fastsgd_speedup_best": times[k].min / t_fast.min,
                            }
                        )
                    print(
                        f"  threads={t} batch={B}: "
                        + ", ".join(f"{k} {_common.fmt_ms(times[k].median)} ms" for k in fns),
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        if torch is not None and torch_threads is not None:
            torch.set_num_threads(torch_threads)
    return {
        "n": n,
        "d": 2,
        "dtype": "float32",
        "learning_rate": LR,
        "w0": W0,
        "sklearn_eta0": SKLEARN_ETA0,
        "least_squares_loss": full_loss(X64, y64, w_ls),
        "least_squares_w": w_ls,
        "torch_used": use_torch,
        "rows": rows,
    }


def targets(result: dict[str, Any]) -> list[_common.Target]:
    out = []
    for r in result["rows"]:
        if r["batch_group"] != TARGET_BATCH or r["contender"] == "fastsgd":
            continue
        k, t = r["contender"], r["threads"]
        out.append(
            _common.Target(
                f"batch {TARGET_BATCH}, {t} thread(s): fastsgd vs {NAMES[k]} speedup",
                r["fastsgd_speedup"],
                SPEEDUP_TARGETS[k],
            )
        )
        out.append(
            _common.Target(
                f"batch {TARGET_BATCH}, {t} thread(s): |final loss gap| {NAMES[k]} vs fastsgd",
                100 * abs(r["loss_vs_fastsgd"]),
                100 * LOSS_TOLERANCE,
                "%",
                at_most=True,
            )
        )
    return out


def render(machine: dict[str, Any], result: dict[str, Any], args: argparse.Namespace) -> str:
    f = _common.fmt_ms
    rows = result["rows"]
    table = _common.markdown_table(
        [
            "threads",
            "batch",
            "contender",
            "ms per epoch (IQR)",
            "µs per step",
            "final loss",
            "loss vs fastsgd",
            "fastsgd speedup",
            "best-of-N speedup",
        ],
        [
            [
                r["threads"],
                r["batch_group"],
                NAMES[r["contender"]] + (" (per sample)" if r["contender"] == "sklearn" else ""),
                f"{f(r['time'].median)} ({f(r['time'].iqr)})",
                f"{1e6 * r['time'].median / r['steps']:.3g}",
                f"{r['final_loss']:.6f}",
                f"{100 * r['loss_vs_fastsgd']:+.2f}%",
                "1 (baseline)"
                if r["contender"] == "fastsgd"
                else _common.fmt_ratio(r["fastsgd_speedup"]),
                "" if r["contender"] == "fastsgd" else _common.fmt_ratio(r["fastsgd_speedup_best"]),
            ]
            for r in rows
        ],
        align="rrlrrrrrr",
    )
    tg = targets(result)
    quick_note = (
        f"\n**Quick run (--quick): n = {result['n']:_}. The targets are for n = {FULL_N:_}; "
        "the verdicts below are only a smoke test.**\n"
        if args.quick
        else ""
    )
    torch_note = (
        ""
        if result["torch_used"]
        else (
            "\nPyTorch was not raced (not importable, or --no-torch). Its CPU-only wheel "
            "(pip, from PyTorch's CPU index) adds it.\n"
        )
    )
    return f"""# One epoch of SGD on the lesson's line: fastsgd.fit vs NumPy, scikit-learn, PyTorch
{quick_note}
{_common.machine_markdown(machine)}
- Data: `make_line(n={result["n"]:_}, dtype=float32)`: X = [x, 1] with x ~ U[-1, 1],
  y = 3x + 2 + U[0, 1) noise; one epoch from a = (-1, 1); lr {LR} for the mini-batch
  contenders, eta0 {SKLEARN_ETA0} for per-sample scikit-learn. Least-squares loss (the best
  possible): {result["least_squares_loss"]:.6f}.
- Runs: threads {", ".join(str(t) for t in args.threads)}, the same for every contender
  (fastsgd n_threads, threadpoolctl for BLAS/OpenMP, torch.set_num_threads); calls
  interleaved round by round, {args.warmup} warm-up + {args.repeats} timed epochs each;
  times are medians; IQR = interquartile range.
{torch_note}
{table}

What the columns are:
- ms per epoch: one call that trains one epoch from a = (-1, 1) and returns the weights
  (for fastsgd.fit and reference.fit this includes their full-data loss before and after the
  epoch; scikit-learn's includes its float32 → float64 copy of X).
- µs per step: ms per epoch / SGD steps in it (n / batch; n for per-sample scikit-learn).
- final loss: mean squared error over all rows of the returned weights, in float64 (the
  same formula for all). loss vs fastsgd = final loss / fastsgd's − 1.
- fastsgd speedup = contender's median time / fastsgd's median time, same threads, same run;
  best-of-N speedup = the same from each one's fastest epoch (a cross-check less sensitive to
  other processes on the machine; the targets use the medians).
- scikit-learn is per-sample SGD (batch size 1, its own shuffle); it is timed again in
  each batch group so that every ratio comes from the same rounds.

## Targets (issue 3, at batch {TARGET_BATCH})

{chr(10).join(t.line() for t in tg)}
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n = QUICK_N if args.quick else FULL_N
    machine = _common.machine_info(
        threads=args.threads,
        n=n,
        batch_sizes=list(BATCH_SIZES),
        repeats=args.repeats,
        warmup=args.warmup,
        quick=args.quick,
    )
    used = torch is not None and not args.no_torch
    _common.announce("bench_sgd", machine, f"torch {'used' if used else 'not used'}")
    load = _common.OtherLoad()
    result = run(args)
    machine["during_run"] = load.stop()
    md = render(machine, result, args)
    print(md)
    if not args.no_write:
        _common.save_results(
            "sgd",
            args.quick,
            md,
            machine,
            ratios={
                "fastsgd_speedup": "contender median seconds per epoch / fastsgd's (same run)",
                "fastsgd_speedup_best": "contender's fastest epoch / fastsgd's fastest epoch",
                "loss_vs_fastsgd": "final full-data loss / fastsgd's - 1",
            },
            **result,
            targets=targets(result),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
