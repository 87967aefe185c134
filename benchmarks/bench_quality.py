"""Quality of the defaults: how close each contender's fit comes to the optimum, and how fast.

The optimum is the exact minimiser of the training objective: least squares
(``LinearRegression``) for regression, ``LogisticRegression`` (lbfgs, its defaults but
``max_iter=1000``) for classification. For every problem and contender the report gives
the test score, its gap to the optimum's, the time of the fit, and the time the
contender needs to come within 1 % and within 0.1 % of the optimum's test loss (mean
squared error, or log loss for classifiers that give probabilities): its fit repeated
with 1, 2, 4, ... epochs (all else as in the row), the time of the first that is within.

Problems (70/30 train/test split; regression over ``--seeds`` seeds):

- regression, y = X w + 1.5 + noise, X ~ N(0, 1), n = 100,000, d = 20, with the noise's
  standard deviation 0.3, 1 and 3 times the signal's (least squares R² about 0.92, 0.5
  and 0.1), and with the low-noise data's columns scaled by 10^U(−3, 3) ("badly scaled");
- classification: scikit-learn's digits (1,797 × 64, 10 classes); a 100,000 × 50
  five-class ``make_classification``; an imbalanced binary one (100,000 × 20, 95 / 5).

Contenders: fastsgd's estimators at their defaults; fastsgd tuned (batches of 256
rows); scikit-learn's SGDRegressor / SGDClassifier at their defaults (for the
classifier, ``loss="log_loss"`` as well, which gives probabilities); the optimum; a
PyTorch mini-batch loop when torch is installed; Vowpal Wabbit when installed: its own
driver (``vowpalwabbit.Workspace(arg_list=[...])``, as ``python -m vowpalwabbit``) on a
cache file (for more than one pass), at its defaults (its normalised adaptive update,
learning rate 0.5) but for the loss: squared for regression; logistic with ``--link
logistic`` (probabilities) for a binary problem; ``--oaa K --loss_function logistic
--probabilities`` for K classes; its epochs are its ``--passes`` (with
``--holdout_off``), one pass (its default) in the fit row. VW's fit time includes
writing the training rows in its text format (the driver alone: ``driver_seconds`` in
the JSON). VW parses in a thread of its own beside the learner, so it may use two cores.

It prints a Markdown report and writes ``results/quality.md`` and ``results/quality.json``
(``--quick``: n = 20,000, ``quality-quick.*``).
"""

from __future__ import annotations

import _common

_common.reexec_without_openblas_overrides()  # before NumPy loads OpenBLAS

import argparse
import importlib.util
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import fastsgd

try:
    from sklearn import linear_model as sk
    from sklearn.datasets import load_digits, make_classification
    from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split
except ImportError:  # pragma: no cover - the bench extra installs it
    sys.exit("bench_quality.py needs scikit-learn: pip install 'fastsgd[bench]'")

FULL_N, QUICK_N = 100_000, 20_000
NOISE = {"low": 0.3, "moderate": 1.0, "high": 3.0}
EPOCH_SWEEP = (1, 2, 4, 8, 16, 32, 64)
R2_TOLERANCE, R2_SCALED_TOLERANCE, ACCURACY_TOLERANCE = 0.005, 0.01, 0.005

Problem = dict[str, Any]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def own(p: argparse.ArgumentParser) -> None:
        p.add_argument("--seeds", type=int, default=3, help="seeds of each regression problem")
        p.add_argument("--no-sweep", action="store_true",
                       help="skip the time-to-1 %% / 0.1 %% sweeps (the fits only)")  # fmt: skip

    return _common.base_parser(
        __doc__ or "",
        quick_help=f"n = {QUICK_N:,} instead of {FULL_N:,}",
        repeats=(1, "timed fits of each contender (median reported)"),
        warmup=(0, "untimed fits first"),
        threads=(2, "fastsgd threads"),
        own_options=own,
    ).parse_checked(argv)


# --- the problems ----------------------------------------------------------------------------


