"""Training on more data than a worker can hold: fastsgd.dask on a memory-limited LocalCluster.

A regression problem of ``--gib`` GiB of float32 rows (default 3 GiB) is generated
block by block on the workers by dask (every block from its index and a seed), and
never materialised whole, not even across the cluster: the workers' memory limits
add up to less than X (default 2 workers x 1 GiB). Each method trains end to end on
it; the report gives the time per epoch, the peak resident memory of every worker
process, and the final loss next to an in-memory ``fastsgd.fit`` with the same
options on a subsample (the first blocks, gathered to this process).

    python benchmarks/bench_dask.py            # a few minutes
    python benchmarks/bench_dask.py --quick    # seconds: a smoke test, not a measurement
"""

# dask and distributed are only partly annotated
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    OtherLoad,
    machine_info,
    machine_markdown,
    markdown_table,
    results_name,
    write_results,
)

NOISE = 0.1  # y = X @ w + 0.5 + NOISE * N(0, 1): the best possible loss is NOISE**2


def make_block(block_id: Any = None, *, rows: int, d: int, seed: int) -> Any:
    """Rows [X | y] of block i: X ~ N(0, 1) float32, y = X @ w + 0.5 + noise."""
    import numpy as np

    rng = np.random.default_rng([seed, block_id[0]])
    w = np.random.default_rng(seed).standard_normal(d).astype(np.float32)
    XY = np.empty((rows, d + 1), np.float32)
    XY[:, :d] = rng.standard_normal((rows, d), dtype=np.float32)
    XY[:, d] = XY[:, :d] @ w + 0.5 + NOISE * rng.standard_normal(rows, dtype=np.float32)
    return XY


def peak_rss_mib() -> float:
    """Peak resident set size of this process's memory image (Linux: VmHWM).

    Not getrusage's ru_maxrss: Linux carries that across exec, so a worker spawned by a
    Nanny living in a big client process would report the client's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return math.nan


def spilled_bytes(dask_worker: Any) -> int:
    """Bytes the worker wrote to disk because it hit its memory target (0 if it never did)."""
    total = getattr(dask_worker.data, "spilled_total", None)
    return int(getattr(total, "disk", 0) or 0) if total is not None else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gib", type=float, default=3.0, help="GiB of float32 X (default 3)")
    ap.add_argument("--d", type=int, default=32, help="features (default 32)")
    ap.add_argument("--rows-per-block", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="1GiB", help="per worker (default 1GiB)")
    ap.add_argument("--epochs-average", type=int, default=2)
    ap.add_argument("--epochs-gradient", type=int, default=6)
    ap.add_argument("--subsample-blocks", type=int, default=5, help="blocks for the in-memory fit")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    if args.quick:
        args.gib, args.rows_per_block, args.subsample_blocks = 0.05, 50_000, 2

    import dask.array as da
    import distributed
    import numpy as np

    import fastsgd
    import fastsgd.dask

    d, rows = args.d, args.rows_per_block
    x_bytes_per_block = rows * d * 4
    n_blocks = max(1, math.ceil(args.gib * 2**30 / x_bytes_per_block))
    n = n_blocks * rows
    seed = 42
    XY = da.map_blocks(
        make_block,
        chunks=((rows,) * n_blocks, (d + 1,)),
        dtype=np.float32,
        meta=np.empty((0, d + 1), np.float32),
        rows=rows,
        d=d,
        seed=seed,
    )
    X, y = XY[:, :d], XY[:, d]
    x_gib = n * d * 4 / 2**30
    print(
        f"[bench] X: {n:,} x {d} float32 = {x_gib:.2f} GiB (+ y) in {n_blocks} blocks of "
        f"{rows:,} rows ({x_bytes_per_block / 2**20:.1f} MiB); {args.workers} workers x "
        f"{args.memory_limit}",
        flush=True,
    )

    methods = {
        "average": {
            "method": "average", "batch_size": 256, "learning_rate": 0.01,
            "epochs": args.epochs_average,
        },
        "gradient": {"method": "gradient", "learning_rate": 0.5, "epochs": args.epochs_gradient},
    }  # fmt: skip
    load = OtherLoad()
    results: dict[str, Any] = {}
    with (
        distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        limit_mib = next(iter(cluster.scheduler.workers.values())).memory_limit / 2**20

        # the in-memory reference: the first blocks, in this process
        sub = slice(0, args.subsample_blocks * rows)
        Xs, ys = (np.asarray(a) for a in client.compute([X[sub], y[sub]], sync=True))
        client.restart()

        # passes that only make the data: what every pass over X costs before training
        gen_s = []
        for _ in range(2):  # the first one also warms up the fresh workers
            t0 = time.perf_counter()
            # one task per block reads all of it: X.sum() and y.sum() would each hold a view
            # of the block, keeping whole blocks alive until the slower of the two ran
            client.compute(XY.sum(axis=0), sync=True, optimize_graph=False)
            gen_s.append(time.perf_counter() - t0)
        gen_rss = client.run(peak_rss_mib)
        print(f"[bench] passes generating X alone: {np.round(gen_s, 1).tolist()} s", flush=True)

        for name, opts in methods.items():
            client.restart()  # fresh worker processes: their peak memory is this method's
            stamps: list[float] = []

            def stamp(epoch: int, loss: float, w: Any, stamps: list[float] = stamps) -> None:
                stamps.append(time.perf_counter())

            t0 = time.perf_counter()
            r = fastsgd.dask.fit(X, y, client=client, fit_intercept=True, callback=stamp, **opts)
            total = time.perf_counter() - t0
            rss = client.run(peak_rss_mib)
            spilled = client.run(spilled_bytes, nanny=False)
            per_epoch = np.diff([t0, *stamps])
            mem = fastsgd.fit(Xs, ys, fit_intercept=True, shuffle=True, seed=0,
                              **{k: v for k, v in opts.items() if k != "method"})  # fmt: skip
            on_sub = fastsgd.mse(Xs, ys, r.w.astype(np.float32), np.float32(r.b))
            passes = 2 if name == "average" else 1
            steady = float(np.median(per_epoch[1:])) if len(per_epoch) > 1 else per_epoch[0]
            results[name] = {
                "options": opts,
                "fit_s": total,
                "epoch_s": per_epoch.tolist(),
                "steady_epoch_s": steady,
                "passes_per_epoch": passes,
                "x_gib_per_s": passes * x_gib / steady,
                "peak_worker_rss_mib": sorted(rss.values()),
                "spilled_bytes": sum(spilled.values()),
                "loss_full": r.loss,
                "loss_history": r.loss_history.tolist(),
                "dask_model_loss_on_subsample": on_sub,
                "in_memory_loss_on_subsample": mem.loss,
                "n_steps": r.n_steps,
            }
            print(
                f"[bench] {name}: {total:.1f} s, epochs {np.round(per_epoch, 1).tolist()} s, "
                f"loss {r.loss:.5f}, in-memory {mem.loss:.5f}, peak RSS "
                f"{[round(v) for v in rss.values()]} MiB",
                flush=True,
            )
    during = load.stop()

    m = machine_info(during_run=during)
    rows_md = []
    for name, res in results.items():
        rows_md.append([
            name,
            res["options"]["epochs"],
            f"{res['steady_epoch_s']:.1f}",
            " / ".join(f"{s:.1f}" for s in res["epoch_s"]),
            res["passes_per_epoch"],
            f"{res['x_gib_per_s']:.2f}",
            " / ".join(f"{v:.0f}" for v in res["peak_worker_rss_mib"]),
            f"{res['loss_full']:.5f}",
            f"{res['dask_model_loss_on_subsample']:.5f}",
            f"{res['in_memory_loss_on_subsample']:.5f}",
            f"{res['dask_model_loss_on_subsample'] / res['in_memory_loss_on_subsample']:.3f}",
        ])  # fmt: skip
    headers = [
        "method", "epochs", "s / epoch", "each epoch (s)", "passes / epoch", "GiB of X / s",
        "peak RSS per worker (MiB)", "final loss (all rows)", "its loss on subsample",
        "in-memory fit's loss on subsample", "ratio",
    ]  # fmt: skip
    table = markdown_table(headers, rows_md)
    gen_line = (
        f"A pass that only generates the blocks and sums them (`XY.sum(axis=0)`) takes "
        f"{gen_s[1]:.1f} s ({gen_s[0]:.1f} s the first time, on fresh workers; peak worker RSS "
        f"{' / '.join(f'{v:.0f}' for v in gen_rss.values())} MiB)."
    )
    spill = sum(res["spilled_bytes"] for res in results.values())
    md = f"""# fastsgd.dask: training on more rows than the workers can hold

