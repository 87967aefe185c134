"""The drop-in: fastsgd.linear_model against scikit-learn's SGDClassifier / SGDRegressor.

Every loss, on dense data of 1,000,000 rows × 20 and × 100 features, float64 and
float32, at scikit-learn's defaults but for ``max_iter=5, tol=None`` (five epochs of
per-sample SGD, shuffled, L2 penalty alpha=1e-4, the "optimal" rate for classifiers
and "invscaling" for regressors), the same ``random_state`` for both. Each pair is
timed side by side (calls interleaved round by round) and scored on 100,000 held-out
rows: accuracy for the classification losses, R² for the regression ones. fastsgd runs
twice in the same rounds: with ``n_threads=--threads`` (1 by default) and at its
defaults (no ``n_threads``: all of fastsgd's threads, so a second thread reads the
shuffled rows ahead of the epochs that take it); the two must give the same coefficients.

Data: X ~ N(0, 1) (features on one scale, as SGD wants them). Classification: labels
from a noisy linear model, y = [X w* + N(0, 1) > 0] (about 8% of labels on the wrong
side of the best line). Regression: y = X w* + N(0, 1).

Beside each pair, the same rounds time the memory floor of such a fit on this machine:
X's rows read in a fresh shuffled order once per epoch, five times, by a C++ loop that does
nothing else (``_core.gather_read``, one thread: eight rows read at once, each asked for
16 rows ahead into L1 and 64 rows ahead into L2). A per-sample SGD visiting the rows in a shuffled order cannot take less;
'ceiling' = scikit-learn's time / the floor is the largest speed-up such a fit can show
here.

On float64 data both fit the same model (fastsgd.linear_model takes scikit-learn's
steps in its order and its shuffle), so the scores agree to the last digit; float32 is
trained in float32 by scikit-learn and in float64 by fastsgd's core.

It prints a Markdown report and writes ``results/dropin.md`` and ``results/dropin.json``
(``--quick``: 100,000 rows, ``dropin-quick.*``).
"""

from __future__ import annotations

import _common

_common.reexec_without_openblas_overrides()  # before NumPy loads OpenBLAS

import argparse
import sys
import warnings
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import fastsgd
from fastsgd import _core
from fastsgd import linear_model as fs

try:
    from sklearn import linear_model as sk
    from sklearn.metrics import accuracy_score, r2_score
except ImportError:  # pragma: no cover - the bench extra installs it
    sys.exit("bench_dropin.py needs scikit-learn: pip install 'fastsgd[bench]'")

FULL_N, QUICK_N, N_TEST = 1_000_000, 100_000, 100_000
WIDTHS = (20, 100)
CLASSIFIER_LOSSES = ("hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron")
REGRESSOR_LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
SPEEDUP_TARGET, SCORE_TOLERANCE = 5.0, 0.005  # issue 12, on 1M × 20
EPOCHS = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def own(p: argparse.ArgumentParser) -> None:
        p.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS),
                       help="numbers of features (default: 20 100)")  # fmt: skip
        p.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                       choices=["float64", "float32"])  # fmt: skip
        p.add_argument("--losses", nargs="+", default=None,
                       help="only these losses (default: all nine)")  # fmt: skip

    return _common.base_parser(
        __doc__ or "",
        quick_help=f"{QUICK_N:,} training rows instead of {FULL_N:,}",
        repeats=(3, "timed fits of each estimator (median reported)"),
        warmup=(0, "untimed fits first"),
        threads=(1, "fastsgd threads (per-sample SGD is one thread in both)"),
        own_options=own,
    ).parse_checked(argv)


def make_data(n: int, d: int, dtype: Any, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + N_TEST, d)).astype(dtype)
    w = rng.standard_normal(d) / np.sqrt(d)
    score = X @ w.astype(dtype) + rng.standard_normal(n + N_TEST).astype(dtype) * 0.25
    y_cls = (score > 0).astype(np.int64)
    y_reg = score.astype(np.float64)
    return {
        "X": X[:n], "X_test": X[n:], "cls": (y_cls[:n], y_cls[n:]),
        "reg": (y_reg[:n], y_reg[n:]),
    }  # fmt: skip


def shuffled_reads(X: Any, epochs: int = EPOCHS, seed: int = 0) -> Any:
    """X's rows read once per epoch, each epoch in a shuffled order of its own, in C++ and
    nothing else: the memory floor of a fit visiting the rows in a shuffled order."""
    orders = [_core.permutation(X.shape[0], seed, epoch) for epoch in range(epochs)]

    def run() -> None:
        for order in orders:
            _core.gather_read(X, order, threads=1)

    return run