def regression(n: int, noise: float, seed: int, scaled: bool = False) -> Problem:
    rng = np.random.default_rng(seed)
    d = 20
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    signal = X @ w
    y = signal + 1.5 + noise * signal.std() * rng.standard_normal(n)
    if scaled:
        X *= 10.0 ** rng.uniform(-3, 3, d)
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.3, random_state=seed)
    return {"task": "regression", "X": Xt, "y": yt, "X_test": Xv, "y_test": yv}


def classification(name: str, n: int) -> Problem:
    if name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "5 classes":
        X, y = make_classification(n, 50, n_informative=20, n_classes=5, random_state=0)
    else:
        X, y = make_classification(n, 20, n_informative=10, weights=[0.95], random_state=0)
    Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return {"task": "classification", "X": Xt, "y": yt, "X_test": Xv, "y_test": yv}


def problems(n: int, seeds: int) -> Iterator[tuple[str, int, Problem]]:
    for label, ratio in NOISE.items():
        for seed in range(seeds):
            yield f"regression, {label} noise", seed, regression(n, ratio, seed)
    for seed in range(seeds):
        yield "regression, badly scaled", seed, regression(n, NOISE["low"], seed, scaled=True)
    for name in ("digits", "5 classes", "imbalanced"):
        yield f"classification, {name}", 0, classification(name, n)


# --- the contenders ------------------------------------------------------------------------

# name -> (make(epochs or None for its default), whether its epochs are swept)
Contender = tuple[Callable[[int | None], Any], bool]


def _epochs(key: str, e: int | None) -> dict[str, Any]:
    """The epochs option: fastsgd's ``epochs``, or scikit-learn's ``max_iter`` without its
    stopping rule; nothing for the estimator's default."""
    if e is None:
        return {}
    return {"epochs": e} if key == "epochs" else {"max_iter": e, "tol": None}


def contenders(task: str, threads: int) -> dict[str, Contender]:
    n_threads = threads
    fs_est = fastsgd.SGDRegressor if task == "regression" else fastsgd.SGDClassifier
    sk_est = sk.SGDRegressor if task == "regression" else sk.SGDClassifier

    def fs_default(e: int | None) -> Any:
        return fs_est(n_threads=n_threads, random_state=0, **_epochs("epochs", e))

    def fs_tuned(e: int | None) -> Any:  # larger batches: fewer, cheaper steps per row
        return fs_est(batch_size=256, n_threads=n_threads, random_state=0,
                      **_epochs("epochs", e))  # fmt: skip

    def sk_default(e: int | None) -> Any:
        return sk_est(random_state=0, **_epochs("max_iter", e))

    def sk_log(e: int | None) -> Any:
        return sk.SGDClassifier(loss="log_loss", random_state=0, **_epochs("max_iter", e))

    out: dict[str, Contender] = {
        "fastsgd defaults": (fs_default, True),
        "fastsgd tuned": (fs_tuned, True),
        # scikit-learn's classifier defaults to the hinge loss: no probabilities, no log loss
        "scikit-learn SGD defaults": (sk_default, task == "regression"),
    }
    if task == "regression":
        out["least squares (optimum)"] = (lambda e: sk.LinearRegression(), False)
    else:
        out["scikit-learn SGD log_loss"] = (sk_log, True)
        out["lbfgs (optimum)"] = (lambda e: sk.LogisticRegression(max_iter=1000), False)
    if importlib.util.find_spec("torch") is not None:
        out["PyTorch loop (Adam, batch 64)"] = (lambda e: TorchLinear(task, e or 20), True)
    if importlib.util.find_spec("vowpalwabbit") is not None:
        out["Vowpal Wabbit (its driver, defaults)"] = (lambda e: VowpalWabbit(task, e or 1), True)
    return out


