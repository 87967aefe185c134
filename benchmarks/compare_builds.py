"""Two builds of fastsgd side by side: the core before and after a change.

Each build is installed in a virtual environment of its own (by default the
previous build, commit cf4aaef, in /work/venv-old, and the build being compared,
commit 5b17b19, in /work/venv-base). Every round starts one process of each build,
in alternating order (old then new, then new then old, ...). A process builds the
same seeded data, runs each case once untimed, then ``--calls`` times timed, and
reports the median of its calls. The report gives, per case, the median over the
rounds for each build, their ratio new / old, and the median of the rounds' own
ratios (each round's old and new ran back to back, so that ratio suffers least
from the load of a shared machine).

Cases, all on one thread (``fastsgd.set_num_threads(1)``, ``n_threads=1``):

- ``mse_grad``: ``fastsgd.mse_grad(X, y, w)``, float32, X of shape (10_000_000, 2),
  (1_000_000, 100) and (100_000, 1000), y = X @ w_true + noise, w near w_true;
- ``epoch``: ``fastsgd.fit(X, y, w0=(-1, 1), epochs=1, batch_size=64,
  learning_rate=0.1, n_threads=1)`` on the lesson's line,
  ``make_line(1_000_000, dtype=float32)``;
- ``digits``: ``fastsgd.SGDClassifier(learning_rate="auto", batch_size=32,
  epochs=20, random_state=0, n_threads=1).fit`` on scikit-learn's digits (the
  80 % training split, stratified, random_state=0, standardised with the training
  rows' mean and spread);
- ``softmax``: ``fastsgd.fit(X, y, loss="softmax", n_classes=10, fit_intercept=True,
  learning_rate=0.3, batch_size=256, epochs=3, n_threads=1)`` on 200_000 x 100
  float32 rows of 10 classes (scores X @ W_true plus Gumbel noise, argmax).

Each case also reports a number computed from its result (a loss or an accuracy),
so the report shows that both builds did the same work.

    python benchmarks/compare_builds.py                      # the default builds
    python benchmarks/compare_builds.py --old PY --new PY    # any two interpreters

It prints and writes ``results/compare_builds.md`` and ``results/compare_builds.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common

HERE = Path(__file__).resolve().parent
OLD_PYTHON, OLD_LABEL = "/work/venv-old/bin/python", "cf4aaef"
NEW_PYTHON, NEW_LABEL = "/work/venv-base/bin/python", "5b17b19"
KERNEL_SHAPES = [(10_000_000, 2), (1_000_000, 100), (100_000, 1000)]
QUICK_SHAPES = [(200_000, 2), (20_000, 100), (2_000, 1000)]
EPOCH_N, QUICK_EPOCH_N = 1_000_000, 50_000
SOFTMAX_N, QUICK_SOFTMAX_N, SOFTMAX_D, SOFTMAX_K = 200_000, 10_000, 100, 10
TARGET = 0.03  # "within 3 %": new / old <= 1.03


# --- the worker: one process of one build ----------------------------------------------------


def _median_time(fn: Any, calls: int) -> float:
    fn()  # untimed: first-touch of buffers, thread pools, caches
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(calls: int, quick: bool) -> dict[str, Any]:
    """Time every case in this interpreter's fastsgd; the result is printed as JSON."""
    import numpy as np

    import fastsgd
    from fastsgd._ext import _core
    from fastsgd.datasets import make_line

    fastsgd.set_num_threads(1)
    out: dict[str, Any] = {}
    checks: dict[str, float] = {}

    for n, d in QUICK_SHAPES if quick else KERNEL_SHAPES:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, d), dtype=np.float32)
        w_true = rng.standard_normal(d).astype(np.float32)
        y = X @ w_true + rng.standard_normal(n, dtype=np.float32)
        w = w_true + np.float32(0.1) * rng.standard_normal(d, dtype=np.float32)
        name = f"mse_grad {n}x{d}"
        out[name] = _median_time(lambda X=X, y=y, w=w: fastsgd.mse_grad(X, y, w), calls)
        checks[name] = float(fastsgd.mse_grad(X, y, w)[0])
        del X, y

    Xl, yl = make_line(QUICK_EPOCH_N if quick else EPOCH_N, dtype=np.float32)

    def epoch() -> Any:
        return fastsgd.fit(
            Xl, yl, w0=(-1.0, 1.0), epochs=1, batch_size=64, learning_rate=0.1, n_threads=1
        )

    out["epoch"] = _median_time(epoch, calls)
    checks["epoch"] = float(np.mean((Xl @ np.asarray(epoch().w, np.float32) - yl) ** 2))

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    digits = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(
        digits.data, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)

    def digits_fit() -> Any:
        return fastsgd.SGDClassifier(
            learning_rate="auto", batch_size=32, epochs=20, random_state=0, n_threads=1
        ).fit(X_tr, y_tr)

    out["digits"] = _median_time(digits_fit, calls)
    checks["digits"] = float(digits_fit().score(X_te, y_te))

    rng = np.random.default_rng(0)
    m = QUICK_SOFTMAX_N if quick else SOFTMAX_N
    W_true = 0.3 * rng.standard_normal((SOFTMAX_D, SOFTMAX_K))
    Xs = rng.standard_normal((m, SOFTMAX_D), dtype=np.float32)
    ys = np.argmax(Xs.astype(np.float64) @ W_true + rng.gumbel(size=(m, SOFTMAX_K)), axis=1)

    def softmax_fit() -> Any:
        return fastsgd.fit(
            Xs, ys, loss="softmax", n_classes=SOFTMAX_K, fit_intercept=True,
            learning_rate=0.3, batch_size=256, epochs=3, n_threads=1,
        )  # fmt: skip

    out["softmax"] = _median_time(softmax_fit, calls)
    checks["softmax"] = float(softmax_fit().loss_history[-1])
    return {
        "times": out,
        "checks": checks,
        "fastsgd": fastsgd.__version__,
        "path": str(Path(fastsgd.__file__).parent),
        "isa": _core.active_isa(),
        "build": dict(_core.build_info()),
        "numpy": np.__version__,
    }


