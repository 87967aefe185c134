"""scikit-learn's ``SGDClassifier`` and ``SGDRegressor``, trained by fastsgd's core.

Change ``from sklearn.linear_model import SGDClassifier`` to
``from fastsgd.linear_model import SGDClassifier`` and nothing else: the same
constructor (parameters, defaults, checks and their messages), the same fitted
attributes (``coef_``, ``intercept_``, ``n_iter_``, ``t_``, ``classes_``,
``n_features_in_``, ``feature_names_in_``), methods, warnings and errors, and the same
algorithm: per-sample SGD in the given order, scikit-learn's learning-rate schedules,
penalties (L1 as the cumulative truncated gradient), averaging, sample and class
weights, one-vs-rest with ``n_jobs``, and its stopping rules. With ``shuffle=False`` the
coefficients equal scikit-learn's to rounding; with ``shuffle=True`` the rows are
visited in scikit-learn's own order for the same ``random_state``, so they do too.

What differs is where the time goes: each epoch runs in fastsgd's C++ core (fused
score, derivative and update of each row, the next rows prefetched), and the loss of
each epoch is summed during it. See ``benchmarks/bench_dropin.py`` for the speed-up.

These classes translate parameters; the training is fastsgd's driver and core, the
same that :func:`fastsgd.fit` and :class:`fastsgd.SGDClassifier` use: every loss,
penalty and schedule here is an entry of fastsgd's registry.

Extras beyond scikit-learn (their defaults leave the results scikit-learn's):

- ``batch_size``: rows per step (None: one, scikit-learn's per-sample SGD); a step
  takes the mean gradient of its rows. ``t_`` then counts steps.
- ``n_threads``: threads for a step's rows (with ``batch_size``) and for predictions;
  on large shuffled data, a second thread reads the rows ahead of the epoch (it only
  reads: the coefficients are the same bits). None: all of fastsgd's threads
  (:func:`fastsgd.get_num_threads`), but one for each one-vs-rest job when ``n_jobs``
  runs several side by side; 1: one thread.

float32 input stays float32, as in scikit-learn (no copy of X); the core keeps the
model in float64, so float32 results differ from scikit-learn's float32 arithmetic in
the last digits. (Since its trajectory cannot be scikit-learn's bit for bit, a float32
row's score is summed in four partial sums, not feature by feature: a shorter critical
path for the step.)

The bookkeeping between epochs and calls (``t_``, ``n_iter_``, the standard and
averaged parameters, warm starts) follows scikit-learn's own code line by line,
including its corner cases: with averaging, for example, ``partial_fit`` restarts a
binary model's unaveraged intercept from the one it started with. Fits are
transactional: a fit that raises leaves the estimator as it was.

Needs scikit-learn (``pip install 'fastsgd[sklearn]'``).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np

try:
    import scipy.sparse as sp
    from joblib import effective_n_jobs
    from scipy.linalg import blas
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
    from sklearn.utils import check_random_state, compute_class_weight
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.extmath import safe_sparse_dot
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastsgd.linear_model needs scikit-learn >= 1.6: pip install 'fastsgd[sklearn]'"
    ) from exc

from fastsgd import _driver as driver
from fastsgd._adapters import native_view, transaction
from fastsgd._data import Dataset
from fastsgd._ext import _core
from fastsgd._registry import LOSSES
from fastsgd._sparse import as_csr, is_sparse
from fastsgd._validation import sorted_labels
from fastsgd.config import FitConfig
from fastsgd.kernels import dot

__all__ = ["SGDClassifier", "SGDRegressor"]

MAX_INT = np.iinfo(np.int32).max
DEFAULT_EPSILON = 0.1
# scikit-learn's limit on |dloss/dz| (its MAX_DLOSS) and its intercept decay for sparse X
_MAX_DLOSS = 1e12
_SPARSE_INTERCEPT_DECAY = 0.01

# scikit-learn's loss names -> fastsgd's registry. Its classification losses read labels
# as +-1 (0/1 for log_loss): the core's types do the same from class labels.
_LOSSES = {
    "hinge": "hinge",
    "squared_hinge": "squared_hinge",
    "perceptron": "perceptron",
    "log_loss": "logistic",
    "modified_huber": "modified_huber",
    "squared_error": "squared_error",
    "huber": "huber",
    "epsilon_insensitive": "epsilon_insensitive",
    "squared_epsilon_insensitive": "squared_epsilon_insensitive",
}
_REGRESSION_LOSSES = ("squared_error", "huber", "epsilon_insensitive",
                      "squared_epsilon_insensitive")  # fmt: skip
_LEARNING_RATES = {"constant", "optimal", "invscaling", "adaptive", "pa1", "pa2"}


def _sample_weight(sample_weight: Any, X: Any, allow_all_zero: bool) -> Any:
    """scikit-learn's checks and messages for sample_weight, in X's dtype."""
    try:
        return _check_sample_weight(
            sample_weight, X, dtype=X.dtype, allow_all_zero_weights=allow_all_zero
        )
    except TypeError:  # scikit-learn < 1.8: no allow_all_zero_weights
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if not allow_all_zero and sw.size and not np.any(sw):
            raise ValueError("Sample weights must contain at least one non-zero number.") from None
        return sw


class _Cancelled(Exception):
    """Another class's fit failed or was interrupted: stop this one."""


# --- one call of scikit-learn's plain_sgd, run by fastsgd's driver ---------------------------