class TorchLinear:
    """What a PyTorch user would write: nn.Linear, Adam(lr=1e-3), batches of 64, shuffled."""

    def __init__(self, task: str, epochs: int) -> None:
        self.task, self.epochs = task, epochs

    def fit(self, X: Any, y: Any) -> TorchLinear:
        import torch

        torch.manual_seed(0)
        Xt = torch.as_tensor(X, dtype=torch.float32)
        if self.task == "regression":
            yt = torch.as_tensor(y, dtype=torch.float32)[:, None]
            self.classes_ = None
            out, lossf = 1, torch.nn.MSELoss()
        else:
            self.classes_, codes = np.unique(y, return_inverse=True)
            yt = torch.as_tensor(codes)
            out, lossf = len(self.classes_), torch.nn.CrossEntropyLoss()
        self.model = torch.nn.Linear(X.shape[1], out)
        opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        for _ in range(self.epochs):
            for idx in torch.randperm(len(Xt)).split(64):
                opt.zero_grad()
                lossf(self.model(Xt[idx]), yt[idx]).backward()
                opt.step()
        return self

    def _scores(self, X: Any) -> Any:
        import torch

        with torch.no_grad():
            return self.model(torch.as_tensor(X, dtype=torch.float32)).numpy()

    def predict(self, X: Any) -> Any:
        s = self._scores(X)
        return s[:, 0] if self.classes_ is None else self.classes_[s.argmax(axis=1)]

    def predict_proba(self, X: Any) -> Any:
        s = self._scores(X).astype(np.float64)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def write_vw_dense(path: Path, X: Any, labels: Any = None) -> None:
    """Dense rows in Vowpal Wabbit's text format, ``label |f 0:0.12 1:-0.3 ...`` (the
    column index as the feature's name, which VW uses as its index instead of hashing it;
    ``%.9g``, float32's precision, which VW reads them into); no label when ``labels`` is
    None."""
    d = X.shape[1]
    fmt = "|f " + " ".join(f"{j}:%.9g" for j in range(d))
    rows = np.asarray(X, dtype=np.float64)
    if labels is not None:
        fmt = "%.9g " + fmt
        rows = np.column_stack([np.asarray(labels, dtype=np.float64), rows])
    with open(path, "w") as f:
        f.write("\n".join([fmt % tuple(r) for r in rows.tolist()]))
        f.write("\n")


class VowpalWabbit:
    """Vowpal Wabbit through its own driver, at its defaults but for the loss.

    ``fit`` writes the training rows in VW's text format to a temporary directory and runs
    ``vowpalwabbit.Workspace(arg_list=[...])`` on them with ``--passes N --holdout_off``
    (over a cache file, ``--cache_file ... -k``, when N > 1: VW needs one to make more
    than one pass), saving the model with ``-f``. Regression: ``--loss_function
    squared``, the labels as they are; two classes: ``--loss_function logistic --link
    logistic``, labels -1 / +1, so its predictions are P(second class); K classes: ``--oaa
    K --loss_function logistic --probabilities``, labels 1..K (VW's convention), mapped
    back to the original ones. ``predict`` / ``predict_proba`` write the rows and run a
    second Workspace, ``-t -i model -p preds``. The model is kept in memory as bytes;
    no file outlives a call. ``write_seconds_``, ``driver_seconds_``: the fit's two parts.
    """

    def __init__(self, task: str, passes: int = 1) -> None:
        self.task, self.passes = task, passes

    def fit(self, X: Any, y: Any) -> VowpalWabbit:
        import vowpalwabbit

        t0 = time.perf_counter()
        y = np.asarray(y)
        if self.task == "regression":
            self.classes_ = None
            labels = y
            loss = ["--loss_function", "squared"]
        else:
            self.classes_, codes = np.unique(y, return_inverse=True)
            if len(self.classes_) == 2:
                labels = np.where(codes == 1, 1, -1)
                loss = ["--loss_function", "logistic", "--link", "logistic"]
            else:
                labels = codes + 1
                k = str(len(self.classes_))
                loss = ["--oaa", k, "--loss_function", "logistic", "--probabilities"]
        with tempfile.TemporaryDirectory(prefix="bench-quality-vw-") as tmp:
            data, cache, model = (str(Path(tmp, f)) for f in ("train.vw", "train.cache", "model"))
            write_vw_dense(Path(data), X, labels)
            t1 = time.perf_counter()
            args = ["-d", data, "--passes", str(self.passes), "--holdout_off", *loss]
            if self.passes > 1:
                args += ["--cache_file", cache, "-k"]
            vowpalwabbit.Workspace(arg_list=[*args, "-f", model, "--quiet"]).finish()
            t2 = time.perf_counter()
            self._model = Path(model).read_bytes()
        self.write_seconds_, self.driver_seconds_ = t1 - t0, t2 - t1
        return self

    def _multiclass(self) -> bool:
        return self.classes_ is not None and len(self.classes_) > 2

    def _predictions(self, X: Any) -> Any:
        """VW's predictions: values (regression), P(second class) or an (n, K) array."""
        import vowpalwabbit

        with tempfile.TemporaryDirectory(prefix="bench-quality-vw-") as tmp:
            data, model, preds = (str(Path(tmp, f)) for f in ("test.vw", "model", "preds"))
            Path(model).write_bytes(self._model)
            write_vw_dense(Path(data), X)
            args = ["-t", "-i", model, "-d", data, "-p", preds, "--quiet"]
            if self._multiclass():
                args.append("--probabilities")  # not kept in the model
            vowpalwabbit.Workspace(arg_list=args).finish()
            text = Path(preds).read_text()
        if not self._multiclass():
            return np.array(text.split(), dtype=np.float64)
        pairs = np.array(text.replace(":", " ").split(), dtype=np.float64).reshape(len(X), -1, 2)
        if not (pairs[:, :, 0] == np.arange(1, len(self.classes_) + 1)).all():
            raise RuntimeError("unexpected order of VW's class probabilities")
        proba = pairs[:, :, 1]
        return proba / proba.sum(axis=1, keepdims=True)  # 6 digits in the file: renormalise

    def predict(self, X: Any) -> Any:
        if self.classes_ is None:
            return self._predictions(X)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_proba(self, X: Any) -> Any:
        if self.classes_ is None:
            raise AttributeError("predict_proba: a regressor")
        p = self._predictions(X)
        return p if self._multiclass() else np.column_stack([1 - p, p])