# --- the driver -------------------------------------------------------------------------------


def run_worker(python: str, calls: int, quick: bool) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", "--calls", str(calls)]
    if quick:
        cmd.append("--quick")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=HERE)
    if done.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare(args: argparse.Namespace) -> dict[str, Any]:
    builds = {"old": args.old, "new": args.new}
    per_round: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    info: dict[str, Any] = {}
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for which in order:
            res = run_worker(builds[which], args.calls, args.quick)
            per_round[which].append(res["times"])
            info[which] = {k: v for k, v in res.items() if k != "times"}
        line = ", ".join(
            f"{case} {per_round['new'][-1][case] / per_round['old'][-1][case]:.3f}"
            for case in per_round["old"][-1]
        )
        print(f"  round {r + 1}/{args.rounds} (new/old): {line}", file=sys.stderr, flush=True)
    cases = list(per_round["old"][0])
    rows = []
    for case in cases:
        old = [t[case] for t in per_round["old"]]
        new = [t[case] for t in per_round["new"]]
        paired = [n / o for n, o in zip(new, old, strict=True)]
        rows.append(
            {
                "case": case,
                "old": _common.Timing.from_samples(old),
                "new": _common.Timing.from_samples(new),
                "ratio": statistics.median(new) / statistics.median(old),
                "paired_ratio": statistics.median(paired),
                "paired_ratios": paired,
                "check_old": info["old"]["checks"][case],
                "check_new": info["new"]["checks"][case],
            }
        )
    return {"rows": rows, "builds": info}


