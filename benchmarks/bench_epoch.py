"""One SGD epoch on wide rows against a read of X: how close fit's epoch comes to the memory.

For X of (1_000_000, 100) and (100_000, 1000) float32 (Gaussian, y = X @ w_true +
noise, the squared loss), batch sizes 64 and 256 and each thread count T, side by
side in one run (calls interleaved round by round):

- ``fit``: ``fastsgd.fit(X, y, epochs=E, batch_size=B, learning_rate=0.01,
  n_threads=T)``, everything else as fit runs it by default (shuffled rows, the
  loss recorded progressively), for E = 1 and E = 1 + ``--extra-epochs``; the cost of
  one epoch is the difference of the two medians over the extra epochs, so the
  checks of the arguments and the model's set-up (paid once a fit) are left out; the
  same with ``loss_record="exact"`` and with ``shuffle=False`` (rows in order);
- ``read``: ``_core.stream_read(X, threads=T)``, every byte of X read once in C++
  (the memory-bandwidth limit of a pass over X);
- ``gather``: ``_core.gather_read(X, order, threads=T)``, every row of X read once in a
  shuffled order (``_core.permutation``), eight rows at a time with their vectors
  interleaved (as the fused kernels read a batch), each row's cache lines asked for 16 rows
  ahead: the memory limit of a pass over shuffled rows, which is what a shuffled epoch reads.

share = read time / epoch time: the epoch's speed as a share of the read's; the same
against the gather says how much of the gap the order of the rows alone explains. It also
reports the epoch with ``loss_record="exact"`` (the full-data loss after the epoch,
a second pass over X) for comparison.

It prints and writes ``results/epoch.md`` and ``results/epoch.json``.
"""

from __future__ import annotations

import _common

_common.reexec_without_openblas_overrides()  # before NumPy loads OpenBLAS

import argparse
import sys
from functools import partial
from typing import Any

import numpy as np

import fastsgd
from fastsgd._ext import _core

SHAPES = [(1_000_000, 100), (100_000, 1000)]
QUICK_SHAPES = [(20_000, 100), (2_000, 1000)]
BATCH_SIZES = (64, 256)
LR = 0.01
TARGET = 60.0  # % of the read per epoch (batch 64 and 256, d = 100 and 1000)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def own(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--extra-epochs", type=int, default=3, help="epochs of the longer fit beyond the first"
        )

    args = _common.base_parser(
        __doc__,
        quick_help="small shapes (cache-resident: a smoke test, not a measurement)",
        repeats=(5, "timed calls per contender (default 5; the median is reported)"),
        warmup=(1, "untimed calls first (default 1)"),
        threads=([1, 2], "thread counts (default 1 2)"),
        own_options=own,
    ).parse_checked(argv)
    args.threads = sorted(set(args.threads))
    return args


def make_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    w_true = (rng.standard_normal(d) / np.sqrt(d)).astype(np.float32)
    y = X @ w_true + rng.standard_normal(n, dtype=np.float32)
    return X, y


