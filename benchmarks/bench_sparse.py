"""Sparse text-like data: fastsgd against scikit-learn (and Vowpal Wabbit) on a CSR matrix.

The problem, generated offline with NumPy (vectorised, seeded): a CSR matrix shaped like
hashed bag-of-words text, 500,000 training and 100,000 test rows (``--quick``: 20,000 and
5,000) over 2^20 columns.

- Row lengths: log-normal, median 57 word draws per row; the columns of the draws
  follow a Zipf (Zipf–Mandelbrot, exponent 1, offset 2.7) law over column ranks, the
  ranks scattered over the 2^20 columns by a fixed random permutation (as a hash would).
  A column drawn twice in a row is one non-zero with a count, so a row holds about 60
  distinct non-zeros, the frequent columns sit in most rows and most columns are rare.
- Values: TF-IDF as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` computes it:
  (1 + log count) × (log((1 + n_train) / (1 + document frequency)) + 1), the document
  frequencies from the training rows; every row scaled to unit L2 norm. float64 values
  (``--dtype float32``), int32 indices and indptr.
- Labels: a sparse true weight vector w*, N(0, 1) on 1,024 of the 4,096 most frequent
  columns (about a tenth of the non-zeros) and 0 elsewhere; y = [X w* > median over
  the training rows], then 5% of the labels flipped at random. No linear model can beat
  95% test accuracy, and the rare columns make it harder still.

Contenders, each on the same data, side by side in one run:

- fastsgd ``SGDClassifier()``: its defaults (logistic loss for two classes, batch 32,
  ``epochs="auto"`` (20 here), ``learning_rate="auto"``, plain SGD steps on sparse rows,
  averaged from the second epoch), and again with ``epochs=E`` (E = ``--epochs``, 5)
  and with ``epochs=1``;
- ``fastsgd.linear_model.SGDClassifier`` (the drop-in: scikit-learn's defaults, its
  per-sample steps in its order) with ``max_iter=E, tol=None``, and with its defaults
  (``max_iter=1000, tol=1e-3``: it stops when the training loss stops improving);
- scikit-learn ``SGDClassifier`` with the same two settings;
- scikit-learn ``LogisticRegression()`` (lbfgs, C=1, max_iter=100: its defaults), the
  full-batch optimum: the accuracy to aim for;
- Vowpal Wabbit when ``import vowpalwabbit`` works: its own driver (the library's
  command-line entry point, ``vowpalwabbit.Workspace(arg_list=...)``, as
  ``python -m vowpalwabbit``) with ``--loss_function logistic -b 20 --passes E
  --holdout_off`` on a cache file. The data are written once in VW's text format; one run
  with ``-d train.vw --cache_file train.cache`` parses them and writes the cache (timed
  apart, as "parsing", with its one training pass); the timed fits then read the cache.
  Its test accuracy is that of the signs of its predictions (``-t -p``) on the test rows.
  VW runs its parser in a thread of its own beside the learner, so it may use two cores.

**One process per fit.** The data are saved once (``scipy.sparse.save_npz``,
uncompressed, and ``.npy`` labels). Every timed fit runs in a fresh interpreter started
with ``subprocess``: it imports what the contender needs, notes its resident memory (the
baseline), loads the training rows, notes its memory again, fits (``--warmup`` untimed
fits first, then the timed one: ``time.perf_counter``, garbage collector off), notes its
peak resident memory, and only then loads the test rows and scores them. The rounds are
interleaved: each round runs every contender once, in turn, so a slow spell of the shared
machine hits all of them alike; the median of ``--repeats`` rounds is reported.

Peak memory is the kernel's high-water mark of the process's resident set (``VmHWM`` in
``/proc/self/status``). ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is recorded in the
JSON too, but on Linux a freshly executed child inherits in it the high-water mark of the
process that started it (here the parent, which held the data while generating them), so
it overstates a child's own peak. "Peak − baseline" is the memory the data and the fit
added to the interpreter and its libraries; "data" is the training matrix's
``data + indices + indptr`` bytes.

Targets (issue 13):

- fastsgd at least 3x faster than scikit-learn's ``SGDClassifier`` at the same test
  accuracy (within 0.5 points): checked for the drop-in against scikit-learn with the same
  parameters (both settings: the same steps, so the same model), and for fastsgd's native
  estimator at its defaults against scikit-learn's at its defaults (there "the same
  accuracy" is read as "not lower by more than 0.5 points");
- peak memory of every fastsgd fit at most data + 10% + 100 MiB above the baseline.

It prints a Markdown report and writes ``results/sparse.md`` and ``results/sparse.json``
(``--quick``: ``sparse-quick.*``).
"""