def render(machine: dict[str, Any], result: dict[str, Any], args: argparse.Namespace) -> str:
    f = _common.fmt_ms
    table = _common.markdown_table(
        [
            "case (1 thread)",
            f"old {args.old_label} ms",
            f"new {args.new_label} ms",
            "new / old",
            "median of rounds' new / old",
            "within 3 %",
            "result old",
            "result new",
        ],
        [
            [
                r["case"],
                f"{f(r['old'].median)} ({f(r['old'].iqr)})",
                f"{f(r['new'].median)} ({f(r['new'].iqr)})",
                f"{r['ratio']:.3f}",
                f"{r['paired_ratio']:.3f}",
                "yes" if r["paired_ratio"] <= 1 + TARGET else "NO",
                f"{r['check_old']:.6g}",
                f"{r['check_new']:.6g}",
            ]
            for r in result["rows"]
        ],
    )
    b = result["builds"]
    m = machine
    load = m.get("during_run", {})
    quick = "\n**Quick run (--quick): small sizes, a smoke test.**\n" if args.quick else ""
    return f"""# fastsgd {args.old_label} (old) vs {args.new_label} (new), side by side
{quick}
- Machine: {m["cpu"]}, {m["physical_cores"]} cores / {m["logical_cpus"]} logical CPUs \
({m["usable_cpus"]} usable), {m["caches"]}, {m["memory_gib"]} GiB; load average at start \
{m["load_average_at_start"]}
- Old: `{args.old}` (fastsgd {b["old"]["fastsgd"]} from {b["old"]["path"]}, ISA \
{b["old"]["isa"]}, {b["old"]["build"].get("compiler")}); new: `{args.new}` (fastsgd \
{b["new"]["fastsgd"]} from {b["new"]["path"]}, ISA {b["new"]["isa"]}, \
{b["new"]["build"].get("compiler")}); NumPy {b["new"]["numpy"]}
- {args.rounds} rounds, each one process per build in alternating order; per process one
  untimed call, then the median of {args.calls} timed calls per case; times are medians over
  the rounds (IQR over the rounds in parentheses); 1 thread everywhere
- During the run ({load.get("wall_s")} s): other processes kept \
{load.get("other_processes_cores")} cores busy on average, hypervisor steal \
{load.get("steal_cores")} cores
- Date: {m["date"]}

{table}

What the columns are:
- new / old: median time of the new build over the rounds / that of the old build.
- median of rounds' new / old: each round runs both builds back to back; the median of
  those per-round ratios (the verdict uses it: it suffers least from a slow spell).
- within 3 %: the target, new / old <= 1.03.
- result: a number each build computed from its result (mse_grad: the loss; epoch: the
  mean squared error after the epoch; digits: test accuracy; softmax: the training loss
  after the last epoch), to show that both did the same work.

Cases, all on one thread {__doc__.split("Cases, all on one thread")[1].split("Each case also")[0].strip()}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--old", default=OLD_PYTHON, help=f"old build's python (default {OLD_PYTHON})")
    p.add_argument("--new", default=NEW_PYTHON, help=f"new build's python (default {NEW_PYTHON})")
    p.add_argument("--old-label", default=OLD_LABEL, help="name of the old build in the report")
    p.add_argument("--new-label", default=NEW_LABEL, help="name of the new build in the report")
    p.add_argument("--rounds", type=int, default=11, help="rounds (default 11)")
    p.add_argument("--calls", type=int, default=3, help="timed calls per case and process")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--no-write", action="store_true", help="print only, write no results files")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rounds < 1 or args.calls < 1:
        p.error("--rounds and --calls must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.calls, args.quick)))
        return 0
    machine = _common.hardware_info()
    print(f"[compare_builds] {machine['cpu']}: {args.old} vs {args.new}", file=sys.stderr)
    load = _common.OtherLoad(children=True)
    result = compare(args)
    machine["during_run"] = load.stop()
    md = render(machine, result, args)
    print(md)
    if not args.no_write:
        _common.save_results(
            "compare_builds",
            args.quick,
            md,
            machine,
            old=args.old_label,
            new=args.new_label,
            ratios={
                "ratio": "median new time over the rounds / median old time",
                "paired_ratio": "median over the rounds of (new time / old time) of each round",
            },
            **result,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