def _sklearn_average(model: Any) -> Any:
    """The averaged coefficients as scikit-learn's reset_wscale forms them at the end of a
    fit: AV + avg_a·V by the BLAS axpy, then scaled by 1/avg_b, with SciPy's BLAS (which
    scikit-learn calls): its coefficients to the bit (OpenBLAS' axpy uses fused
    multiply-adds on blocks of 16 and not on the rest)."""
    state = model.state()
    av = np.array(state["AV"][0], dtype=np.float64)
    a, b = float(state["avg_a"]), float(state["avg_b"])
    if a != 0.0 or b != 1.0:
        av = blas.daxpy(state["V"][0], av, a=a)
        av = blas.dscal(1.0 / b, av)
    return av


class _SGDRun:
    """What scikit-learn's ``_plain_sgd`` does for one binary (or regression) problem,
    done by fastsgd's driver and core: epochs of per-sample (or mini-batch) SGD from the
    given parameters and step counter, scikit-learn's stopping rules, and the results
    written into ``coef`` and ``average_coef`` in place, as scikit-learn does."""

    def __init__(self, est: Any, X: Any, targets: _core.Targets, loss_name: str, *,
                 learning_rate: str, alpha: float, max_iter: int, seed: int,
                 validation_mask: Any, score: Callable[[Any, float], float] | None,
                 intercept_decay: float, cancel: threading.Event | None = None) -> None:  # fmt: skip
        self.est, self.X, self.targets = est, X, targets
        self.loss_name, self.learning_rate = loss_name, learning_rate
        self.alpha, self.max_iter, self.seed = alpha, max_iter, seed
        self.mask, self.score, self.intercept_decay = validation_mask, score, intercept_decay
        self.cancel = cancel

    def config(self) -> FitConfig:
        est = self.est
        lr = self.learning_rate
        tol = est.tol
        schedule, unit, rate = {
            "optimal": ("optimal", "step", 1.0),
            "constant": ("constant", "step", est.eta0),
            "invscaling": ("invscaling", "step", est.eta0),
            # scikit-learn never lowers the rate without a tol
            "adaptive": ("adaptive" if tol is not None else "constant", "epoch", est.eta0),
        }[lr]
        early = bool(est.early_stopping and tol is not None)
        penalty = None if est.penalty is None else str(est.penalty).lower()
        entry = LOSSES[_LOSSES[self.loss_name]]
        return FitConfig(
            loss=entry.name,
            epsilon=float(est.epsilon) if entry.parameter is not None else None,
            learning_rate=float(rate),
            schedule=schedule,
            schedule_unit=unit,
            power_t=float(est.power_t),
            batch_size=getattr(est, "batch_size", None) or 1,
            epochs=int(self.max_iter),
            shuffle="sklearn" if est.shuffle else False,
            seed=int(self.seed),
            penalty=None if penalty in (None, "none") else penalty,
            alpha=float(self.alpha),
            l1_ratio=float(est._get_l1_ratio()),
            average=est.average,
            fit_intercept=bool(est.fit_intercept),
            intercept_decay=float(self.intercept_decay),
            tol=None if tol is None else float(tol),
            n_iter_no_change=int(est.n_iter_no_change),
            early_stopping=early,
            stop_on="validation_score" if early else "objective" if tol is not None else "loss",
            # the loss of each epoch is summed only where scikit-learn's output needs it
            loss_record="progressive" if int(est.verbose) > 0 else "none",
            n_threads=getattr(est, "n_threads", None),
            clip=_MAX_DLOSS,
            sklearn_arithmetic=True,
        )

    def __call__(self, coef: Any, intercept: float, average_coef: Any,
                 average_intercept: float, t: float) -> tuple[Any, float, Any, float, int]:  # fmt: skip
        est = self.est
        cfg = self.config()
        entry = LOSSES[cfg.loss]
        d = coef.shape[0]
        model = _core.Model(1, d, cfg.fit_intercept)
        state = model.state()
        state["V"] = np.asarray(coef, dtype=np.float64).reshape(1, d)
        state["b"] = np.array([float(intercept) if cfg.fit_intercept else 0.0])
        state["t"] = float(t)
        if average_coef is not None:
            state["AV"] = np.asarray(average_coef, dtype=np.float64).reshape(1, d)
            state["ab"] = np.array([float(average_intercept)])
        model = _core.Model.from_state(state)
        model.compute_norms()
        data = Dataset(self.X, self.targets, entry, k=1, vector=True)
        # one-vs-rest jobs run side by side (cancel is theirs): one thread each, unless
        # n_threads says otherwise
        threads = cfg.n_threads or (1 if self.cancel is not None else 0)
        backend = driver.CoreBackend(data, None, threads)
        if threading.current_thread() is not threading.main_thread():
            backend.poll = False
        skip = None
        train_count = self.X.shape[0]
        if self.mask is not None and self.mask.any():
            skip = self.mask.view(np.uint8)
            train_count -= int(self.mask.sum())
        verbose = int(est.verbose)
        report = None
        start = time.time()
        if verbose > 0 or self.cancel is not None:
            report = self._reporter(cfg, train_count, start, verbose)
        score = None
        if self.score is not None and cfg.early_stopping:
            score_fn = self.score

            def score(m: _core.Model) -> float:
                raw = m.state()  # scikit-learn scores its weights before their scale
                return float(score_fn(raw["V"][0], float(raw["b"][0])))

        result = driver.run(
            cfg, backend, model, entry, k=1, vector=True, has_validation=False,
            lr0=float(cfg.learning_rate), skip=skip, score=score, keep_best=False,
            on_nonfinite=_overflow_error, report=report,
            track_objective=verbose > 0,
        )  # fmt: skip
        if verbose > 0 and result.stop_reason in ("tol", "early_stopping", "adaptive"):
            took = time.time() - start
            print(f"Convergence after {result.n_epochs} epochs took {took:.2f} seconds")
        model = result.model
        coef[...] = model.coef()[0]
        b = float(model.bias()[0])
        avg_b = 0.0
        if average_coef is not None:
            average_coef[...] = _sklearn_average(model)
            avg_b = float(model.average_bias()[0])
        self.steps = round(model.t - t)
        return coef, b, average_coef, avg_b, result.n_epochs

    def _reporter(
        self, cfg: FitConfig, train_count: int, start: float, verbose: int
    ) -> Callable[[int, driver.EpochResult, _core.Model, float], None]:
        count = [0]

        def report(epoch: int, r: driver.EpochResult, m: _core.Model, metric: float) -> None:
            if self.cancel is not None and self.cancel.is_set():
                raise _Cancelled
            if verbose <= 0:
                return
            count[0] += r.rows
            raw = m.state()
            w = raw["V"][0] * raw["scale"]
            norm, nnz, bias = float(np.sqrt(w @ w)), np.count_nonzero(raw["V"]), raw["b"][0]
            line = (
                f"Norm: {norm:.2f}, NNZs: {nnz}, Bias: {bias:.6f}, T: {count[0]}, "
                f"Avg. loss: {r.loss_sum / train_count:f}, "
                f"Objective: {r.objective_sum / train_count:f}"
            )
            if cfg.early_stopping:
                line += f", Validation score: {-metric:f}"
            print(f"-- Epoch {epoch}")
            print(line)
            print(f"Total training time: {time.time() - start:.2f} seconds.")

        return report