from __future__ import annotations

import _common

_common.reexec_without_openblas_overrides()  # before NumPy loads OpenBLAS

import argparse
import functools
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FULL_N, FULL_N_TEST = 500_000, 100_000
QUICK_N, QUICK_N_TEST = 20_000, 5_000
N_FEATURES = 2**20
DRAWS_MEDIAN = 57  # word draws per row (median); about 60 distinct columns after merging
DRAWS_SIGMA = 0.5  # of log(row length)
ZIPF_OFFSET = 2.7  # Zipf–Mandelbrot: P(rank r) ∝ 1 / (r + 2.7)
N_INFORMATIVE, INFORMATIVE_AMONG = 1024, 4096  # w* != 0 on 1024 of the 4096 most frequent columns
LABEL_FLIP = 0.05
SEED = 0

SPEEDUP_TARGET, ACCURACY_TOLERANCE = 3.0, 0.5  # issue 13: >= 3x, same accuracy within 0.5 points
MEMORY_SLACK, MEMORY_EXTRA_MIB = 0.10, 100  # issue 13: peak <= data + 10% + 100 MiB

MiB = 2**20

# the contenders, in the order each round runs them (see describe())
CONTENDERS = (
    "fastsgd",
    "fastsgd_epochs",
    "fastsgd_one",
    "dropin_epochs",
    "sklearn_epochs",
    "dropin",
    "sklearn",
    "sklearn_lr",
    "vw",
)
FASTSGD_KEYS = ("fastsgd", "fastsgd_epochs", "fastsgd_one", "dropin_epochs", "dropin")


def describe(key: str, epochs: int, threads: int) -> tuple[str, str]:
    """(name, settings) of a contender for the report."""
    e = epochs
    return {
        "fastsgd": (
            "fastsgd SGDClassifier",
            f"defaults (batch 32, 20 epochs, lr 'auto', averaged), {threads} thread(s)",
        ),
        "fastsgd_epochs": (
            "fastsgd SGDClassifier",
            f"epochs={e}, otherwise defaults, {threads} thread(s)",
        ),
        "fastsgd_one": (
            "fastsgd SGDClassifier",
            f"epochs=1, otherwise defaults, {threads} thread(s)",
        ),
        "dropin_epochs": ("fastsgd.linear_model.SGDClassifier", f"max_iter={e}, tol=None"),
        "sklearn_epochs": ("scikit-learn SGDClassifier", f"max_iter={e}, tol=None"),
        "dropin": ("fastsgd.linear_model.SGDClassifier", "defaults (max_iter=1000, tol=1e-3)"),
        "sklearn": ("scikit-learn SGDClassifier", "defaults (max_iter=1000, tol=1e-3)"),
        "sklearn_lr": ("scikit-learn LogisticRegression", "defaults (lbfgs, C=1, max_iter=100)"),
        "vw": (
            "Vowpal Wabbit",
            f"--loss_function logistic -b 20 --passes {e} --holdout_off, from the cache",
        ),
    }[key]


def short_name(key: str, epochs: int) -> str:
    return {
        "fastsgd": "fastsgd SGDClassifier()",
        "fastsgd_epochs": f"fastsgd SGDClassifier(epochs={epochs})",
        "fastsgd_one": "fastsgd SGDClassifier(epochs=1)",
        "dropin_epochs": f"drop-in SGDClassifier(max_iter={epochs}, tol=None)",
        "dropin": "drop-in SGDClassifier()",
    }[key]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def own(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--n-train",
            type=int,
            default=None,
            help=f"training rows (default {FULL_N:_}; --quick {QUICK_N:_})",
        )
        p.add_argument(
            "--n-test",
            type=int,
            default=None,
            help=f"test rows (default {FULL_N_TEST:_}; --quick {QUICK_N_TEST:_})",
        )
        p.add_argument(
            "--dtype",
            choices=["float64", "float32"],
            default="float64",
            help="dtype of X's values (default float64)",
        )
        p.add_argument(
            "--epochs",
            type=int,
            default=5,
            help="epochs of the fixed-epoch SGD contenders and VW's passes (default 5)",
        )
        p.add_argument(
            "--contenders",
            nargs="+",
            choices=CONTENDERS,
            default=list(CONTENDERS),
            help="run only these (default: all)",
        )
        p.add_argument("--no-vw", action="store_true", help="skip Vowpal Wabbit")
        p.add_argument(
            "--workdir",
            default=None,
            help="where the data files go (default: a temporary directory, removed at the end)",
        )
        p.add_argument(
            "--keep-data",
            action="store_true",
            help="keep the data files (in --workdir, or the temporary directory)",
        )
        p.add_argument("--child", default=None, help=argparse.SUPPRESS)  # one fit, internal

    return _common.base_parser(
        __doc__ or "",
        quick_help=f"{QUICK_N:_} training and {QUICK_N_TEST:_} test rows (smoke test)",
        repeats=(3, "timed fits (rounds) per contender, each in a fresh process (default 3)"),
        warmup=(0, "untimed fits in each process before the timed one (default 0)"),
        threads=(1, "fastsgd threads and the BLAS limit (default 1)"),
        own_options=own,
    ).parse_checked(argv)