# --- scoring -------------------------------------------------------------------------------


def test_loss(est: Any, p: Problem) -> float | None:
    """Test MSE, or test log loss for a classifier with probabilities (else None)."""
    if p["task"] == "regression":
        return float(mean_squared_error(p["y_test"], est.predict(p["X_test"])))
    if not hasattr(est, "predict_proba"):
        return None
    try:
        proba = est.predict_proba(p["X_test"])
    except AttributeError:  # scikit-learn's hinge loss has no probabilities
        return None
    return float(log_loss(p["y_test"], proba, labels=np.unique(p["y"])))


def score(est: Any, p: Problem) -> float:
    """Test R² (regression) or accuracy."""
    pred = est.predict(p["X_test"])
    if p["task"] == "regression":
        return float(r2_score(p["y_test"], pred))
    return float(accuracy_score(p["y_test"], pred))


def timed_fit(
    make: Callable[[int | None], Any], epochs: int | None, p: Problem, repeats: int
) -> tuple[Any, float]:
    times, est = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        est = make(epochs).fit(p["X"], p["y"])
        times.append(time.perf_counter() - t0)
    return est, float(np.median(times))


def time_to(make: Callable[[int | None], Any], p: Problem, optimum: float,
            tolerances: tuple[float, ...]) -> dict[float, float | None]:  # fmt: skip
    """For each relative tolerance, the fit time with the fewest epochs whose test loss is
    within it of the optimum's (None when even the most epochs are not)."""
    found: dict[float, float | None] = dict.fromkeys(tolerances)
    for epochs in EPOCH_SWEEP:
        est, seconds = timed_fit(make, epochs, p, 1)
        loss = test_loss(est, p)
        if loss is None:
            break
        for tol in tolerances:
            if found[tol] is None and loss <= optimum * (1 + tol):
                found[tol] = seconds
        if all(v is not None for v in found.values()):
            break
    return found