def _core_source(X: Any) -> Any:
    """X as the core reads it: the array itself, or a CsrMatrix over a CSR matrix's arrays."""
    return as_csr(X) if is_sparse(X) else X


def _intercept_decay(X: Any) -> float:
    """scikit-learn's: the intercept moves 100 times slower on sparse data."""
    return _SPARSE_INTERCEPT_DECAY if is_sparse(X) else 1.0


def _store_params(est: Any, params: dict[str, Any]) -> None:
    """__init__'s arguments as attributes, unchanged (scikit-learn's estimator contract)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


def _overflow_error(epoch: int) -> Exception:
    return ValueError(
        f"Floating-point under-/overflow occurred at epoch #{epoch}. Scaling input data with "
        "StandardScaler or MinMaxScaler might help."
    )


def _make_dataset_draw(random_state: Any) -> None:
    """scikit-learn's make_dataset draws a seed for its dataset; draw it too, so that the
    random state moves on exactly as it does there."""
    random_state.randint(1, np.iinfo(np.int32).max)


# --- the estimators -------------------------------------------------------------------------


class _BaseSGD(BaseEstimator):  # type: ignore[misc]
    """Parameters and bookkeeping shared by both estimators (scikit-learn's BaseSGD)."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "shuffle": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "average": [Interval(Integral, 0, None, closed="neither"), "boolean"],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "power_t": [Interval(Real, None, None, closed="neither")],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [StrOptions(_LEARNING_RATES)],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    # set by the subclasses' __init__
    loss: str
    penalty: str | None
    alpha: float
    l1_ratio: float | None
    fit_intercept: bool
    max_iter: int
    tol: float | None
    shuffle: bool
    verbose: int
    epsilon: float
    random_state: Any
    learning_rate: str
    eta0: float
    power_t: float
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int
    warm_start: bool
    average: bool | int
    batch_size: int | None
    n_threads: int | None
    # fitted (scikit-learn's names, its private ones included)
    coef_: Any
    intercept_: Any
    classes_: Any
    t_: float
    n_iter_: int
    _standard_coef: Any
    _standard_intercept: Any
    _average_coef: Any
    _average_intercept: Any

    def _more_validate_params(self, for_partial_fit: bool = False) -> None:
        if self.early_stopping and for_partial_fit:
            raise ValueError("early_stopping should be False with partial_fit")
        if self.learning_rate == "optimal" and self.alpha == 0:
            raise ValueError(
                "alpha must be > 0 since learning_rate is 'optimal'. alpha is used "
                "to compute the optimal learning rate."
            )
        if self.learning_rate in ("pa1", "pa2"):
            needed = "hinge" if isinstance(self, ClassifierMixin) else "epsilon_insensitive"
            if self.loss != needed:
                raise ValueError(
                    f"Learning rate '{self.learning_rate}' only works with loss '{needed}'."
                )
            raise NotImplementedError(
                f"learning_rate={self.learning_rate!r} (passive-aggressive) is not "
                "available in fastsgd.linear_model; use 'optimal', 'constant', "
                "'invscaling' or 'adaptive'"
            )
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be set when penalty is 'elasticnet'")

    def _get_l1_ratio(self) -> float:
        return 0.0 if self.l1_ratio is None else float(self.l1_ratio)

    def _validate_X_y(self, X: Any, y: Any, reset: bool) -> tuple[Any, Any]:
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
            accept_large_sparse=False, reset=reset,
        )  # fmt: skip
        return native_view(X), y

    def _allocate_parameter_mem(
        self, n_classes: int, n_features: int, input_dtype: Any, coef_init: Any = None,
        intercept_init: Any = None,
    ) -> None:  # fmt: skip
        """scikit-learn's: coef_ and intercept_ from the inits or zeros, and the averages."""
        if n_classes > 2:
            if coef_init is not None:
                coef_init = np.asarray(coef_init, dtype=input_dtype, order="C")
                if coef_init.shape != (n_classes, n_features):
                    raise ValueError("Provided ``coef_`` does not match dataset. ")
                self.coef_ = coef_init
            else:
                self.coef_ = np.zeros((n_classes, n_features), dtype=input_dtype, order="C")
            if intercept_init is not None:
                intercept_init = np.asarray(intercept_init, order="C", dtype=input_dtype)
                if intercept_init.shape != (n_classes,):
                    raise ValueError("Provided intercept_init does not match dataset.")
                self.intercept_ = intercept_init
            else:
                self.intercept_ = np.zeros(n_classes, dtype=input_dtype, order="C")
        else:
            if coef_init is not None:
                coef_init = np.asarray(coef_init, dtype=input_dtype, order="C").ravel()
                if coef_init.shape != (n_features,):
                    raise ValueError("Provided coef_init does not match dataset.")
                self.coef_ = coef_init
            else:
                self.coef_ = np.zeros(n_features, dtype=input_dtype, order="C")
            if intercept_init is not None:
                intercept_init = np.asarray(intercept_init, dtype=input_dtype)
                if intercept_init.shape != (1,) and intercept_init.shape != ():
                    raise ValueError("Provided intercept_init does not match dataset.")
                self.intercept_ = intercept_init.reshape(1)
            else:
                self.intercept_ = np.zeros(1, dtype=input_dtype, order="C")
        if self.average > 0:
            self._standard_coef = self.coef_
            self._average_coef = np.zeros(self.coef_.shape, dtype=input_dtype, order="C")
            self._standard_intercept = self.intercept_
            self._average_intercept = np.zeros(
                self._standard_intercept.shape, dtype=input_dtype, order="C"
            )

    def _make_validation_split(self, y: Any, sample_mask: Any) -> Any:
        n_samples = y.shape[0]
        validation_mask = np.zeros(n_samples, dtype=np.bool_)
        if not self.early_stopping:
            return validation_mask
        splitter = StratifiedShuffleSplit if isinstance(self, ClassifierMixin) else ShuffleSplit
        cv = splitter(test_size=self.validation_fraction, random_state=self.random_state)
        idx_train, idx_val = next(cv.split(np.zeros(shape=(y.shape[0], 1)), y))
        if not np.any(sample_mask[idx_val]):
            raise ValueError(
                "The sample weights for validation set are all zero, consider using a"
                " different random state."
            )
        if idx_train.shape[0] == 0 or idx_val.shape[0] == 0:
            raise ValueError(
                f"Splitting {n_samples} samples into a train set and a validation set "
                f"with validation_fraction={self.validation_fraction!r} led to an empty set "
                f"({idx_train.shape[0]} and {idx_val.shape[0]} samples). Please either change "
                "validation_fraction, increase number of samples, or disable early_stopping."
            )
        validation_mask[idx_val] = True
        return validation_mask

    def _t_after(self, t: float, n_iter: int, n_samples: int, steps: int) -> float:
        """t_ after a call: scikit-learn adds n_iter · n_samples; with batch_size, t_
        counts steps."""
        if self.batch_size is None:
            return t + n_iter * n_samples
        return t + steps

    def _check_convergence(self, stacklevel: int = 4) -> None:
        if self.tol is not None and self.tol > -np.inf and self.n_iter_ == self.max_iter:
            warnings.warn(
                "Maximum number of iteration reached before convergence. Consider "
                "increasing max_iter to improve the fit.",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
        if self.power_t < 0:
            warnings.warn(
                "Negative values for `power_t` are deprecated in version 1.8 and will "
                "raise an error in 1.10. Use values in the range [0.0, inf) instead.",
                FutureWarning,
                stacklevel=stacklevel,
            )

    def _dense_scores(self, X: Any) -> Any:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        coef = self.coef_
        if sp.issparse(coef) or sp.issparse(X):
            return safe_sparse_dot(X, coef.T, dense_output=True) + self.intercept_
        X = native_view(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        intercept = np.asarray(self.intercept_)
        scores = dot(X, np.asarray(coef).T, intercept.astype(np.float64))
        # scikit-learn's dtype: that of X @ coef_.T + intercept_
        return scores.astype(np.result_type(X.dtype, coef.dtype, intercept.dtype), copy=False)

    # --- sparse coefficients (scikit-learn's SparseCoefMixin) ----------------------------

    def densify(self) -> Any:
        """Convert a sparse ``coef_`` (from :meth:`sparsify`) back to a dense array.

        Returns
        -------
        self
        """
        check_is_fitted(self, msg="Estimator, %(name)s, must be fitted before densifying.")
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    def sparsify(self) -> Any:
        """Store ``coef_`` as a scipy.sparse CSR matrix (worth it when most are zero,
        as after an L1 penalty); predictions accept it.

        Returns
        -------
        self
        """
        check_is_fitted(self, msg="Estimator, %(name)s, must be fitted before sparsifying.")
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# --- classification ---------------------------------------------------------------------------


def _encode(y: Any, classes: Any) -> Any:
    """Each label's index in classes (-1 for a label not among them), as int64."""
    if len(classes) == 2:  # one comparison: 1 for the positive class, 0 for the rest
        if y.dtype == np.int64 and y.size and y.min() == 0 and y.max() == 1 and classes[1] == 1:
            return np.ascontiguousarray(y)  # already 0 and 1: read as it is
        return (y == classes[1]).astype(np.int64)
    idx = np.searchsorted(classes, y)
    np.clip(idx, 0, len(classes) - 1, out=idx)
    codes = idx.astype(np.int64, copy=False)
    codes[classes[idx] != y] = -1
    return codes


def _class_weights(class_weight: Any, classes: Any, y: Any, y_labels: Any = None) -> Any:
    """scikit-learn's ``compute_class_weight(class_weight, classes=classes, y=y)``; for
    None, y's labels are counted, not sorted (``np.unique`` of a million labels is ~10 ms,
    and scikit-learn's function sorts y even when every weight is 1), or taken from
    ``y_labels`` when the caller has them (``fit``: the classes are y's labels)."""
    if class_weight is not None:
        return compute_class_weight(class_weight, classes=classes, y=y)
    if y_labels is None:
        y_labels = sorted_labels(y)
    if not np.isin(y_labels, classes).all():
        raise ValueError("classes should include all valid labels that can be in y")
    return np.ones(classes.shape[0], dtype=np.float64)


def _weights(sample_weight: Any) -> Any:
    """The sample weights for the core: None when every weight is 1 (nothing to read)."""
    sw = np.asarray(sample_weight, dtype=np.float64)
    return None if bool((sw == 1.0).all()) else sw


class SGDClassifier(ClassifierMixin, _BaseSGD):  # type: ignore[misc]
    """Linear classifiers (SVM, logistic regression, ...) trained by per-sample SGD:
    scikit-learn's ``SGDClassifier``, trained by fastsgd's core.

    Parameters, attributes and methods are scikit-learn's (see its documentation for
    each); the module docstring says what differs. Two extra keyword parameters:

    Parameters
    ----------
    loss : {'hinge', 'log_loss', 'modified_huber', 'squared_hinge', 'perceptron',
        'squared_error', 'huber', 'epsilon_insensitive', 'squared_epsilon_insensitive'},
        default='hinge'
    penalty : {'l2', 'l1', 'elasticnet', None}, default='l2'
    alpha : float, default=0.0001
    l1_ratio : float, default=0.15
    fit_intercept : bool, default=True
    max_iter : int, default=1000
    tol : float or None, default=1e-3
    shuffle : bool, default=True
    verbose : int, default=0
    epsilon : float, default=0.1
    n_jobs : int or None, default=None
        Threads fitting the one-vs-rest problems at once.
    random_state : int, RandomState instance or None, default=None
    learning_rate : {'optimal', 'constant', 'invscaling', 'adaptive'}, default='optimal'
    eta0 : float, default=0.01
    power_t : float, default=0.5
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    class_weight : dict, 'balanced' or None, default=None
    warm_start : bool, default=False
    average : bool or int, default=False
    batch_size : int or None, default=None
        fastsgd's extra: rows per step (None: one row, scikit-learn's SGD).
    n_threads : int or None, default=None
        fastsgd's extra: threads for a step's rows, for predictions and for reading
        shuffled rows ahead (None: all of fastsgd's threads; the same results for any).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_ : int
    classes_ : ndarray of shape (n_classes,)
    t_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from fastsgd.linear_model import SGDClassifier
    >>> X = np.array([[-1.0, -1.0], [-2.0, -1.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = np.array([1, 1, 2, 2])
    >>> clf = SGDClassifier(max_iter=1000, tol=1e-3).fit(X, y)
    >>> clf.predict([[-0.8, -1]])
    array([1])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_BaseSGD._parameter_constraints,
        "loss": [StrOptions(set(_LOSSES))],
        "n_jobs": [Integral, None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        loss: str = "hinge",
        *,
        penalty: str | None = "l2",
        alpha: float = 0.0001,
        l1_ratio: float | None = 0.15,
        fit_intercept: bool = True,
        max_iter: int = 1000,
        tol: float | None = 1e-3,
        shuffle: bool = True,
        verbose: int = 0,
        epsilon: float = DEFAULT_EPSILON,
        n_jobs: int | None = None,
        random_state: Any = None,
        learning_rate: str = "optimal",
        eta0: float = 0.01,
        power_t: float = 0.5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        class_weight: Any = None,
        warm_start: bool = False,
        average: bool | int = False,
        batch_size: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        _store_params(self, locals())

    # --- fit ------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, coef_init: Any = None, intercept_init: Any = None,
            sample_weight: Any = None) -> SGDClassifier:  # fmt: skip
        """Fit linear model with Stochastic Gradient Descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        coef_init : ndarray of shape (n_classes, n_features), default=None
        intercept_init : ndarray of shape (n_classes,), default=None
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        self._validate_params()
        self._more_validate_params()
        with transaction(self, copy_fitted=True):
            self._fit(X, y, coef_init, intercept_init, sample_weight)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> SGDClassifier:  # fmt: skip
        """One epoch of stochastic gradient descent on the given samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class of every call; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        self._validate_params()
        if not hasattr(self, "classes_"):
            self._more_validate_params(for_partial_fit=True)
            if self.class_weight == "balanced":
                raise ValueError(
                    f"class_weight '{self.class_weight}' is not supported for "
                    "partial_fit. In order to use 'balanced' weights,"
                    f" use compute_class_weight('{self.class_weight}', "
                    "classes=classes, y=y). "
                    "In place of y you can use a large enough sample "
                    "of the full training set target to properly "
                    "estimate the class frequency distributions. "
                    "Pass the resulting weights as the class_weight "
                    "parameter."
                )
        with transaction(self, copy_fitted=True):
            self._partial_fit(X, y, self.alpha, self.loss, self.learning_rate, 1, classes,
                              sample_weight, None, None)  # fmt: skip
        return self

    def _fit(self, X: Any, y: Any, coef_init: Any, intercept_init: Any,
             sample_weight: Any) -> None:  # fmt: skip
        if hasattr(self, "classes_"):
            delattr(self, "classes_")
        y = validate_data(self, y=y)
        classes = sorted_labels(y)
        if self.warm_start and hasattr(self, "coef_"):
            if coef_init is None:
                coef_init = self.coef_
            if intercept_init is None:
                intercept_init = self.intercept_
        else:
            self.coef_ = None
            self.intercept_ = None
        if self.average > 0:
            self._standard_coef = self.coef_
            self._standard_intercept = self.intercept_
            self._average_coef = None
            self._average_intercept = None
        self.t_ = 1.0
        self._partial_fit(X, y, self.alpha, self.loss, self.learning_rate, self.max_iter,
                          classes, sample_weight, coef_init, intercept_init,
                          y_labels=classes)  # fmt: skip
        self._check_convergence()

    def _partial_fit(self, X: Any, y: Any, alpha: float, loss: str, learning_rate: str,
                     max_iter: int, classes: Any, sample_weight: Any, coef_init: Any,
                     intercept_init: Any, y_labels: Any = None) -> None:  # fmt: skip
        """scikit-learn's _partial_fit (y_labels: y's distinct labels, when known)."""
        first_call = not hasattr(self, "classes_")
        X, y = self._validate_X_y(X, y, reset=first_call)
        n_features = X.shape[1]
        if getattr(self, "classes_", None) is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            if getattr(self, "classes_", None) is not None:
                if not np.array_equal(self.classes_, unique_labels(classes)):
                    raise ValueError(
                        f"`classes={classes!r}` is not the same as on last call "
                        f"to partial_fit, was: {self.classes_!r}"
                    )
            else:
                self.classes_ = unique_labels(classes)
        n_classes = self.classes_.shape[0]
        self._expanded_class_weight = _class_weights(self.class_weight, self.classes_, y, y_labels)
        sample_weight = _sample_weight(sample_weight, X, allow_all_zero=self.early_stopping)
        if getattr(self, "coef_", None) is None or coef_init is not None:
            self._allocate_parameter_mem(n_classes, n_features, X.dtype, coef_init,
                                         intercept_init)  # fmt: skip
        elif n_features != self.coef_.shape[-1]:
            raise ValueError(
                f"Number of features {n_features} does not match previous data "
                f"{self.coef_.shape[-1]}."
            )
        if not hasattr(self, "t_"):
            self.t_ = 1.0
        if n_classes > 2:
            self._fit_multiclass(X, y, alpha, learning_rate, sample_weight, max_iter)
        elif n_classes == 2:
            self._fit_binary(X, y, alpha, learning_rate, sample_weight, max_iter)
        else:
            raise ValueError(
                f"The number of classes has to be greater than one; got {n_classes} class"
            )

    def _binary_run(self, i: int, X: Any, y: Any, codes: Any, alpha: float,
                    learning_rate: str, max_iter: int, pos_weight: float, neg_weight: float,
                    sample_weight: Any, validation_mask: Any = None, random_state: Any = None,
                    cancel: threading.Event | None = None,
                    X_core: Any = None) -> tuple[Any, float, int, int]:  # fmt: skip
        """scikit-learn's fit_binary: class i against the rest (X_core: X as the core reads
        it, when the caller made it once for every class)."""
        y_i = y  # scikit-learn's encoded targets: needed for the validation split only
        if self.early_stopping:
            y_i = np.ones(y.shape, dtype=X.dtype, order="C")
            y_i[y != self.classes_[i]] = 0.0 if self.loss == "log_loss" else -1.0
        average_intercept, average_coef = 0.0, None
        if len(self.classes_) == 2:
            if not self.average:
                coef, intercept = self.coef_.ravel(), self.intercept_[0]
            else:
                coef, intercept = self._standard_coef.ravel(), self._standard_intercept[0]
                average_coef = self._average_coef.ravel()
                average_intercept = self._average_intercept[0]
        else:
            if not self.average:
                coef, intercept = self.coef_[i], self.intercept_[i]
            else:
                coef, intercept = self._standard_coef[i], self._standard_intercept[i]
                average_coef = self._average_coef[i]
                average_intercept = self._average_intercept[i]

        random_state = check_random_state(random_state)
        _make_dataset_draw(random_state)
        if validation_mask is None:
            validation_mask = self._make_validation_split(y_i, sample_mask=sample_weight > 0)
        score = None
        if self.early_stopping:
            X_val, y_val = X[validation_mask], y_i[validation_mask]
            sw_val = sample_weight[validation_mask]

            def score(w: Any, b: float) -> float:
                # scikit-learn's validation score: its classes here are (-1, 1)
                pred = np.where(X_val @ w.astype(X.dtype) + b > 0, 1.0, -1.0)
                return float(accuracy_score(y_val, pred, sample_weight=sw_val))

        seed = random_state.randint(MAX_INT)
        # the core reads codes == i as a byte a row (on shuffled rows each row's target
        # is a cache line of its own: n bytes stay in cache where 8n do not)
        targets = _core.Targets(
            labels=codes, positive=i, sample_weight=_weights(sample_weight),
            pos_weight=float(pos_weight), neg_weight=float(neg_weight),
            positive_mask=(codes == i).view(np.uint8),
        )  # fmt: skip
        run = _SGDRun(
            self, _core_source(X) if X_core is None else X_core, targets, self.loss,
            learning_rate=learning_rate, alpha=alpha, max_iter=max_iter, seed=seed,
            validation_mask=validation_mask, score=score, intercept_decay=_intercept_decay(X),
            cancel=cancel,
        )  # fmt: skip
        coef, intercept, average_coef, average_intercept, n_iter_ = run(
            coef, intercept, average_coef, average_intercept, self.t_
        )
        if self.average:
            if len(self.classes_) == 2:
                self._average_intercept[0] = average_intercept
            else:
                self._average_intercept[i] = average_intercept
        return coef, intercept, n_iter_, run.steps

    def _fit_binary(self, X: Any, y: Any, alpha: float, learning_rate: str,
                    sample_weight: Any, max_iter: int) -> None:  # fmt: skip
        codes = _encode(y, self.classes_)
        coef, intercept, n_iter_, steps = self._binary_run(
            1, X, y, codes, alpha, learning_rate, max_iter, self._expanded_class_weight[1],
            self._expanded_class_weight[0], sample_weight, random_state=self.random_state,
        )  # fmt: skip
        self.t_ = self._t_after(self.t_, n_iter_, X.shape[0], steps)
        self.n_iter_ = n_iter_
        if self.average > 0:
            if self.average <= self.t_ - 1:
                self.coef_ = self._average_coef.reshape(1, -1)
                self.intercept_ = self._average_intercept
            else:
                self.coef_ = self._standard_coef.reshape(1, -1)
                self._standard_intercept = np.atleast_1d(intercept)
                self.intercept_ = self._standard_intercept
        else:
            self.coef_ = coef.reshape(1, -1)
            self.intercept_ = np.atleast_1d(intercept)

    def _fit_multiclass(self, X: Any, y: Any, alpha: float, learning_rate: str,
                        sample_weight: Any, max_iter: int) -> None:  # fmt: skip
        validation_mask = self._make_validation_split(y, sample_mask=sample_weight > 0)
        random_state = check_random_state(self.random_state)
        seeds = random_state.randint(MAX_INT, size=len(self.classes_))
        codes = _encode(y, self.classes_)
        jobs = max(1, min(int(effective_n_jobs(self.n_jobs)), len(self.classes_)))
        X_core = _core_source(X)

        def one(i: int, cancel: threading.Event | None = None) -> tuple[Any, float, int, int]:
            return self._binary_run(
                i, X, y, codes, alpha, learning_rate, max_iter,
                self._expanded_class_weight[i], 1.0, sample_weight,
                validation_mask=validation_mask, random_state=seeds[i], cancel=cancel,
                X_core=X_core,
            )  # fmt: skip

        if jobs == 1:
            result = [one(i) for i in range(len(seeds))]
        else:
            cancel = threading.Event()
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(one, i, cancel) for i in range(len(seeds))]
                try:
                    result = [f.result() for f in futures]
                except BaseException:
                    cancel.set()  # the other classes stop after their current epoch
                    raise
        n_iter_, steps = 0, 0
        for i, (_, intercept, n_iter_i, steps_i) in enumerate(result):
            self.intercept_[i] = intercept
            n_iter_ = max(n_iter_, n_iter_i)
            steps = max(steps, steps_i)
        self.t_ = self._t_after(self.t_, n_iter_, X.shape[0], steps)
        self.n_iter_ = n_iter_
        if self.average > 0:
            if self.average <= self.t_ - 1.0:
                self.coef_ = self._average_coef
                self.intercept_ = self._average_intercept
            else:
                self.coef_ = self._standard_coef
                self._standard_intercept = np.atleast_1d(self.intercept_)
                self.intercept_ = self._standard_intercept

    # --- predictions ------------------------------------------------------------------------

    def decision_function(self, X: Any) -> Any:
        """Confidence scores: ``X @ coef_.T + intercept_``, (n_samples,) for two classes
        (the score of ``classes_[1]``), else (n_samples, n_classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray
        """
        scores = self._dense_scores(X)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X: Any) -> Any:
        """The class of the highest score (two classes: ``classes_[1]`` when its score is
        > 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        indices = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[indices]

    def _check_proba(self) -> bool:
        if self.loss not in ("log_loss", "modified_huber"):
            raise AttributeError(f"probability estimates are not available for loss={self.loss!r}")
        return True

    @available_if(_check_proba)  # type: ignore[untyped-decorator]
    def predict_proba(self, X: Any) -> Any:
        """Probability estimates (log_loss and modified_huber only), as scikit-learn
        computes them: one-vs-rest probabilities normalised over the classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        scores = self.decision_function(X)
        if self.loss == "log_loss":
            from scipy.special import expit

            prob = expit(scores)
            if prob.ndim == 1:
                return np.vstack([1 - prob, prob]).T
            prob /= prob.sum(axis=1).reshape((prob.shape[0], -1))
            return prob
        binary = len(self.classes_) == 2
        if binary:
            prob2 = np.ones((scores.shape[0], 2))
            prob = prob2[:, 1]
        else:
            prob = scores
        np.clip(scores, -1, 1, prob)
        prob += 1.0
        prob /= 2.0
        if binary:
            prob2[:, 0] -= prob
            return prob2
        prob_sum = prob.sum(axis=1)
        all_zero = prob_sum == 0
        if np.any(all_zero):
            prob[all_zero, :] = 1
            prob_sum[all_zero] = len(self.classes_)
        prob /= prob_sum.reshape((prob.shape[0], -1))
        return prob

    @available_if(_check_proba)  # type: ignore[untyped-decorator]
    def predict_log_proba(self, X: Any) -> Any:
        """The logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))