# --- the data --------------------------------------------------------------------------------


def make_text_like(n_train: int, n_test: int, dtype: Any, seed: int = SEED) -> dict[str, Any]:
    """The CSR problem of the module docstring: X (n_train + n_test rows) and y, split."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n, d = n_train + n_test, N_FEATURES
    draws = np.rint(rng.lognormal(np.log(DRAWS_MEDIAN), DRAWS_SIGMA, n)).astype(np.int64)
    np.maximum(draws, 1, out=draws)
    # Zipf–Mandelbrot ranks by inverting the continuous CDF: P(rank < r) =
    # log((r + q) / q) / log((d + q) / q), q = ZIPF_OFFSET; then rank -> column (a "hash").
    q = ZIPF_OFFSET
    u = rng.random(int(draws.sum()))
    rank = (q * np.exp(u * np.log((d + q) / q)) - q).astype(np.int64)
    del u
    np.minimum(rank, d - 1, out=rank)
    column_of_rank = rng.permutation(d)
    key = np.repeat(np.arange(n, dtype=np.int64) * d, draws)  # row * d + column: sorted by row
    key += column_of_rank[rank]
    del rank
    key.sort()
    first = np.empty(key.size, dtype=bool)  # the first of each (row, column) run
    first[0] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    del first
    counts = np.diff(np.append(starts, key.size))
    key = key[starts]
    del starts
    indices = (key % d).astype(np.int32)
    row_nnz = np.bincount(key // d, minlength=n)
    del key
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(row_nnz, out=indptr[1:])
    # TF-IDF (sublinear tf, smooth idf, document frequencies of the training rows), unit rows
    df = np.bincount(indices[: indptr[n_train]], minlength=d)
    idf = np.log((1.0 + n_train) / (1.0 + df)) + 1.0
    values = (1.0 + np.log(counts)) * idf[indices]
    del counts
    norms = np.sqrt(np.add.reduceat(values * values, indptr[:-1]))  # every row has a non-zero
    values /= np.repeat(norms, row_nnz)
    X = sp.csr_matrix(
        (values.astype(dtype, copy=False), indices, indptr.astype(np.int32)), shape=(n, d)
    )
    # labels: a sparse true weight vector on frequent columns, the median split, 5% flipped
    w_true = np.zeros(d)
    chosen = column_of_rank[rng.choice(INFORMATIVE_AMONG, N_INFORMATIVE, replace=False)]
    w_true[chosen] = rng.standard_normal(N_INFORMATIVE)
    margin = X @ w_true
    y = (margin > np.median(margin[:n_train])).astype(np.int64)
    y[rng.random(n) < LABEL_FLIP] ^= 1
    informative_share = float(np.isin(indices, chosen).mean())
    return {
        "X": X[:n_train],
        "y": y[:n_train],
        "X_test": X[n_train:],
        "y_test": y[n_train:],
        "informative_share": informative_share,
    }


def csr_bytes(X: Any) -> int:
    return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)


def write_vw(path: Path, X: Any, y: Any) -> None:
    """X, y in Vowpal Wabbit's text format, ``-1 |f 123:0.031250 77:0.500000`` per row
    (label -1 or 1; integer feature names, which VW uses as indices instead of hashing
    them; values with 6 decimals, all in (0, 1]). Built as one byte buffer with NumPy."""
    n = X.shape[0]
    idx = X.indices.astype(np.int64)
    row_nnz = np.diff(X.indptr).astype(np.int64)
    ndig = np.ones(idx.size, dtype=np.int64)
    for k in range(1, 8):
        ndig += idx >= 10**k
    tok_len = ndig + 1 + 8 + 1  # digits ':' 'd.dddddd' and ' ' (or '\n' after a row's last)
    neg = np.asarray(y) == 0
    pre_len = np.where(neg, 6, 5)  # "-1 |f " or "1 |f "
    # lengths in file order: row i's prefix, then its tokens
    row_of_tok = np.repeat(np.arange(n), row_nnz)
    pos_pre = X.indptr[:-1].astype(np.int64) + np.arange(n)
    pos_tok = np.arange(idx.size) + row_of_tok + 1
    lengths = np.empty(n + idx.size, dtype=np.int64)
    lengths[pos_pre] = pre_len
    lengths[pos_tok] = tok_len
    start = np.concatenate(([0], np.cumsum(lengths)))
    buf = np.full(int(start[-1]), ord(" "), dtype=np.uint8)
    s_pre = start[pos_pre]
    for offset, char in enumerate(b"-1 |f "):
        buf[s_pre[neg] + offset] = char
    for offset, char in enumerate(b"1 |f "):
        buf[s_pre[~neg] + offset] = char
    s_tok = start[pos_tok]
    for k in range(8):  # the index's digits, right to left
        has = ndig > k
        buf[(s_tok + ndig - 1 - k)[has]] = ord("0") + (idx[has] // 10**k) % 10
    s_val = s_tok + ndig
    buf[s_val] = ord(":")
    fixed = np.rint(np.asarray(X.data, dtype=np.float64) * 1e6).astype(np.int64)
    buf[s_val + 1] = ord("0") + fixed // 10**6
    buf[s_val + 2] = ord(".")
    for k in range(6):
        buf[s_val + 8 - k] = ord("0") + (fixed // 10**k) % 10
    buf[start[pos_tok + 1][np.diff(np.append(row_of_tok, n)) != 0] - 1] = ord("\n")
    buf.tofile(path)


# --- one fit, in its own process ----------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _memory() -> dict[str, float]:
    return {
        "rss_mib": _status_kib("VmRSS") / 1024,
        "hwm_mib": _status_kib("VmHWM") / 1024,
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _fit_function(key: str, spec: dict[str, Any]) -> tuple[Callable[[Any, Any], Any], str]:
    """The contender's fit(X, y) -> model, after importing what it needs; and how it scores."""
    epochs, threads = spec["epochs"], spec["threads"]
    if key in ("fastsgd", "fastsgd_epochs", "fastsgd_one"):
        import fastsgd

        extra = {"fastsgd": {}, "fastsgd_epochs": {"epochs": epochs}, "fastsgd_one": {"epochs": 1}}[
            key
        ]

        # fastsgd's estimators are loaded on first use (with the scikit-learn modules their
        # base classes come from): load them here, before the baseline memory and the timer,
        # as the scikit-learn contenders' imports are
        estimator = fastsgd.SGDClassifier

        def fit(X: Any, y: Any) -> Any:
            return estimator(random_state=0, n_threads=threads, **extra).fit(X, y)

        return fit, "score"
    if key in ("dropin_epochs", "dropin", "sklearn_epochs", "sklearn"):
        if key.startswith("dropin"):
            from fastsgd.linear_model import SGDClassifier

            extra = {"n_threads": threads}
        else:
            from sklearn.linear_model import SGDClassifier  # type: ignore[no-redef]

            extra = {}
        if key.endswith("_epochs"):
            extra.update(max_iter=epochs, tol=None)

        def fit(X: Any, y: Any) -> Any:
            return SGDClassifier(random_state=0, **extra).fit(X, y)

        return fit, "score"
    if key == "sklearn_lr":
        from sklearn.linear_model import LogisticRegression

        def fit(X: Any, y: Any) -> Any:
            return LogisticRegression().fit(X, y)

        return fit, "score"
    raise ValueError(f"unknown contender {key!r}")