def fit_call(
    X: np.ndarray, y: np.ndarray, epochs: int, batch: int, threads: int, record: str,
    shuffle: bool = True,
) -> Any:  # fmt: skip
    return partial(
        fastsgd.fit, X, y, epochs=epochs, batch_size=batch, learning_rate=LR,
        n_threads=threads, loss_record=record, shuffle=shuffle,
    )  # fmt: skip


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    extra = args.extra_epochs
    for n, d in QUICK_SHAPES if args.quick else SHAPES:
        X, y = make_data(n, d)
        order = _core.permutation(n, 0, 0)
        for batch in BATCH_SIZES:
            for t in args.threads:
                fns = {
                    "fit1": fit_call(X, y, 1, batch, t, "progressive"),
                    "fitE": fit_call(X, y, 1 + extra, batch, t, "progressive"),
                    "exact1": fit_call(X, y, 1, batch, t, "exact"),
                    "exactE": fit_call(X, y, 1 + extra, batch, t, "exact"),
                    "order1": fit_call(X, y, 1, batch, t, "progressive", shuffle=False),
                    "orderE": fit_call(X, y, 1 + extra, batch, t, "progressive", shuffle=False),
                    "read": partial(_core.stream_read, X, threads=t),
                    "gather": partial(_core.gather_read, X, order, threads=t),
                }
                times = _common.measure_interleaved(fns, repeats=args.repeats, warmup=args.warmup)
                med = {k: v.median for k, v in times.items()}
                epoch = (med["fitE"] - med["fit1"]) / extra
                exact = (med["exactE"] - med["exact1"]) / extra
                in_order = (med["orderE"] - med["order1"]) / extra
                gb = X.nbytes / 1e9
                row = {
                    "n": n, "d": d, "dtype": "float32", "batch": batch, "threads": t,
                    "timings": times, "epoch_s": epoch, "exact_epoch_s": exact,
                    "read_s": med["read"], "fit1_s": med["fit1"],
                    "epoch_gbs": gb / epoch, "read_gbs": gb / med["read"],
                    "pct_of_read": 100.0 * med["read"] / epoch,
                    "exact_pct_of_read": 100.0 * med["read"] / exact,
                    "in_order_epoch_s": in_order,
                    "in_order_pct_of_read": 100.0 * med["read"] / in_order,
                    "gather_gbs": gb / med["gather"],
                    "pct_of_gather": 100.0 * med["gather"] / epoch,
                    "us_per_step": 1e6 * epoch / -(-n // batch),
                }  # fmt: skip
                rows.append(row)
                print(
                    f"  ({n:_}, {d}) batch {batch}, {t} thread(s): epoch "
                    f"{_common.fmt_ms(epoch)} ms ({row['pct_of_read']:.0f}% of the read, "
                    f"{row['us_per_step']:.2f} µs/step), exact {_common.fmt_ms(exact)} ms, "
                    f"read {_common.fmt_ms(med['read'])} ms",
                    file=sys.stderr,
                    flush=True,
                )
        del X, y, order
    return rows


def targets(rows: list[dict[str, Any]]) -> list[_common.Target]:
    return [
        _common.Target(
            f"({r['n']:_}, {r['d']}) float32, batch {r['batch']}, {r['threads']} thread(s): "
            "% of the read per epoch",
            r["pct_of_read"],
            TARGET,
            "%",
        )
        for r in rows
    ]


def render(machine: dict[str, Any], rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    f = _common.fmt_ms
    table = _common.markdown_table(
        [
            "d", "n", "batch", "threads", "epoch ms", "µs / step", "epoch GB/s", "read GB/s",
            "% of read", "exact-loss epoch ms", "exact % of read", "in-order epoch ms",
            "in-order % of read", "gather GB/s", "% of gather",
        ],
        [
            [
                r["d"], f"{r['n']:_}", r["batch"], r["threads"], f(r["epoch_s"]),
                f"{r['us_per_step']:.2f}", f"{r['epoch_gbs']:.1f}", f"{r['read_gbs']:.1f}",
                f"{r['pct_of_read']:.0f}%", f(r["exact_epoch_s"]), f"{r['exact_pct_of_read']:.0f}%",
                f(r["in_order_epoch_s"]), f"{r['in_order_pct_of_read']:.0f}%",
                f"{r['gather_gbs']:.1f}", f"{r['pct_of_gather']:.0f}%",
            ]
            for r in rows
        ],
    )  # fmt: skip
    quick_note = (
        "\n**Quick run (--quick): small, cache-resident shapes; a smoke test only.**\n"
        if args.quick
        else ""
    )
    return f"""# One SGD epoch on wide rows vs a read of X
{quick_note}
{_common.machine_markdown(machine)}
- fastsgd.fit(X, y, epochs=E, batch_size=B, learning_rate={LR}, n_threads=T) on float32 X,
  the squared loss, shuffled rows; epoch = (median of E = {1 + args.extra_epochs} − median
  of E = 1) / {args.extra_epochs}; {args.warmup} warm-up + {args.repeats} timed calls each,
  interleaved round by round with `_core.stream_read(X, threads=T)`
- epoch ms: with the default loss_record="progressive" (each batch's loss before its
  step, summed in the same pass); exact-loss epoch ms: with loss_record="exact" (the
  full-data loss after every epoch: a second pass over X); in-order epoch ms: the default
  record with shuffle=False (rows read front to back: the step's own cost without the
  random gather of shuffled rows)

{table}

% of read = read time / epoch time; gather = `_core.gather_read` of X's rows in a shuffled
order (the read a shuffled epoch cannot beat); % of gather = gather time / epoch time.

## Targets

{chr(10).join(t.line() for t in targets(rows))}
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = _common.machine_info(
        threads=args.threads, repeats=args.repeats, warmup=args.warmup, quick=args.quick
    )
    _common.announce("bench_epoch", machine)
    load = _common.OtherLoad()
    rows = run(args)
    machine["during_run"] = load.stop()
    md = render(machine, rows, args)
    print(md)
    if not args.no_write:
        _common.save_results(
            "epoch", args.quick, md, machine, rows=rows, targets=targets(rows),
            ratios={"pct_of_read": "100 * stream_read median / per-epoch time"},
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