# --- regression -------------------------------------------------------------------------------


class SGDRegressor(RegressorMixin, _BaseSGD):  # type: ignore[misc]
    """Linear regression trained by per-sample SGD: scikit-learn's ``SGDRegressor``,
    trained by fastsgd's core.

    Parameters, attributes and methods are scikit-learn's (see its documentation for
    each); the module docstring says what differs.

    Parameters
    ----------
    loss : {'squared_error', 'huber', 'epsilon_insensitive',
        'squared_epsilon_insensitive'}, default='squared_error'
    penalty : {'l2', 'l1', 'elasticnet', None}, default='l2'
    alpha : float, default=0.0001
    l1_ratio : float, default=0.15
    fit_intercept : bool, default=True
    max_iter : int, default=1000
    tol : float or None, default=1e-3
    shuffle : bool, default=True
    verbose : int, default=0
    epsilon : float, default=0.1
    random_state : int, RandomState instance or None, default=None
    learning_rate : {'invscaling', 'constant', 'optimal', 'adaptive'}, default='invscaling'
    eta0 : float, default=0.01
    power_t : float, default=0.25
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    warm_start : bool, default=False
    average : bool or int, default=False
    batch_size : int or None, default=None
        fastsgd's extra: rows per step (None: one row, scikit-learn's SGD).
    n_threads : int or None, default=None
        fastsgd's extra: threads for a step's rows, for predictions and for reading
        shuffled rows ahead (None: all of fastsgd's threads; the same results for any).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : ndarray of shape (1,)
    n_iter_ : int
    t_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from fastsgd.linear_model import SGDRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 3)
    >>> y = X @ [1.0, 2.0, -1.0] + 0.5
    >>> reg = SGDRegressor(random_state=0).fit(X, y)
    >>> reg.coef_.round(1), reg.intercept_.round(1)
    (array([ 1.,  2., -1.]), array([0.5]))
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_BaseSGD._parameter_constraints,
        "loss": [StrOptions(set(_REGRESSION_LOSSES))],
    }

    def __init__(
        self,
        loss: str = "squared_error",
        *,
        penalty: str | None = "l2",
        alpha: float = 0.0001,
        l1_ratio: float | None = 0.15,
        fit_intercept: bool = True,
        max_iter: int = 1000,
        tol: float | None = 1e-3,
        shuffle: bool = True,
        verbose: int = 0,
        epsilon: float = DEFAULT_EPSILON,
        random_state: Any = None,
        learning_rate: str = "invscaling",
        eta0: float = 0.01,
        power_t: float = 0.25,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        warm_start: bool = False,
        average: bool | int = False,
        batch_size: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        _store_params(self, locals())

    def fit(self, X: Any, y: Any, coef_init: Any = None, intercept_init: Any = None,
            sample_weight: Any = None) -> SGDRegressor:  # fmt: skip
        """Fit linear model with Stochastic Gradient Descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        coef_init : ndarray of shape (n_features,), default=None
        intercept_init : ndarray of shape (1,), default=None
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        self._validate_params()
        self._more_validate_params()
        with transaction(self, copy_fitted=True):
            if self.warm_start and getattr(self, "coef_", None) is not None:
                if coef_init is None:
                    coef_init = self.coef_
                if intercept_init is None:
                    intercept_init = self.intercept_
            else:
                self.coef_ = None
                self.intercept_ = None
            self.t_ = 1.0
            self._partial_fit(X, y, self.alpha, self.loss, self.learning_rate, self.max_iter,
                              sample_weight, coef_init, intercept_init)  # fmt: skip
            self._check_convergence(stacklevel=3)
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> SGDRegressor:
        """One epoch of stochastic gradient descent on the given samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        self._validate_params()
        if not hasattr(self, "coef_"):
            self._more_validate_params(for_partial_fit=True)
        with transaction(self, copy_fitted=True):
            self._partial_fit(X, y, self.alpha, self.loss, self.learning_rate, 1,
                              sample_weight, None, None)  # fmt: skip
        return self

    def _partial_fit(self, X: Any, y: Any, alpha: float, loss: str, learning_rate: str,
                     max_iter: int, sample_weight: Any, coef_init: Any,
                     intercept_init: Any) -> None:  # fmt: skip
        first_call = getattr(self, "coef_", None) is None
        X, y = self._validate_X_y(X, y, reset=first_call)
        y = y.astype(X.dtype, copy=False)
        n_features = X.shape[1]
        sample_weight = _sample_weight(sample_weight, X, allow_all_zero=False)
        if first_call:
            self._allocate_parameter_mem(1, n_features, X.dtype, coef_init, intercept_init)
        if self.average > 0 and getattr(self, "_average_coef", None) is None:
            self._average_coef = np.zeros(n_features, dtype=X.dtype, order="C")
            self._average_intercept = np.zeros(1, dtype=X.dtype, order="C")
        self._fit_regressor(X, y, alpha, learning_rate, sample_weight, max_iter)

    def _fit_regressor(self, X: Any, y: Any, alpha: float, learning_rate: str,
                       sample_weight: Any, max_iter: int) -> None:  # fmt: skip
        if not hasattr(self, "t_"):
            self.t_ = 1.0
        validation_mask = self._make_validation_split(y, sample_mask=sample_weight > 0)
        score = None
        if self.early_stopping:
            X_val, y_val = X[validation_mask], y[validation_mask]
            sw_val = sample_weight[validation_mask]

            def score(w: Any, b: float) -> float:
                pred = X_val @ w.astype(X.dtype) + b
                return float(r2_score(y_val, pred, sample_weight=sw_val))

        random_state = check_random_state(self.random_state)
        seed = random_state.randint(0, MAX_INT)
        _make_dataset_draw(random_state)
        coef: Any
        intercept: Any
        average_coef: Any
        average_intercept: Any
        if self.average:
            coef, intercept = self._standard_coef, self._standard_intercept
            average_coef, average_intercept = self._average_coef, self._average_intercept
        else:
            coef, intercept = self.coef_, self.intercept_
            average_coef, average_intercept = None, [0.0]
        targets = _core.Targets(Y=y.reshape(-1, 1), sample_weight=_weights(sample_weight))
        run = _SGDRun(
            self, _core_source(X), targets, self.loss, learning_rate=learning_rate, alpha=alpha,
            max_iter=max_iter, seed=seed, validation_mask=validation_mask, score=score,
            intercept_decay=_intercept_decay(X),
        )  # fmt: skip
        coef, intercept, average_coef, average_intercept, self.n_iter_ = run(
            coef, intercept[0], average_coef, average_intercept[0], self.t_
        )
        self.t_ = self._t_after(self.t_, self.n_iter_, X.shape[0], run.steps)
        if self.average > 0:
            self._average_intercept = np.atleast_1d(average_intercept)
            self._standard_intercept = np.atleast_1d(intercept)
            if self.average <= self.t_ - 1.0:
                self.coef_ = average_coef
                self.intercept_ = np.atleast_1d(average_intercept)
            else:
                self.coef_ = coef
                self.intercept_ = np.atleast_1d(intercept)
        else:
            self.intercept_ = np.atleast_1d(intercept)

    def predict(self, X: Any) -> Any:
        """``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._dense_scores(X).ravel()