def _timed_call(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    gc.collect()
    gc.disable()
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t0, time.process_time() - c0
    finally:
        gc.enable()


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One fit of one contender (in a fresh process); returns what it measured."""
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    key = spec["contender"]
    if key == "vw":
        return _run_vw_child(spec)
    fit, _ = _fit_function(key, spec)
    caught: list[str] = []
    with threadpool_limits(limits=spec["threads"]):
        base = _memory()
        X = sp.load_npz(spec["train_X"])
        y = np.load(spec["train_y"])
        loaded = _memory()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            for _ in range(spec["warmup"]):
                fit(X, y)
            model, wall, cpu = _timed_call(functools.partial(fit, X, y))
        caught = sorted({f"{x.category.__name__}: {str(x.message)[:80]}" for x in w})
        peak = _memory()
        del X, y
        Xt = sp.load_npz(spec["test_X"])
        yt = np.load(spec["test_y"])
        accuracy = float(model.score(Xt, yt))
    n_iter = getattr(model, "n_iter_", getattr(model, "n_epochs_", None))
    if n_iter is not None:
        n_iter = int(np.max(n_iter))
    elif key.startswith("fastsgd"):
        n_iter = len(getattr(model, "loss_history_", [])) or None
    return {
        "fit_s": wall,
        "cpu_s": cpu,
        "accuracy": accuracy,
        "n_iter": n_iter,
        "warnings": caught,
        "memory": {"baseline": base, "loaded": loaded, "peak": peak},
    }


def vw_train_args(spec: dict[str, Any], *, parse: bool) -> list[str]:
    common = ["--loss_function", "logistic", "-b", "20", "--holdout_off", "--quiet"]
    if parse:  # text -> cache, with its one pass of training
        return ["-d", spec["train_vw"], "--cache_file", spec["cache"], "--passes", "1", *common]
    return [
        "--cache_file",
        spec["cache"],
        "--passes",
        str(spec["epochs"]),
        "-f",
        spec["model"],
        *common,
    ]


def _run_vw_child(spec: dict[str, Any]) -> dict[str, Any]:
    import vowpalwabbit

    def train(args: list[str]) -> None:
        ws = vowpalwabbit.Workspace(arg_list=args)
        ws.finish()

    base = _memory()
    if spec.get("vw_parse"):
        _, wall, cpu = _timed_call(lambda: train(vw_train_args(spec, parse=True)))
        return {"fit_s": wall, "cpu_s": cpu, "memory": {"baseline": base, "peak": _memory()}}
    for _ in range(spec["warmup"]):
        train(vw_train_args(spec, parse=False))
    _, wall, cpu = _timed_call(lambda: train(vw_train_args(spec, parse=False)))
    peak = _memory()
    preds = Path(spec["model"] + ".pred")
    predict = ["-t", "-i", spec["model"], "-d", spec["test_vw"], "-p", str(preds), "--quiet"]
    vowpalwabbit.Workspace(arg_list=predict).finish()
    score = np.loadtxt(preds, dtype=np.float64, usecols=0, ndmin=1)
    yt = np.load(spec["test_y"])
    accuracy = float(np.mean((score > 0) == (yt == 1)))
    return {
        "fit_s": wall,
        "cpu_s": cpu,
        "accuracy": accuracy,
        "n_iter": spec["epochs"],
        "warnings": [],
        "memory": {"baseline": base, "loaded": base, "peak": peak},
    }


def spawn(spec: dict[str, Any], keep_openblas: bool) -> dict[str, Any]:
    """Run one fit in a fresh interpreter; its result (the last line it prints, JSON)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    if keep_openblas:
        cmd.append(_common.KEEP_OPENBLAS_FLAG)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{spec['contender']} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# --- the parent: data, rounds, report --------------------------------------------------------


def vw_available() -> tuple[bool, str]:
    try:
        import vowpalwabbit
    except ImportError as exc:
        return False, f"vowpalwabbit cannot be imported ({exc}): pip install vowpalwabbit"
    return True, f"vowpalwabbit {getattr(vowpalwabbit, '__version__', '?')}"


def summarize(key: str, runs: list[dict[str, Any]], data_mib: float) -> dict[str, Any]:
    timing = _common.Timing.from_samples([r["fit_s"] for r in runs])
    accs = sorted({round(r["accuracy"], 6) for r in runs})
    mem = [r["memory"] for r in runs]
    peak_over_base = max(m["peak"]["hwm_mib"] - m["baseline"]["rss_mib"] for m in mem)
    peak_over_loaded = max(m["peak"]["hwm_mib"] - m["loaded"]["rss_mib"] for m in mem)
    loaded_over_base = max(m["loaded"]["rss_mib"] - m["baseline"]["rss_mib"] for m in mem)
    return {
        "contender": key,
        "time": timing,
        "cpu_s_median": float(np.median([r["cpu_s"] for r in runs])),
        "accuracy": accs[len(accs) // 2],
        "accuracies": accs,  # one value when every round fitted the same model
        "n_iter": runs[-1]["n_iter"],
        "warnings": sorted({w for r in runs for w in r["warnings"]}),
        "baseline_mib": max(m["baseline"]["rss_mib"] for m in mem),
        "loaded_over_baseline_mib": loaded_over_base,
        "peak_over_baseline_mib": peak_over_base,
        "peak_over_loaded_mib": peak_over_loaded,
        "peak_over_baseline_vs_data": peak_over_base / data_mib,
        "ru_maxrss_mib": max(m["peak"]["ru_maxrss_mib"] for m in mem),
        "runs": runs,
    }


def targets(rows: dict[str, dict[str, Any]], data_mib: float, epochs: int) -> list[_common.Target]:
    out = []
    # the time to scikit-learn's accuracy: the fastest native fit whose accuracy is within
    # 0.5 points of scikit-learn's (or above it), against scikit-learn's time for it
    for base in ("sklearn_epochs", "sklearn"):
        if base not in rows:
            continue
        close = [k for k in ("fastsgd_one", "fastsgd_epochs", "fastsgd") if k in rows
                 and 100 * (rows[k]["accuracy"] - rows[base]["accuracy"]) >= -ACCURACY_TOLERANCE]  # fmt: skip
        if close:
            best = min(close, key=lambda k: rows[k]["time"].median)
            speed = rows[base]["time"].median / rows[best]["time"].median
            label = (f"{short_name(best, epochs)} vs scikit-learn {describe(base, epochs, 1)[1]}, "
                     "at its accuracy or better: speed-up")  # fmt: skip
            out.append(_common.Target(label, speed, SPEEDUP_TARGET))
    limit = data_mib * (1 + MEMORY_SLACK) + MEMORY_EXTRA_MIB
    for key in FASTSGD_KEYS:
        if key in rows:
            out.append(
                _common.Target(
                    f"{short_name(key, epochs)}: peak − baseline",
                    rows[key]["peak_over_baseline_mib"],
                    limit,
                    unit=" MiB",
                    at_most=True,
                )
            )
    return out


def comparison_notes(rows: dict[str, dict[str, Any]], epochs: int) -> list[str]:
    """Side-by-side ratios that are not targets: the drop-in takes scikit-learn's steps (the
    same model; a step's time is its random reads and writes of the weights), fastsgd's
    defaults train a better model. The target is fastsgd's time to scikit-learn's accuracy."""
    same = ("the same per-sample steps in scikit-learn's order: the same model, and a step's "
            "time is its random reads and writes of the weights")  # fmt: skip
    out = []
    for fast, base, label, remark in (
        ("dropin_epochs", "sklearn_epochs",
         f"drop-in vs scikit-learn, both max_iter={epochs}, tol=None", same),
        ("dropin", "sklearn", "drop-in vs scikit-learn, both at their defaults", same),
        ("fastsgd", "sklearn",
         "fastsgd SGDClassifier() vs scikit-learn SGDClassifier(), both at their defaults",
         "fastsgd's defaults train to LogisticRegression's accuracy, not scikit-learn SGD's"),
    ):  # fmt: skip
        if fast in rows and base in rows:
            speed = rows[base]["time"].median / rows[fast]["time"].median
            gap = 100 * (rows[fast]["accuracy"] - rows[base]["accuracy"])
            out.append(f"{label}: {speed:.2f}x, accuracy gap {gap:+.2f} points ({remark})")
    return out


def render(
    machine: dict[str, Any],
    problem: dict[str, Any],
    rows: dict[str, dict[str, Any]],
    tg: list[_common.Target],
    args: argparse.Namespace,
    notes: list[str],
) -> str:
    ref_e = rows.get("sklearn_epochs")
    ref_d = rows.get("sklearn")

    def ratio(ref: dict[str, Any] | None, r: dict[str, Any]) -> str:
        return "" if ref is None else _common.fmt_ratio(ref["time"].median / r["time"].median)

    def acc_gap(r: dict[str, Any]) -> str:
        lr = rows.get("sklearn_lr")
        return "" if lr is None else f"{100 * (r['accuracy'] - lr['accuracy']):+.2f}"

    table = _common.markdown_table(
        [
            "contender",
            "settings",
            "epochs / iter",
            "fit s (IQR)",
            "CPU s",
            f"speed-up vs sklearn SGD max_iter={args.epochs}",
            "speed-up vs sklearn SGD defaults",
            "test accuracy",
            "vs LR (points)",
            "peak − baseline MiB",
            "× data",
            "peak − loaded MiB",
        ],
        [
            [
                describe(k, args.epochs, args.threads)[0],
                describe(k, args.epochs, args.threads)[1],
                "" if r["n_iter"] is None else str(r["n_iter"]),
                f"{r['time'].median:.2f} ({r['time'].iqr:.2f})",
                f"{r['cpu_s_median']:.2f}",
                ratio(ref_e, r),
                ratio(ref_d, r),
                f"{r['accuracy']:.4f}" + ("" if len(r["accuracies"]) == 1 else " *"),
                acc_gap(r),
                f"{r['peak_over_baseline_mib']:.0f}",
                f"{r['peak_over_baseline_vs_data']:.2f}",
                f"{r['peak_over_loaded_mib']:.0f}",
            ]
            for k, r in rows.items()
        ],
        align="llrrrrrrrrrr",
    )
    quick = "\n**Quick run (--quick): a smoke test, not a measurement.**\n" if args.quick else ""
    p = problem
    limit = p["data_mib"] * (1 + MEMORY_SLACK) + MEMORY_EXTRA_MIB
    warn_lines = [
        f"- {describe(k, args.epochs, args.threads)[0]} ({describe(k, args.epochs, args.threads)[1]}): "
        + "; ".join(r["warnings"])
        for k, r in rows.items()
        if r["warnings"]
    ]
    return f"""# Sparse text-like data: fastsgd vs scikit-learn and Vowpal Wabbit
{quick}
{_common.machine_markdown(machine)}
- Threads: {args.threads} for fastsgd (`n_threads`) and the BLAS limit (threadpoolctl);
  scikit-learn's SGDClassifier and its sparse LogisticRegression run on one thread; Vowpal
  Wabbit parses in a thread of its own (see "CPU s").

## The problem

- X: CSR, {p["n_train"]:,} training and {p["n_test"]:,} test rows × 2^20 = {N_FEATURES:,} columns, {p["nnz_per_row"]:.1f} non-zeros a row on average (max {p["max_nnz_row"]}), {p["dtype"]} values, int32 indices. Zipf column frequencies: the most frequent column is in {100 * p["top_column_share"]:.0f}% of the training rows, {p["columns_used"]:,} columns are used by them, {100 * p["rare_share"]:.0f}% of those by at most 5 rows. TF-IDF values, unit rows. Training data: {p["data_mib"]:.1f} MiB (data + indices + indptr).
- y = [X w* > median] with w* sparse (N(0, 1) on {N_INFORMATIVE} of the {INFORMATIVE_AMONG} most frequent columns: {100 * p["informative_share"]:.0f}% of the non-zeros), then {100 * LABEL_FLIP:.0f}% of the labels flipped: {100 * p["positive_rate"]:.1f}% positive; no model can beat {100 * (1 - LABEL_FLIP):.0f}% on average.
- Generated in {p["generate_s"]:.1f} s (NumPy, seed {SEED}); saved uncompressed with `scipy.sparse.save_npz` for the fits' processes.
{p["vw_note"]}

## Results

{args.warmup} untimed + 1 timed fit per process, a fresh process per fit, {args.repeats}
rounds interleaved (every contender once per round); medians.

{table}

What the columns are:
- fit s: the median wall time of one `fit(X, y)` from scratch (validation, label encoding,
  the learning-rate choice included), IQR = interquartile range over the rounds; CPU s:
  the fit's process CPU time: more than the wall time when more than one thread worked, less
  when the process waited for a CPU that other processes held.
- speed-up vs …: scikit-learn SGDClassifier's median fit time (with `max_iter={args.epochs},
  tol=None`, or at its defaults) / this contender's, same run.
- test accuracy: on the {p["n_test"]:,} test rows (`score`; for VW the sign of its
  predictions); `*` when the rounds did not all give the same accuracy (the median is
  shown). vs LR: points above (+) or below LogisticRegression's.
- peak − baseline: the process's peak resident memory (VmHWM) minus its resident memory
  after the imports, before the data were loaded: the training data plus everything the
  fit allocated (largest over the rounds). × data: that / the training data
  ({p["data_mib"]:.1f} MiB). peak − loaded: the same minus what loading the data added,
  i.e. the fit's own working memory (VW loads nothing: it streams its cache file of
  {p.get("vw_cache_mib", 0):.0f} MiB from disk).
  Issue 13's limit for fastsgd: data + 10% + 100 MiB = {limit:.0f} MiB.
{chr(10).join(warn_lines) if warn_lines else ""}

## Targets (issue 13)

{chr(10).join(t.line() for t in tg)}

## Notes

{chr(10).join(f"- {n}" for n in notes) if notes else "- none"}
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_child(json.loads(args.child))))
        return 0
    import scipy.sparse as sp

    n_train = args.n_train or (QUICK_N if args.quick else FULL_N)
    n_test = args.n_test or (QUICK_N_TEST if args.quick else FULL_N_TEST)
    keys = [k for k in CONTENDERS if k in args.contenders]
    notes: list[str] = []
    vw_ok, vw_msg = vw_available()
    if "vw" in keys and (args.no_vw or not vw_ok):
        keys.remove("vw")
        why = "--no-vw" if args.no_vw else vw_msg
        notes.append(f"Vowpal Wabbit skipped: {why}")
        print(f"[bench_sparse] Vowpal Wabbit skipped: {why}", file=sys.stderr, flush=True)
    machine = _common.machine_info(
        threads=args.threads,
        n_train=n_train,
        n_test=n_test,
        dtype=args.dtype,
        epochs=args.epochs,
        repeats=args.repeats,
        warmup=args.warmup,
        quick=args.quick,
        vowpalwabbit=vw_msg if vw_ok else None,
        scipy=_common._version("scipy"),
    )
    _common.announce("bench_sparse", machine, f"{n_train:_} + {n_test:_} rows, {args.dtype}")
    load = _common.OtherLoad()

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-sparse-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        data = make_text_like(n_train, n_test, np.dtype(args.dtype))
        generate_s = time.perf_counter() - t0
        X, y = data["X"], data["y"]
        row_nnz = np.diff(X.indptr)
        col_rows = np.bincount(X.indices, minlength=N_FEATURES)
        used = col_rows > 0
        problem: dict[str, Any] = {
            "n_train": n_train,
            "n_test": n_test,
            "n_features": N_FEATURES,
            "dtype": args.dtype,
            "nnz": int(X.nnz),
            "nnz_per_row": float(row_nnz.mean()),
            "max_nnz_row": int(row_nnz.max()),
            "columns_used": int(used.sum()),
            "top_column_share": float(col_rows.max() / n_train),
            "rare_share": float((col_rows[used] <= 5).mean()),
            "informative_share": data["informative_share"],
            "positive_rate": float(y.mean()),
            "data_bytes": csr_bytes(X),
            "data_mib": csr_bytes(X) / MiB,
            "generate_s": generate_s,
        }
        spec: dict[str, Any] = {
            "train_X": str(workdir / "train_X.npz"),
            "train_y": str(workdir / "train_y.npy"),
            "test_X": str(workdir / "test_X.npz"),
            "test_y": str(workdir / "test_y.npy"),
            "epochs": args.epochs,
            "threads": args.threads,
            "warmup": args.warmup,
        }
        sp.save_npz(spec["train_X"], X, compressed=False)
        sp.save_npz(spec["test_X"], data["X_test"], compressed=False)
        np.save(spec["train_y"], y)
        np.save(spec["test_y"], data["y_test"])
        print(
            f"[bench_sparse] data: {X.shape[0]:_} × {X.shape[1]:_}, {problem['nnz_per_row']:.1f} "
            f"non-zeros a row, {problem['data_mib']:.0f} MiB, generated in {generate_s:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        problem["vw_note"] = ""
        if "vw" in keys:
            spec.update(
                train_vw=str(workdir / "train.vw"),
                test_vw=str(workdir / "test.vw"),
                cache=str(workdir / "train.cache"),
                model=str(workdir / "vw.model"),
            )
            t0 = time.perf_counter()
            write_vw(Path(spec["train_vw"]), X, y)
            write_vw(Path(spec["test_vw"]), data["X_test"], data["y_test"])
            write_s = time.perf_counter() - t0
            parsed = spawn({**spec, "contender": "vw", "vw_parse": True}, args.keep_openblas_env)
            problem.update(
                vw_text_mib=os.path.getsize(spec["train_vw"]) / MiB,
                vw_cache_mib=os.path.getsize(spec["cache"]) / MiB,
                vw_write_s=write_s,
                vw_parse=parsed,
            )
            problem["vw_note"] = (
                f"- For VW: the training rows written in its text format "
                f"({problem['vw_text_mib']:.0f} MiB, {write_s:.1f} s with NumPy, not timed "
                f"against it); its parse into the cache (`-d train.vw --cache_file train.cache"
                f" --passes 1`, with one pass of training) took {parsed['fit_s']:.1f} s "
                f"(CPU {parsed['cpu_s']:.1f} s), once, not part of its fit times; the cache "
                f"holds {problem['vw_cache_mib']:.0f} MiB."
            )
            print(
                f"[bench_sparse] VW: text written in {write_s:.1f} s, parsed + cached in "
                f"{parsed['fit_s']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        del data, X, y

        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
        for r in range(args.repeats):
            for k in keys:
                out = spawn({**spec, "contender": k}, args.keep_openblas_env)
                runs[k].append(out)
                print(
                    f"[bench_sparse] round {r + 1}/{args.repeats} {k:15s} {out['fit_s']:8.2f} s "
                    f"acc {out['accuracy']:.4f} peak {out['memory']['peak']['hwm_mib']:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if args.keep_data:
            print(f"[bench_sparse] data kept in {workdir}", file=sys.stderr)
        elif args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    machine["during_run"] = load.stop()

    rows = {k: summarize(k, runs[k], problem["data_mib"]) for k in keys}
    tg = targets(rows, problem["data_mib"], args.epochs)
    notes = comparison_notes(rows, args.epochs) + notes
    md = render(machine, problem, rows, tg, args, notes)
    print(md)
    if not args.no_write:
        _common.save_results(
            "sparse",
            args.quick,
            md,
            machine,
            problem=problem,
            settings={k: describe(k, args.epochs, args.threads) for k in keys},
            rows=list(rows.values()),
            targets=tg,
            notes=notes,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