# --- the run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n = QUICK_N if args.quick else FULL_N
    load = _common.OtherLoad()
    machine = _common.machine_info(threads=args.threads)
    rows: list[dict[str, Any]] = []
    warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at max_iter
    for name, seed, p in problems(n, args.seeds):
        entries = contenders(p["task"], args.threads)
        optimum_name = next(k for k in entries if "optimum" in k)
        opt_est, _ = timed_fit(entries[optimum_name][0], None, p, 1)
        opt_loss, opt_score = test_loss(opt_est, p), score(opt_est, p)
        for who, (make, sweeps) in entries.items():
            est, seconds = timed_fit(make, None, p, args.repeats)
            loss = test_loss(est, p)
            row = {
                "problem": name, "seed": seed, "n": len(p["y"]) + len(p["y_test"]),
                "contender": who, "seconds": seconds, "score": score(est, p), "loss": loss,
                "score_gap": opt_score - score(est, p),
                "loss_gap": None if loss is None or opt_loss is None else loss / opt_loss - 1,
            }  # fmt: skip
            if hasattr(est, "driver_seconds_"):  # VW: its driver alone, without the writing
                row["driver_seconds"] = est.driver_seconds_
            if sweeps and not args.no_sweep and opt_loss is not None:
                reach = time_to(make, p, opt_loss, (0.01, 0.001))
                row["time_to_1pct"], row["time_to_01pct"] = reach[0.01], reach[0.001]
            rows.append(row)
            print(f"[quality] {name} seed {seed} {who}: score {row['score']:.4f} "
                  f"(gap {row['score_gap']:+.4f}), {seconds:.2f}s", file=sys.stderr, flush=True)  # fmt: skip
    machine["during_run"] = load.stop()

    def cell(v: float | None, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    def reach(v: Any) -> str:
        return "never" if v is None else f"{v:.3f}"

    table = _common.markdown_table(
        ["problem", "seed", "contender", "test score", "gap to optimum", "test loss / optimum's",
         "fit s", "s to 1 %", "s to 0.1 %"],
        [[r["problem"], r["seed"], r["contender"], f"{r['score']:.4f}", f"{r['score_gap']:+.4f}",
          cell(None if r["loss_gap"] is None else 1 + r["loss_gap"], ".4f"),
          f"{r['seconds']:.3f}",
          reach(r["time_to_1pct"]) if "time_to_1pct" in r else "",
          reach(r["time_to_01pct"]) if "time_to_01pct" in r else ""] for r in rows],
        align="lrlrrrrrr",
    )  # fmt: skip
    targets = []
    for problem in dict.fromkeys(r["problem"] for r in rows):
        gaps = [r["score_gap"] for r in rows
                if r["problem"] == problem and r["contender"] == "fastsgd defaults"]  # fmt: skip
        if problem.startswith("regression"):
            goal = R2_SCALED_TOLERANCE if "scaled" in problem else R2_TOLERANCE
            what = f"fastsgd defaults, {problem}: largest test R² below least squares', × 100"
            targets.append(_common.Target(what, 100 * max(gaps), 100 * goal, unit="",
                                          at_most=True))  # fmt: skip
        elif "imbalanced" not in problem:
            what = f"fastsgd defaults, {problem}: accuracy points below lbfgs's"
            targets.append(_common.Target(what, 100 * max(gaps), 100 * ACCURACY_TOLERANCE,
                                          unit="", at_most=True))  # fmt: skip
    md = "\n\n".join([
        "# Quality of the defaults: distance to the optimum, and the time to get there",
        _common.machine_markdown(machine),
        (
            "Test score: R² (regression) or accuracy; gap: the optimum's minus the "
            "contender's (positive is worse). Test loss: mean squared error, or log loss for "
            "classifiers with probabilities. 's to 1 %': the fit time of the fewest epochs "
            f"(of {', '.join(map(str, EPOCH_SWEEP))}) whose test loss is within 1 % of the "
            "optimum's ('never' when 64 epochs are not)."
            + (
                " Vowpal Wabbit: epochs are its passes; its fit time includes writing the "
                "training rows in its text format (its driver alone: `driver_seconds` in the "
                "JSON)."
                if any("driver_seconds" in r for r in rows)
                else ""
            )
        ),
        table,
        "## Targets",
        "\n".join(t.line() for t in targets),
    ])  # fmt: skip
    print(md)
    if not args.no_write:
        _common.write_results(_common.results_name("quality", args.quick), md,
                              {"machine": machine, "rows": rows,
                               "targets": [t.as_dict() for t in targets]})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