def bench_one(data: dict[str, Any], loss: str, repeats: int, warmup: int,
              threads: int) -> dict[str, Any]:  # fmt: skip
    classifier = loss in CLASSIFIER_LOSSES
    y, y_test = data["cls" if classifier else "reg"]
    name = "SGDClassifier" if classifier else "SGDRegressor"
    params = {"loss": loss, "max_iter": EPOCHS, "tol": None, "random_state": 0}
    fitted: dict[str, Any] = {}

    def fit(module: Any, key: str, extra: dict[str, Any]) -> Any:
        def run() -> None:
            fitted[key] = getattr(module, name)(**params, **extra).fit(data["X"], y)

        return run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = _common.measure_interleaved(
            {"sklearn": fit(sk, "sklearn", {}),
             "fastsgd": fit(fs, "fastsgd", {"n_threads": threads}),
             "fastsgd_defaults": fit(fs, "fastsgd_defaults", {}),
             "floor": data["reads"]},
            repeats=repeats, warmup=warmup,
        )  # fmt: skip
    score = accuracy_score if classifier else r2_score
    scores = {k: float(score(y_test, est.predict(data["X_test"]))) for k, est in fitted.items()}
    coef_gap = float(
        np.max(np.abs(fitted["fastsgd"].coef_ - fitted["sklearn"].coef_))
        / max(np.max(np.abs(fitted["sklearn"].coef_)), 1e-300)
    )
    return {
        "loss": loss, "estimator": name,
        "sklearn": t["sklearn"].as_dict(), "fastsgd": t["fastsgd"].as_dict(),
        "fastsgd_defaults": t["fastsgd_defaults"].as_dict(),
        "floor": t["floor"].as_dict(),
        "speedup": t["sklearn"].median / t["fastsgd"].median,
        "speedup_defaults": t["sklearn"].median / t["fastsgd_defaults"].median,
        "same_coef_defaults": bool(
            np.array_equal(fitted["fastsgd_defaults"].coef_, fitted["fastsgd"].coef_)
        ),
        "ceiling": t["sklearn"].median / t["floor"].median,
        "score_sklearn": scores["sklearn"], "score_fastsgd": scores["fastsgd"],
        "coef_max_relative_gap": coef_gap,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n = QUICK_N if args.quick else FULL_N
    losses = args.losses or [*CLASSIFIER_LOSSES, *REGRESSOR_LOSSES]
    load = _common.OtherLoad()
    machine = _common.machine_info(threads=args.threads)
    default_threads = fastsgd.get_num_threads()
    rows: list[dict[str, Any]] = []
    # scikit-learn's SGD is one thread and neither calls BLAS in a fit; fastsgd's threads
    # are its own: n_threads=args.threads, or its default (all) in the 'defaults' column
    with threadpool_limits(limits=1, user_api="blas"):
        for d in args.widths:
            for dtype in args.dtypes:
                data = make_data(n, d, np.dtype(dtype))
                data["reads"] = shuffled_reads(data["X"])
                for loss in losses:
                    r = bench_one(data, loss, args.repeats, args.warmup, args.threads)
                    r.update(n=n, d=d, dtype=dtype)
                    rows.append(r)
                    print(f"[dropin] {n}x{d} {dtype} {loss}: {r['speedup']:.2f}x "
                          f"(ceiling {r['ceiling']:.2f}x), scores "
                          f"{r['score_sklearn']:.4f} / {r['score_fastsgd']:.4f}",
                          file=sys.stderr, flush=True)  # fmt: skip
                del data
    machine["during_run"] = load.stop()

    table = _common.markdown_table(
        ["rows × features", "dtype", "loss", "scikit-learn s", "fastsgd s", "speed-up",
         "floor s", "ceiling", "score sklearn", "score fastsgd", "coef gap",
         f"fastsgd s, defaults ({default_threads} threads)", "speed-up, defaults"],
        [[f"{r['n']:,} × {r['d']}", r["dtype"], r["loss"], f"{r['sklearn']['median_s']:.3f}",
          f"{r['fastsgd']['median_s']:.3f}", f"{r['speedup']:.2f}x",
          f"{r['floor']['median_s']:.3f}", f"{r['ceiling']:.2f}x",
          f"{r['score_sklearn']:.4f}", f"{r['score_fastsgd']:.4f}",
          f"{r['coef_max_relative_gap']:.1e}", f"{r['fastsgd_defaults']['median_s']:.3f}"
          + ("" if r["same_coef_defaults"] else " (coef differ!)"),
          f"{r['speedup_defaults']:.2f}x"] for r in rows],
        align="lllrrrrrrrrrr",
    )  # fmt: skip
    targets = []
    for r in rows:
        if r["d"] == 20 and not args.quick:
            targets.append(
                _common.Target(
                    f"{r['loss']}, {r['dtype']}, 1M × 20: speed-up", r["speedup"], SPEEDUP_TARGET
                )
            )
            targets.append(
                _common.Target(
                    f"{r['loss']}, {r['dtype']}, 1M × 20: speed-up at fastsgd's defaults "
                    f"({default_threads} threads)",
                    r["speedup_defaults"],
                    SPEEDUP_TARGET,
                )
            )
            targets.append(_common.Target(
                f"{r['loss']}, {r['dtype']}, 1M × 20: |score gap|",
                abs(r["score_fastsgd"] - r["score_sklearn"]), SCORE_TOLERANCE, unit="",
                at_most=True))  # fmt: skip
    md = "\n\n".join([
        "# fastsgd.linear_model against scikit-learn (drop-in)",
        _common.machine_markdown(machine),
        (
            f"Each fit: `{{SGDClassifier|SGDRegressor}}(loss=..., max_iter=5, tol=None, "
            f"random_state=0)` from the same import line, median of {args.repeats} fits timed "
            f"side by side; fastsgd threads: {args.threads} ('defaults': no n_threads, "
            f"fastsgd's default of {default_threads}: one thread steps, the other reads the "
            "shuffled rows ahead; the same coefficients). Score: accuracy (classifiers) or "
            f"R² (regressors) on {N_TEST:,} held-out rows. 'coef gap': the largest difference "
            "of the two coef_, relative to the largest coefficient. 'floor': "
            f"{EPOCHS} shuffled passes over X's rows read in C++ and nothing else, timed in "
            "the same rounds; 'ceiling' = scikit-learn s / floor s, the largest speed-up a "
            "per-sample SGD in a shuffled order can show on this machine."
        ),
        table,
        *(["## Targets (issue 12)", "\n".join(t.line() for t in targets)] if targets else []),
    ])  # fmt: skip
    print(md)
    if not args.no_write:
        name = _common.results_name("dropin", args.quick)
        _common.write_results(name, md, {"machine": machine, "rows": rows,
                                         "targets": [t.as_dict() for t in targets]})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