{machine_markdown(m)}
- Cluster: `distributed.LocalCluster` on 127.0.0.1, {args.workers} worker processes x 1 thread,
  memory_limit {args.memory_limit} each ({args.workers * limit_mib / 1024:.1f} GiB in all),
  dask {_version("dask")}, distributed {_version("distributed")}; the C++ core runs 1 OpenMP
  thread per task (the Nanny sets OMP_NUM_THREADS=1)
- Data: X {n:,} x {d} float32 = **{x_gib:.2f} GiB** (+ y, {n * 4 / 2**30:.2f} GiB), {n_blocks}
  row blocks of {rows:,} rows ({x_bytes_per_block / 2**20:.1f} MiB each), each generated on
  a worker from its block index (`da.map_blocks`), never stored: every pass over X makes
  the blocks again. y = X @ w + 0.5 + {NOISE} * N(0, 1): the best possible loss is
  {NOISE**2:g}.
- Training: `fastsgd.dask.fit(X, y, fit_intercept=True, ...)`; "average" with batch_size 256,
  learning_rate 0.01 (parallel SGD with model averaging; a pass to train, a pass for the
  loss), "gradient" with learning_rate 0.5 (exact full-batch gradient descent; one pass per
  epoch: the epoch's loss and gradient come from the same pass).
- The in-memory reference is `fastsgd.fit` with the same options on the first
  {args.subsample_blocks} blocks ({args.subsample_blocks * rows:,} rows) gathered to the
  client; "ratio" is the dask model's loss on those rows over the in-memory fit's loss on
  them.
- Peak RSS: the high-water mark of each worker process's resident memory (`VmHWM` in
  /proc/self/status), the workers restarted before each method; it includes the Python
  interpreter, NumPy, dask and distributed. Bytes spilled to disk by the workers: {spill}.

{table}

{gen_line}
"s / epoch" is the median over epochs after the first (the first also includes the
starting loss pass); "GiB of X / s" is passes per epoch x the size of X / s per epoch.
"""
    print(md)
    data = {"machine": m, "args": vars(args), "n": n, "n_blocks": n_blocks, "x_gib": x_gib,
            "generate_pass_s": gen_s, "results": results}  # fmt: skip
    if not args.no_write:
        md_path, _ = write_results(results_name("dask", args.quick), md, data)
        print(f"[bench] wrote {md_path}")


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    main()
