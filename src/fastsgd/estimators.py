"""scikit-learn estimators on top of fastsgd's trainer: ``SGDRegressor`` and ``SGDClassifier``.

They follow scikit-learn's estimator contract (``__init__`` stores the
parameters, ``fit`` validates and returns ``self``, learned attributes end in
``_``), so they work in ``Pipeline``, ``GridSearchCV``, ``clone`` and pickling,
and they pass scikit-learn's own estimator checks. The training itself is the
driver of :func:`fastsgd.fit` on a :class:`fastsgd.FitConfig` built from the
parameters: the mini-batch loop runs in C++, the intercept is learned inside the
kernel (X is never copied to add a column of ones), and float32 input stays
float32.

A fit is transactional: if it raises (bad input, a diverging rate, Ctrl-C), the
estimator keeps exactly the state it had before the call.

Where the data lives is a separate concern: in-memory arrays here, dask arrays in
:mod:`fastsgd.dask`, which gives the estimators the same interface to its data
(validation, labels, the validation split, the backend that runs epochs and
predictions) and uses the estimators' own fit logic.

This module needs scikit-learn (``pip install 'fastsgd[sklearn]'``); the rest of
fastsgd does not.

How ``learning_rate="auto"`` is chosen
--------------------------------------
The rate is ``1 / (c·λ_max + c·tr(A)/B)`` (:func:`fastsgd.auto_learning_rate`), where
``A = X̃ᵀX̃/n`` is the second-moment matrix of the rows with the intercept's 1
appended (``X̃ = [X, 1]`` when ``fit_intercept``), ``λ_max`` its largest eigenvalue
(a few power iterations in C++, each one fused pass over X), ``B`` the batch size
and ``c`` the curvature of the loss relative to ``A`` (2/k for the mean squared
error over k outputs, 1/2 for softmax cross-entropy, 1/4 for the logistic loss).
For the full batch this is half the largest stable rate ``2/(c·λ_max)``; for small
batches the trace term, which bounds how much one batch can be more curved than
the average, takes over. Because it is computed from the data, it adapts to
unscaled features (scikit-learn's checks use columns around 100): such data gets a
small, stable rate. Standardising X (``StandardScaler`` in a ``Pipeline``) still
makes training converge in far fewer epochs. The chosen value is stored in
``learning_rate_``. A float ``learning_rate`` is used as given; if it makes
training diverge, :class:`fastsgd.DivergenceError` is raised, saying which rate
would be stable.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastsgd's SGDRegressor and SGDClassifier need scikit-learn (the 'sklearn' extra): "
        "pip install 'fastsgd[sklearn]'"
    ) from exc

from fastsgd import _driver as driver
from fastsgd._adapters import (
    FLOAT_DTYPES,
    DataAdapter,
    adapter_for,
    check_fit_params,
    class_weight_array,
    native_view,
    reject_dates,
    sp_issparse,
    transaction,
)
from fastsgd._ext import _core
from fastsgd._registry import LOSSES, Loss
from fastsgd._validation import FloatArray
from fastsgd.config import FitConfig
from fastsgd.kernels import dot, log_softmax

__all__ = ["SGDClassifier", "SGDRegressor"]

_MAX_SEED = np.iinfo(np.int32).max
# epochs="auto": at least this many epochs, and enough for this many steps, up to a limit
_MIN_AUTO_EPOCHS, _AUTO_STEPS, _MAX_AUTO_EPOCHS = 20, 10_000, 1_000


def _signature_with(init: Any, **extra: Any) -> inspect.Signature:
    """__init__'s signature with keyword-only parameters added (scikit-learn reads the
    parameters of an estimator from it)."""
    sig = inspect.signature(init)
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in extra.items()
    ]
    return sig.replace(parameters=params)


# --- the estimators ---------------------------------------------------------------------------


class _BaseSGD(BaseEstimator):  # type: ignore[misc]
    """Parameters, the fit configuration and the fit / partial_fit loop of both estimators."""

    # learned attributes (set by fit / partial_fit, never in __init__)
    coef_: FloatArray
    intercept_: Any
    loss_history_: FloatArray
    validation_loss_history_: FloatArray | None
    learning_rate_: float
    n_iter_: int
    t_: int

    def __init__(
        self,
        *,
        loss: str = "auto",
        learning_rate: float | str = "auto",
        batch_size: int | None = 32,
        epochs: int | str = "auto",
        schedule: str | Callable[[int], float] = "constant",
        power_t: float = 0.25,
        step_size: int = 10,
        gamma: float = 0.1,
        update: str = "auto",
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        penalty: str | None = None,
        alpha: float = 0.0001,
        l1_ratio: float = 0.15,
        epsilon: float | None = None,
        average: bool | int | str = "auto",
        fit_intercept: bool = True,
        shuffle: bool | str = True,
        tol: float | None = None,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        random_state: Any = None,
        n_threads: int | None = None,
        verbose: int | bool = 0,
        warm_start: bool = False,
    ) -> None:
        self.loss = loss
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.schedule = schedule
        self.power_t = power_t
        self.step_size = step_size
        self.gamma = gamma
        self.update = update
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.epsilon = epsilon
        self.average = average
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start

    # --- hooks of the two subclasses ---------------------------------------------------------

    def _loss_entry(self, n_classes: int | None) -> Loss:
        raise NotImplementedError

    def _multi_output_y(self) -> bool:
        raise NotImplementedError

    def _y_numeric(self) -> bool:
        raise NotImplementedError

    def _targets(self, adapter: DataAdapter, y: Any, *, first: bool, classes: Any) -> Any:
        raise NotImplementedError

    def _learned_params(self, model: _core.Model, vector: bool) -> dict[str, Any]:
        raise NotImplementedError

    def _model_from_attributes(self) -> tuple[Any, Any]:
        raise NotImplementedError

    # --- the configuration ---------------------------------------------------------------

    def _epochs_for(self, cfg: FitConfig, n: int) -> int:
        """``epochs="auto"``: 20 epochs, or more on small data, enough for 10,000 steps (at
        most 1,000 epochs)."""
        if self.epochs != "auto":
            return int(cfg.epochs)
        steps = -(-n // (n if cfg.batch_size is None else min(cfg.batch_size, n)))
        return min(max(_MIN_AUTO_EPOCHS, -(-_AUTO_STEPS // steps)), _MAX_AUTO_EPOCHS)

    def _update_for(self, X: Any) -> str:
        """``update="auto"``: the normalized rule on dense data, plain SGD on sparse data
        (whose steps stay O(nnz)) or with momentum (torch's rule)."""
        if self.update != "auto":
            return str(self.update)
        sparse = sp_issparse(X) or sp_issparse(getattr(X, "_meta", None))  # dask: its blocks
        plain = sparse or self.momentum != 0 or bool(self.nesterov)
        return "sgd" if plain else "normalized"

    def _config(self, loss: Loss, **overrides: Any) -> FitConfig:
        """The FitConfig of these parameters (each checked against its constraint)."""
        verbose: Any = self.verbose
        if not isinstance(verbose, numbers.Integral):  # bools are integers
            raise TypeError(f"verbose must be an int or a bool, got {verbose!r}")
        from fastsgd._params import Boolean, Interval, Options, check

        # the estimator's own parameters (FitConfig checks the rest against its constraints)
        check("warm_start", self.warm_start, [Boolean()])
        check("epochs", self.epochs, [Interval(numbers.Integral, 0, None), Options({"auto"})])
        penalty = self.penalty
        alpha = self.alpha
        wd = check("weight_decay", self.weight_decay, [Interval(numbers.Real, 0, None)])
        if wd:
            if penalty not in (None, "none", "l2"):
                raise ValueError(
                    "weight_decay is the L2 penalty: use penalty='l2' with alpha, or weight_decay "
                    f"alone, not both with penalty={penalty!r}"
                )
            penalty, alpha = "l2", wd
        options: dict[str, Any] = {
            "loss": loss.name,
            "epsilon": self.epsilon,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "epochs": _MIN_AUTO_EPOCHS if self.epochs == "auto" else self.epochs,
            "schedule": self.schedule,
            "power_t": self.power_t,
            "step_size": self.step_size,
            "gamma": self.gamma,
            "update": self.update,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "penalty": penalty,
            "alpha": alpha,
            "l1_ratio": self.l1_ratio,
            "average": self.average,
            "fit_intercept": self.fit_intercept,
            "shuffle": self.shuffle,
            "tol": self.tol,
            "n_iter_no_change": self.n_iter_no_change,
            "early_stopping": self.early_stopping,
            "progress": bool(self.verbose),
            "n_threads": self.n_threads,
        }
        options.update(overrides)
        cfg = FitConfig.from_options(options)
        if self.early_stopping:
            check("validation_fraction", self.validation_fraction,
                  [Interval(numbers.Real, 0, 1, closed="neither")])  # fmt: skip
        return cfg

    # --- fit and partial_fit -----------------------------------------------------------------

    def _fit(self, X: Any, y: Any, sample_weight: Any, fit_params: dict[str, Any]) -> Any:
        fit_params = check_fit_params(adapter_for(X, y), "fit", fit_params)
        with transaction(self), adapter_for(X, y).session(fit_params) as adapter:
            self._check_loss_param()
            X, y = adapter.validate(self, X, y, reset=True)
            y_fit, n_classes = self._targets(adapter, y, first=True, classes=None)
            loss = self._loss_entry(n_classes)
            cfg = self._config(loss, update=self._update_for(X))
            rng = check_random_state(self.random_state)
            validation = None
            if self.early_stopping:
                split_seed = int(rng.randint(_MAX_SEED))
                X, y_fit, X_val, y_val = adapter.split(
                    X, y_fit, float(self.validation_fraction), split_seed,
                    stratify=loss.target != "real",
                )  # fmt: skip
                validation = (X_val, y_val)
            seed = int(rng.randint(_MAX_SEED))
            backend, k, vector = adapter.backend(
                self, X, y_fit, loss, cfg, n_classes=n_classes, sample_weight=sample_weight,
                class_weight=self._class_weight_array(adapter, y_fit, partial=False), validation=validation,
                fit_params=fit_params,
            )  # fmt: skip
            w0, b0 = self._warm_params(backend.d, k, vector)
            continuing = w0 is not None
            if cfg.epochs == 0 and not continuing:
                raise ValueError(
                    "epochs=0 trains nothing: pass epochs >= 1 (epochs=0 only keeps the fitted "
                    "model of a warm start)"
                )
            offset = int(getattr(self, "_epochs_seen", 0)) if continuing else 0
            shape = (backend.d,) if vector else (backend.d, k)
            model = driver.new_model(backend.d, k, shape, cfg.fit_intercept, w0, b0)
            cfg = cfg.replace(
                seed=seed, epoch_offset=offset, epochs=self._epochs_for(cfg, backend.n)
            )
            result = driver.run(
                cfg, backend, model, loss, k=k, vector=vector,
                has_validation=validation is not None,
            )  # fmt: skip
            self._seed = seed
            self._store(result, vector, epoch_offset=offset)
        return self

    def _partial_fit(
        self, X: Any, y: Any, classes: Any, sample_weight: Any, fit_params: dict[str, Any]
    ) -> Any:
        fit_params = check_fit_params(adapter_for(X, y), "partial_fit", fit_params)
        with transaction(self), adapter_for(X, y).session(fit_params) as adapter:
            first = not hasattr(self, "coef_")
            self._check_loss_param()
            X, y = adapter.validate(self, X, y, reset=first)
            y_fit, n_classes = self._targets(adapter, y, first=first, classes=classes)
            loss = self._loss_entry(n_classes)
            cfg = self._config(loss, update=self._update_for(X))
            if first or getattr(self, "_seed", None) is None:
                self._seed = int(check_random_state(self.random_state).randint(_MAX_SEED))
            backend, k, vector = adapter.backend(
                self, X, y_fit, loss, cfg, n_classes=n_classes, sample_weight=sample_weight,
                class_weight=self._class_weight_array(adapter, y_fit, partial=True), validation=None,
                fit_params=fit_params,
            )  # fmt: skip
            if first:
                self._epochs_seen = 0
                model = driver.new_model(
                    backend.d, k, (backend.d,) if vector else (backend.d, k), cfg.fit_intercept,
                    None, None,
                )  # fmt: skip
                lr0 = driver.initial_rate(cfg, backend, loss, k)
            else:
                model = self._model.copy()
                if model.d != backend.d or model.k != k:
                    raise ValueError(
                        f"X has {backend.d} features and {k} outputs, but the model was fitted "
                        f"with {model.d} and {model.k}"
                    )
                lr0 = float(self.learning_rate_)
            epoch = int(self._epochs_seen)
            lr = self._scheduled_rate(cfg, lr0, epoch)
            cfg = cfg.replace(
                learning_rate=lr, schedule="constant" if cfg.schedule_unit == "epoch" else cfg.schedule,
                epochs=1, epoch_offset=epoch, tol=None, progress=False, early_stopping=False,
                seed=self._seed,
            )  # fmt: skip
            result = driver.run(
                cfg, backend, model, loss, k=k, vector=vector, has_validation=False, lr0=lr
            )
            result.learning_rate = lr0
            self._store(result, vector, epoch_offset=epoch, append=not first)
        return self

    def _scheduled_rate(self, cfg: FitConfig, lr0: float, epoch: int) -> float:
        """The schedule's rate for a global epoch number (partial_fit: one epoch a call)."""
        if cfg.schedule in ("adaptive", "constant") or cfg.schedule_unit == "step":
            return lr0  # adaptive needs the loss of whole epochs; constant here
        if cfg.schedule == "cosine":  # one half-cosine over `epochs`, then its last value
            epoch = min(epoch, max(cfg.epochs, 1) - 1)
        rate = driver.per_epoch_rates(cfg.replace(learning_rate=lr0), lr0)(epoch, lr0)
        return rate

    def _check_loss_param(self) -> None:
        """Hook: the loss parameter is checked against the estimator's own choices."""

    def _class_weight_array(self, adapter: DataAdapter, y: Any, *, partial: bool) -> Any:
        return None

    def _warm_params(self, d: int, k: int, vector: bool) -> tuple[Any, Any]:
        if not (self.warm_start and hasattr(self, "coef_")):
            return None, None
        w0, b0 = self._model_from_attributes()
        want = (d,) if vector else (d, k)
        if np.shape(w0) != want:
            raise ValueError(
                f"warm_start=True but the fitted coef_ (weights of shape {np.shape(w0)}) does not "
                f"match this data (weights of shape {want}); refit with warm_start=False"
            )
        return w0, (b0 if self.fit_intercept else None)

    def _store(
        self, result: driver.FitResult, vector: bool, *, epoch_offset: int, append: bool = False
    ) -> None:
        """Set the learned attributes from a fit's (or partial_fit's) result."""
        model = result.model
        for name, value in self._learned_params(model, vector).items():
            setattr(self, name, value)
        history = np.asarray(result.loss_history, dtype=np.float64)
        if append and hasattr(self, "loss_history_"):
            # the exact record starts with the loss before training: already recorded
            first = 1 if len(history) == result.n_epochs + 1 else 0
            self.loss_history_ = np.concatenate([self.loss_history_, history[first:]])
            self.n_iter_ = int(self.n_iter_) + result.n_epochs
            self.t_ = int(self.t_) + result.n_steps
        else:
            self.loss_history_ = history
            self.n_iter_ = result.n_epochs
            self.t_ = result.n_steps
        self.validation_loss_history_ = (
            None if result.val_loss_history is None else np.asarray(result.val_loss_history)
        )
        self.learning_rate_ = float(result.learning_rate)
        self._model = model
        self._vector = vector
        self._epochs_seen = epoch_offset + result.n_epochs

    def _coef_of(self, model: _core.Model) -> tuple[FloatArray, FloatArray]:
        """The weights (k, d) and intercept (k,) to report: the average when averaging."""
        W, b = driver.reported(model)
        return W, (np.zeros(model.k) if b is None else b)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse: CSR read in place, never densified
        return tags

    # --- predictions -----------------------------------------------------------------------

    def _scores(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        reject_dates(X)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False, accept_sparse="csr")
        X = X if sp_issparse(X) else native_view(X)
        coef = self.coef_
        return dot(X, np.asarray(coef).T, self.intercept_)


class SGDRegressor(RegressorMixin, _BaseSGD):  # type: ignore[misc]
    """Linear regression trained with mini-batch SGD (the mean squared error by default).

    The model is ``X @ coef_.T + intercept_``; training is :func:`fastsgd.fit` with
    ``loss="mse"`` (the whole mini-batch loop in C++). ``y`` may be (n,) or
    (n, k) for k outputs.

    Parameters
    ----------
    loss : "auto" (the mean squared error, "mse") or a regression loss of the losses'
        table ("squared_error", ...), with its parameter ``epsilon``.
    learning_rate : "auto" or float > 0, default "auto"
        "auto" picks a stable rate from the data (see the module docstring and
        :func:`fastsgd.auto_learning_rate`); the value used is ``learning_rate_``.
    batch_size : int or None, default 32
        Rows per step; None means the full batch (gradient descent).
    epochs : int or "auto", default "auto"
        Passes over the data. "auto": 20, or on small data as many as make 10,000 steps
        (at most 1,000): a few hundred rows need more passes to converge.
    schedule : {"constant", "invscaling", "step", "cosine", "adaptive"} or callable
        How the rate changes per epoch (formulas in :func:`fastsgd.fit`), with
        ``power_t`` (invscaling), ``step_size`` and ``gamma`` (step).
    update : "auto", "sgd", "normalized", "adagrad" or "adam", default "auto"
        The update rule. "normalized" divides each weight's step by its feature's mean
        square (measured in one pass), so columns in any units train alike, with no
        StandardScaler; "auto" is "normalized" on dense data and plain "sgd" on sparse
        data (a step stays O(non-zeros)) or with momentum.
    momentum, nesterov, weight_decay : float, bool, float
        ``torch.optim.SGD``'s update; weight decay (the L2 penalty) is not applied to
        the intercept.
    penalty, alpha, l1_ratio : None, "l2", "l1" or "elasticnet", and its strength
        (used only with a penalty; ``weight_decay`` is ``penalty="l2", alpha=weight_decay``).
    average : bool, int or "auto", default "auto"
        Return the average of the weights over the steps (Polyak–Ruppert): from step
        ``average`` on when an int, from the second epoch on with "auto" (not for
        full batches, which have no gradient noise). With a
        constant rate the last iterate stalls at a noise floor set by the step; the
        average keeps converging to the optimum. False returns the last iterate.
    fit_intercept : bool, default True
        Learn ``intercept_`` (inside the kernel; X is not copied).
    shuffle : bool or "blocks", default True
        Visit rows in a new seeded order each epoch; "blocks" shuffles runs of
        neighbouring rows (faster for narrow rows; see ``fastsgd.fit``).
    tol, n_iter_no_change : float or None, int
        Stop when the training loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs (None: run every epoch).
    early_stopping, validation_fraction : bool, float
        Split off ``validation_fraction`` of the rows (with ``random_state``; the two
        parts are copies of X's rows), stop when their loss has not improved by ``tol``
        (0 when None) for ``n_iter_no_change`` epochs, and keep the best parameters.
    random_state : None, int or RandomState
        Seeds the shuffle and the validation split.
    n_threads : int or None
        Threads for training (default: ``fastsgd.get_num_threads()``).
    verbose : int or bool
        Show a progress bar over epochs.
    warm_start : bool
        Start ``fit`` from the previous ``coef_`` and ``intercept_``.

    Attributes
    ----------
    coef_ : ndarray (n_features,) or (n_outputs, n_features)
    intercept_ : ndarray (1,) or (n_outputs,) — zeros without ``fit_intercept``.
    loss_history_ : ndarray — each epoch's mean training loss, every batch's loss taken
        before its step (progressive validation: no extra pass over the data);
        ``partial_fit`` appends that of its epoch.
    validation_loss_history_ : ndarray or None — with early stopping.
    learning_rate_ : float — the initial learning rate used.
    n_iter_ : int — epochs run by ``fit`` (``partial_fit`` adds one per call).
    t_ : int — SGD steps taken.
    n_features_in_, feature_names_in_ : as in scikit-learn.

    Notes
    -----
    ``partial_fit`` runs one epoch over the given rows, continuing the epoch counter
    of the shuffle and of the schedule, and the update rule's state (momentum).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsgd import SGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 3.0
    >>> reg = SGDRegressor(random_state=0).fit(X, y)
    >>> reg.coef_.round(2), reg.intercept_.round(2)
    (array([ 1. , -2. ,  0.5]), array([3.]))
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> SGDRegressor:
        """Fit the model with ``epochs`` passes of mini-batch SGD.

        Parameters
        ----------
        X : array_like (n, d), or a dask array (then fastsgd.dask's data backend trains)
        y : array_like (n,) or (n, k)
        sample_weight : array_like (n,) or None — weights of the rows.
        **fit_params : only for dask arrays (``method``, ``client``, ``local_epochs``).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, fit_params)  # type: ignore[no-any-return]

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any
    ) -> SGDRegressor:
        """One epoch of mini-batch SGD over (X, y), continuing from the current state.

        Parameters
        ----------
        X : array_like (n, d)
        y : array_like (n,) or (n, k)
        sample_weight : array_like (n,) or None
        **fit_params : only for dask arrays (``client``, ``local_epochs``).

        Returns
        -------
        self
        """
        return self._partial_fit(X, y, None, sample_weight, fit_params)  # type: ignore[no-any-return]

    def predict(self, X: Any) -> Any:
        """``X @ coef_.T + intercept_``: (n,) or (n, n_outputs), in X's float dtype."""
        return adapter_for(X).predict(self, X, "predict")

    def _predict(self, X: Any) -> Any:
        return self._scores(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # --- hooks ---------------------------------------------------------------------

    def _loss_entry(self, n_classes: int | None) -> Loss:
        entry = LOSSES["mse" if self.loss == "auto" else self.loss]
        if entry.target != "real":
            raise ValueError(f"SGDRegressor needs a regression loss, got loss={self.loss!r}")
        return entry

    def _check_loss_param(self) -> None:
        if self.loss != "auto":
            self._loss_entry(None)

    def _multi_output_y(self) -> bool:
        return True

    def _y_numeric(self) -> bool:
        return True

    _y_ndim: int
    _n_outputs: int

    def _targets(self, adapter: DataAdapter, y: Any, *, first: bool, classes: Any) -> Any:
        ndim = len(np.shape(y))
        k = 1 if ndim == 1 else int(np.shape(y)[1])
        if not first and (ndim, k) != (self._y_ndim, self._n_outputs):
            raise ValueError(
                f"y has shape {np.shape(y)} but the model was fitted with "
                f"{'1-d y' if self._y_ndim == 1 else f'{self._n_outputs} outputs'}"
            )
        if first:
            self._y_ndim, self._n_outputs = ndim, k
        return y, None

    def _learned_params(self, model: _core.Model, vector: bool) -> dict[str, Any]:
        W, b = self._coef_of(model)
        if vector:
            return {"coef_": W[0].copy(), "intercept_": b.copy()}
        return {"coef_": W, "intercept_": b}

    def _model_from_attributes(self) -> tuple[Any, Any]:
        coef = np.asarray(self.coef_, dtype=np.float64)
        b = np.asarray(self.intercept_, dtype=np.float64)
        if coef.ndim == 1:
            return coef.copy(), b.reshape(-1)[0]
        return coef.T.copy(), b.copy()


class SGDClassifier(ClassifierMixin, _BaseSGD):  # type: ignore[misc]
    """Linear classifier trained with mini-batch SGD (the cross-entropy by default).

    With three classes or more and ``loss="auto"`` this is a true multinomial model: one
    score per class, softmax probabilities, cross-entropy (``fastsgd.fit(loss="softmax")``),
    not one-vs-rest. With two classes it is logistic regression (``loss="logistic"``, one
    score: ``coef_`` has shape (1, n_features), as in scikit-learn) — the same model as a
    2-class softmax, with half the parameters. A binary loss of the losses' table
    (``"logistic"``, ...) with more classes scores each class against the rest, all
    classes in one pass over X. Labels may be any values (strings included); ``classes_``
    holds them sorted.

    Parameters
    ----------
    class_weight : dict {label: weight}, "balanced" or None
        Weights of the classes, multiplying each row's loss and gradient
        ("balanced": ``n_samples / (n_classes · count(label))``).
    **params
        The other parameters of :class:`SGDRegressor`, with the same meaning, but
        ``loss``: "auto" (multinomial softmax, logistic for two classes) or a
        classification loss of the losses' table. With ``early_stopping`` the validation
        split is stratified by class when every class has at least two members, and the
        validation loss is the training loss.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    coef_ : ndarray (1, n_features) for two classes, (n_classes, n_features) otherwise
    intercept_ : ndarray (1,) or (n_classes,)
    loss_history_, validation_loss_history_, learning_rate_, n_iter_, t_,
    n_features_in_, feature_names_in_ : as in :class:`SGDRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsgd import SGDClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((600, 2))
    >>> y = np.array(["left", "middle", "right"])[np.digitize(X[:, 0], [-0.5, 0.5])]
    >>> clf = SGDClassifier(epochs=50, random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), clf.score(X, y) > 0.95
    (['left', 'middle', 'right'], True)
    >>> clf.predict_proba(X[:2]).sum(axis=1)
    array([1., 1.])
    """

    def __init__(self, *, class_weight: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **fit_params: Any) -> SGDClassifier:
        """Fit the model with ``epochs`` passes of mini-batch SGD.

        Parameters
        ----------
        X : array_like (n, d), or a dask array (then fastsgd.dask's data backend trains)
        y : array_like (n,), any labels
        sample_weight : array_like (n,) or None — weights of the rows.
        **fit_params : only for dask arrays (``method``, ``client``, ``local_epochs``).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, fit_params)  # type: ignore[no-any-return]

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None, **fit_params: Any
    ) -> SGDClassifier:
        """One epoch of mini-batch SGD over (X, y), continuing from the current state.

        Parameters
        ----------
        X : array_like (n, d)
        y : array_like (n,)
        classes : array_like, required on the first call: every label that will
            ever be seen (the chunks may each hold only some of them).
        sample_weight : array_like (n,) or None
        **fit_params : only for dask arrays (``client``, ``local_epochs``).

        Returns
        -------
        self
        """
        if not hasattr(self, "coef_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._partial_fit(X, y, classes, sample_weight, fit_params)  # type: ignore[no-any-return]

    def decision_function(self, X: Any) -> Any:
        """Scores ``X @ coef_.T + intercept_``: (n,) for two classes (the score of
        ``classes_[1]``), (n, n_classes) otherwise."""
        return adapter_for(X).predict(self, X, "decision_function")

    def predict(self, X: Any) -> Any:
        """The class with the highest score (the argmax of ``predict_proba``)."""
        return adapter_for(X).predict(self, X, "predict")

    def _has_proba(self) -> bool:
        if self.loss != "auto" and LOSSES[self.loss].core not in ("logistic", "softmax"):
            raise AttributeError(f"probability estimates are not available for loss={self.loss!r}")
        return True

    @available_if(_has_proba)  # type: ignore[untyped-decorator]
    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (n, n_classes), rows summing to 1: the softmax of the
        scores (for two classes the sigmoid of the one score)."""
        return adapter_for(X).predict(self, X, "predict_proba")

    @available_if(_has_proba)  # type: ignore[untyped-decorator]
    def predict_log_proba(self, X: Any) -> Any:
        """The logarithm of ``predict_proba``, computed stably."""
        return adapter_for(X).predict(self, X, "predict_log_proba")

    def _decision_function(self, X: Any) -> Any:
        S = self._scores(X)
        return S[:, 0] if S.shape[1] == 1 else S

    def _predict(self, X: Any) -> Any:
        S = self._decision_function(X)
        idx = (S > 0).astype(np.intp) if S.ndim == 1 else np.argmax(S, axis=1)
        return self.classes_[idx]

    def _predict_log_proba(self, X: Any) -> FloatArray:
        # in float64 (float32 scores too): probabilities within 1e-8 of 1 stay below 1, so
        # log(predict_proba) is predict_log_proba
        S = np.asarray(self._decision_function(X), dtype=np.float64)
        # two classes: scores (0, s) give log σ(−s), log σ(s)
        out: FloatArray = log_softmax(np.column_stack([np.zeros_like(S), S]) if S.ndim == 1 else S)
        return out

    def _predict_proba(self, X: Any) -> FloatArray:
        out: FloatArray = np.exp(self._predict_log_proba(X))
        return out

    # --- hooks ---------------------------------------------------------------------

    def _loss_entry(self, n_classes: int | None) -> Loss:
        if self.loss == "auto":
            return LOSSES["logistic" if n_classes == 2 else "softmax"]
        entry = LOSSES[self.loss]
        if entry.target == "real":
            raise ValueError(f"SGDClassifier needs a classification loss, got loss={self.loss!r}")
        if entry.target == "class" and n_classes == 2:
            return LOSSES["logistic"]  # two classes: one score
        return entry

    def _check_loss_param(self) -> None:
        if self.loss != "auto":
            entry = LOSSES[self.loss]
            if entry.target == "real":
                raise ValueError(
                    f"SGDClassifier needs a classification loss, got loss={self.loss!r}"
                )

    def _multi_output_y(self) -> bool:
        return False

    def _y_numeric(self) -> bool:
        return False

    def _targets(self, adapter: DataAdapter, y: Any, *, first: bool, classes: Any) -> Any:
        if first:
            labels = adapter.labels(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                raise ValueError(
                    f"y has 1 class ({labels[0]!r}): SGDClassifier needs at least 2 classes"
                )
            old = getattr(self, "classes_", None)
            if self.warm_start and old is not None and not np.array_equal(old, labels):
                raise ValueError(
                    f"warm_start=True but y has the classes {labels!r}, not the classes_ "
                    f"{old!r} of the fitted model; refit with warm_start=False"
                )
            self.classes_ = labels
        else:
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"classes={np.unique(classes)!r} is not the same as classes_="
                    f"{self.classes_!r} from the first call to partial_fit"
                )
            adapter.labels(y)  # the same checks of the label type
        return adapter.encode(y, self.classes_), len(self.classes_)

    def _class_weight_array(self, adapter: DataAdapter, y: Any, *, partial: bool) -> Any:
        return class_weight_array(self.class_weight, self.classes_, adapter, y, partial=partial)

    def _learned_params(self, model: _core.Model, vector: bool) -> dict[str, Any]:
        W, b = self._coef_of(model)
        return {"coef_": W, "intercept_": b}

    def _model_from_attributes(self) -> tuple[Any, Any]:
        coef = np.asarray(self.coef_, dtype=np.float64)
        if coef.shape[0] == 1:
            return coef[0].copy(), float(np.asarray(self.intercept_)[0])
        return coef.T.copy(), np.copy(self.intercept_)


SGDClassifier.__init__.__signature__ = _signature_with(  # type: ignore[attr-defined]
    _BaseSGD.__init__, class_weight=None
)
