"""scikit-learn estimators on top of :func:`fastsgd.fit`: ``SGDRegressor`` and ``SGDClassifier``.

They follow scikit-learn's estimator contract (``__init__`` stores the
parameters, ``fit`` validates and returns ``self``, learned attributes end in
``_``), so they work in ``Pipeline``, ``GridSearchCV``, ``clone`` and pickling,
and they pass scikit-learn's own estimator checks. The training itself is
``fastsgd.fit``: the mini-batch loop runs in C++, the intercept is learned
inside the kernel (X is never copied to add a column of ones), and float32 input
stays float32.

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

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastsgd's SGDRegressor and SGDClassifier need scikit-learn (the 'sklearn' extra): "
        "pip install 'fastsgd[sklearn]'"
    ) from exc

from fastsgd import training
from fastsgd._validation import FloatArray, check_int, check_positive
from fastsgd.kernels import dot
from fastsgd.training import FitResult

__all__ = ["SGDClassifier", "SGDRegressor"]

_FLOAT_DTYPES = [np.float64, np.float32]


def _is_dask_collection(x: Any) -> bool:
    """True for dask arrays and other dask collections (without importing dask)."""
    module = type(x).__module__ or ""
    return (
        module == "dask"
        or module.startswith(("dask.", "dask_expr"))
        or (hasattr(type(x), "__dask_graph__"))
    )


def _reject_dates(X: Any) -> None:
    """Dates and durations are not features: scikit-learn's checks would turn them into numbers."""
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if kind in ("M", "m"):
        raise TypeError(f"X must be numeric, got dtype {X.dtype} (dates or durations)")


def _native_view(X: Any) -> Any:
    """X itself, or a view of it whose dtype is NumPy's own float32/float64 instance.

    Arrays read from files (memory maps from np.load) can carry an equal but distinct
    dtype object; the view costs nothing and lets the core pick its float32 kernels.
    """
    for dt in (np.dtype(np.float32), np.dtype(np.float64)):
        if X.dtype == dt and X.dtype is not dt:
            return X.view(dt)
    return X


def _no_fit_params(method: str, fit_params: dict[str, Any]) -> None:
    if fit_params:
        raise TypeError(
            f"{method}() got unexpected keyword arguments {sorted(fit_params)}: they are only "
            "used with dask arrays (fastsgd.dask)"
        )


def _fastsgd_dask() -> Any:
    from fastsgd import dask as fdask

    return fdask


def _log_softmax(Z: FloatArray) -> FloatArray:
    """Row-wise log softmax, stable: the row maximum is subtracted before exp, so scores
    of ±1e4 neither overflow nor lose the winning class."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    out: FloatArray = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return out


class _BaseSGD(BaseEstimator):  # type: ignore[misc]
    """Parameters, validation and the fit / partial_fit loop shared by both estimators."""

    _loss_for_fit: str = "mse"
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
        learning_rate: float | str = "auto",
        batch_size: int | None = 32,
        epochs: int = 20,
        schedule: str | Callable[[int], float] = "constant",
        power_t: float = 0.25,
        step_size: int = 10,
        gamma: float = 0.1,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
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
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.schedule = schedule
        self.power_t = power_t
        self.step_size = step_size
        self.gamma = gamma
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
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

    # --- hooks for the two subclasses ----------------------------------------------------

    def _validate_targets(self, y: Any, *, first: bool, classes: Any = None) -> Any:
        raise NotImplementedError

    def _fit_loss(self) -> str:
        return self._loss_for_fit

    def _n_outputs_for_lr(self) -> int:
        return 1

    def _params_from_fit(self, w: FloatArray, b: Any) -> None:
        raise NotImplementedError

    def _params_for_fit(self) -> tuple[FloatArray, Any]:
        raise NotImplementedError

    def _stratify(self, y: Any) -> Any:
        return None

    def _fit_extra(self) -> dict[str, Any]:
        return {}

    # --- shared ----------------------------------------------------------------------

    def _fit_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`fastsgd.fit` that follow from the parameters.

        ``learning_rate`` is the parameter as given ("auto" or a float); the data,
        ``w0``/``b0``, ``seed``, ``epochs``, ``validation_data`` and ``epoch_offset`` are
        left to the caller.
        """
        verbose: Any = self.verbose
        if not isinstance(verbose, numbers.Integral):
            raise TypeError(f"verbose must be an int or a bool, got {self.verbose!r}")
        return {
            "loss": self._fit_loss(),
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle if self.shuffle == "blocks" else bool(self.shuffle),
            "momentum": self.momentum,
            "nesterov": bool(self.nesterov),
            "weight_decay": self.weight_decay,
            "schedule": self.schedule,
            "power_t": self.power_t,
            "step_size": self.step_size,
            "gamma": self.gamma,
            "fit_intercept": bool(self.fit_intercept),
            "tol": self.tol,
            "n_iter_no_change": self.n_iter_no_change,
            "progress": bool(self.verbose),
            "n_threads": self.n_threads,
            **self._fit_extra(),
        }

    def _set_learned(
        self,
        w: FloatArray,
        b: Any,
        loss_history: Any,
        *,
        n_iter: int,
        learning_rate: float,
        n_steps: int,
        val_loss_history: Any = None,
        append: bool = False,
    ) -> None:
        """Set the learned attributes from fitted parameters and a loss history.

        ``w`` and ``b`` are in :func:`fastsgd.fit`'s layout for this estimator's loss
        (``w`` (d,) or (d, k), ``b`` a float, an array (k,), or None without an
        intercept). With ``append=False`` (a fit) ``loss_history`` replaces
        ``loss_history_`` and ``n_iter``/``n_steps`` replace ``n_iter_``/``t_``; with
        ``append=True`` (a partial_fit) the values after the start are appended and the
        counts added. ``n_features_in_`` (and ``classes_``) are set by the caller.
        """
        self._params_from_fit(np.asarray(w, dtype=np.float64), b)
        history = np.asarray(loss_history, dtype=np.float64).ravel()
        if append and hasattr(self, "loss_history_"):
            self.loss_history_ = np.concatenate([self.loss_history_, history[1:]])
            self.n_iter_ = int(self.n_iter_) + int(n_iter)
            self.t_ = int(self.t_) + int(n_steps)
        else:
            self.loss_history_ = history
            self.n_iter_ = int(n_iter)
            self.t_ = int(n_steps)
        self.validation_loss_history_ = (
            None if val_loss_history is None else np.asarray(val_loss_history, dtype=np.float64)
        )
        self.learning_rate_ = float(learning_rate)

    def _set_learned_from_result(
        self, result: FitResult, *, append: bool = False, epoch_offset: int = 0
    ) -> None:
        self._set_learned(
            result.w,
            result.b,
            result.loss_history,
            n_iter=result.n_epochs,
            learning_rate=result.learning_rate,
            n_steps=result.n_steps,
            val_loss_history=result.val_loss_history,
            append=append,
        )
        self._epochs_seen = epoch_offset + result.n_epochs

    def _check_own_params(self) -> None:
        if isinstance(self.learning_rate, str):
            if self.learning_rate != "auto":
                raise ValueError(
                    f"learning_rate must be a number > 0 or 'auto', got {self.learning_rate!r}"
                )
        else:
            check_positive(self.learning_rate, "learning_rate")
        check_int(self.epochs, "epochs", minimum=0)
        if self.early_stopping:
            v = check_positive(self.validation_fraction, "validation_fraction")
            if not v < 1:
                raise ValueError(f"validation_fraction must be in (0, 1), got {v}")

    def _warm_params(self, d: int) -> tuple[Any, Any]:
        if not (self.warm_start and hasattr(self, "coef_")):
            return None, None
        w0, b0 = self._params_for_fit()
        want = self._w_shape(d)
        if w0.shape != want:
            raise ValueError(
                f"warm_start=True but the fitted coef_ (weights of shape {w0.shape}) does not "
                f"match this data (weights of shape {want}); refit with warm_start=False"
            )
        return w0, (b0 if self.fit_intercept else None)

    def _w_shape(self, d: int) -> tuple[int, ...]:
        raise NotImplementedError

    def _fit(self, X: Any, y: Any) -> Any:
        self._check_own_params()
        _reject_dates(X)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=_FLOAT_DTYPES,
            multi_output=self._multi_output_y(),
            y_numeric=self._y_numeric(),
        )
        X = _native_view(X)
        y_fit = self._validate_targets(y, first=True)
        rng = check_random_state(self.random_state)
        validation = None
        if self.early_stopping:
            strat = self._stratify(y_fit)
            try:
                X, X_val, y_fit, y_val = train_test_split(
                    X, y_fit, test_size=self.validation_fraction, random_state=rng, stratify=strat
                )
            except ValueError as exc:
                raise ValueError(
                    f"early_stopping=True could not split off validation_fraction="
                    f"{self.validation_fraction} of {len(y_fit)} samples: {exc}"
                ) from None
            validation = (X_val, y_val)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        w0, b0 = self._warm_params(X.shape[1])
        continuing = w0 is not None
        offset = getattr(self, "_epochs_seen", 0) if continuing else 0
        result = training.fit(
            X,
            y_fit,
            w0,
            b0=b0,
            seed=seed,
            epochs=self.epochs,
            validation_data=validation,
            early_stopping=bool(self.early_stopping),
            epoch_offset=offset,
            **self._fit_options(),
        )
        self._seed = seed
        self._set_learned_from_result(result, epoch_offset=offset)
        return self

    def _partial_fit(self, X: Any, y: Any, classes: Any = None) -> Any:
        first = not hasattr(self, "coef_")
        self._check_own_params()
        _reject_dates(X)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=_FLOAT_DTYPES,
            multi_output=self._multi_output_y(),
            y_numeric=self._y_numeric(),
            reset=first,
        )
        X = _native_view(X)
        y_fit = self._validate_targets(y, first=first, classes=classes)
        opts = self._fit_options()
        if first or getattr(self, "_seed", None) is None:
            self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if first:
            self._epochs_seen = 0
            w0, b0 = None, None
            if opts["learning_rate"] == "auto":
                lr0 = training.auto_learning_rate(
                    X,
                    opts["loss"],
                    batch_size=opts["batch_size"],
                    fit_intercept=opts["fit_intercept"],
                    n_outputs=self._n_outputs_for_lr(),
                )
            else:
                lr0 = float(opts["learning_rate"])
        else:
            w0, b0 = self._params_for_fit()
            if not self.fit_intercept:
                b0 = None
            lr0 = (
                float(self.learning_rate_)
                if self.learning_rate == "auto"
                else float(self.learning_rate)
            )
        epoch = int(getattr(self, "_epochs_seen", 0))
        opts["learning_rate"] = self._scheduled_lr(lr0, epoch)
        opts["schedule"] = "constant"
        opts["tol"] = None
        opts["progress"] = False
        result = training.fit(
            X, y_fit, w0, b0=b0, seed=self._seed, epochs=1, epoch_offset=epoch, **opts
        )
        self._set_learned(
            result.w,
            result.b,
            result.loss_history,
            n_iter=1,
            learning_rate=lr0,
            n_steps=result.n_steps,
            append=not first,
        )
        self._epochs_seen = epoch + 1
        return self

    def _scheduled_lr(self, lr0: float, epoch: int) -> float:
        """The schedule's rate for a global epoch number (partial_fit: one epoch a call)."""
        schedule = self.schedule
        if schedule == "adaptive":  # needs the loss of whole epochs; constant here
            return lr0
        f = training._lr_schedule(
            schedule, lr0, check_int(self.epochs, "epochs", minimum=0), self.power_t,
            self.step_size, self.gamma,
        )  # fmt: skip
        if schedule == "cosine":  # one half-cosine over `epochs`, then its last value
            epoch = min(epoch, max(self.epochs, 1) - 1)
        lr = f(epoch, lr0)
        return check_positive(lr, "learning rate of the schedule")

    def _multi_output_y(self) -> bool:
        return False

    def _y_numeric(self) -> bool:
        return False

    def _scores(self, X: Any) -> FloatArray:
        check_is_fitted(self)
        _reject_dates(X)
        X = _native_view(validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False))
        coef = self.coef_
        return dot(X, coef.T, self.intercept_)


class SGDRegressor(RegressorMixin, _BaseSGD):  # type: ignore[misc]
    """Linear regression trained with mini-batch SGD on the mean squared error.

    The model is ``X @ coef_.T + intercept_``; training is :func:`fastsgd.fit` with
    ``loss="mse"`` (the whole mini-batch loop in C++). ``y`` may be (n,) or
    (n, k) for k outputs.

    Parameters
    ----------
    learning_rate : "auto" or float > 0, default "auto"
        "auto" picks a stable rate from the data (see the module docstring and
        :func:`fastsgd.auto_learning_rate`); the value used is ``learning_rate_``.
    batch_size : int or None, default 32
        Rows per step; None means the full batch (gradient descent).
    epochs : int, default 20
        Passes over the data.
    schedule : {"constant", "invscaling", "step", "cosine", "adaptive"} or callable
        How the rate changes per epoch (formulas in :func:`fastsgd.fit`), with
        ``power_t`` (invscaling), ``step_size`` and ``gamma`` (step).
    momentum, nesterov, weight_decay : float, bool, float
        ``torch.optim.SGD``'s update; weight decay is not applied to the intercept.
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
    intercept_ : float or ndarray (n_outputs,) — 0 without ``fit_intercept``.
    loss_history_ : ndarray — the training loss before the first epoch and after each
        one (``partial_fit`` appends the loss on its data after its epoch).
    validation_loss_history_ : ndarray or None — with early stopping.
    learning_rate_ : float — the initial learning rate used.
    n_iter_ : int — epochs run by ``fit`` (``partial_fit`` adds one per call).
    t_ : int — SGD steps taken.
    n_features_in_, feature_names_in_ : as in scikit-learn.

    Notes
    -----
    ``partial_fit`` runs one epoch over the given rows, continuing the epoch counter
    of the shuffle and of the schedule. Momentum buffers are not kept between calls.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsgd import SGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 3.0
    >>> reg = SGDRegressor(random_state=0).fit(X, y)
    >>> reg.coef_.round(2), round(reg.intercept_, 2)
    (array([ 1. , -2. ,  0.5]), 3.0)
    """

    def fit(self, X: Any, y: Any, **fit_params: Any) -> SGDRegressor:
        """Fit the model with ``epochs`` passes of mini-batch SGD.

        Parameters
        ----------
        X : array_like (n, d), or a dask array (then ``fastsgd.dask.fit_estimator`` trains)
        y : array_like (n,) or (n, k)
        **fit_params : only for dask arrays (``method``, ``client``, ``local_epochs``).

        Returns
        -------
        self
        """
        if _is_dask_collection(X) or _is_dask_collection(y):
            return _fastsgd_dask().fit_estimator(self, X, y, **fit_params)  # type: ignore[no-any-return]
        _no_fit_params("fit", fit_params)
        return self._fit(X, y)  # type: ignore[no-any-return]

    def partial_fit(self, X: Any, y: Any, **fit_params: Any) -> SGDRegressor:
        """One epoch of mini-batch SGD over (X, y), continuing from the current state.

        Parameters
        ----------
        X : array_like (n, d)
        y : array_like (n,) or (n, k)
        **fit_params : only for dask arrays (``client``, ``local_epochs``: see
            ``fastsgd.dask.partial_fit_estimator``).

        Returns
        -------
        self
        """
        if _is_dask_collection(X) or _is_dask_collection(y):
            return _fastsgd_dask().partial_fit_estimator(self, X, y, **fit_params)  # type: ignore[no-any-return]
        _no_fit_params("partial_fit", fit_params)
        return self._partial_fit(X, y)  # type: ignore[no-any-return]

    def predict(self, X: Any) -> Any:
        """``X @ coef_.T + intercept_``: (n,) or (n, n_outputs), in X's float dtype."""
        if _is_dask_collection(X):
            return _fastsgd_dask().predict_estimator(self, X, method="predict")
        return self._scores(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # --- hooks ---------------------------------------------------------------------

    def _multi_output_y(self) -> bool:
        return True

    def _y_numeric(self) -> bool:
        return True

    def _validate_targets(self, y: Any, *, first: bool, classes: Any = None) -> Any:
        y = np.asarray(y)
        k = 1 if y.ndim == 1 else int(y.shape[1])
        if first:
            self._y_ndim = y.ndim
            self._n_outputs = k
        elif (y.ndim, k) != (self._y_ndim, self._n_outputs):
            raise ValueError(
                f"y has shape {y.shape} but the model was fitted with "
                f"{'1-d y' if self._y_ndim == 1 else f'{self._n_outputs} outputs'}"
            )
        return y

    def _n_outputs_for_lr(self) -> int:
        return int(self._n_outputs)

    def _w_shape(self, d: int) -> tuple[int, ...]:
        return (d,) if self._y_ndim == 1 else (d, int(self._n_outputs))

    def _params_from_fit(self, w: FloatArray, b: Any) -> None:
        if w.ndim == 1:
            self.coef_ = w
            self.intercept_ = 0.0 if b is None else float(b)
        else:
            self.coef_ = np.ascontiguousarray(w.T)
            self.intercept_ = np.zeros(w.shape[1]) if b is None else np.asarray(b, float)
        self._y_ndim = w.ndim
        self._n_outputs = 1 if w.ndim == 1 else int(w.shape[1])

    def _params_for_fit(self) -> tuple[FloatArray, Any]:
        coef = np.asarray(self.coef_, dtype=np.float64)
        return (coef.copy() if coef.ndim == 1 else coef.T.copy()), np.copy(self.intercept_)


class SGDClassifier(ClassifierMixin, _BaseSGD):  # type: ignore[misc]
    """Linear classifier trained with mini-batch SGD on the cross-entropy.

    With three classes or more this is a true multinomial model: one score per
    class, softmax probabilities, cross-entropy (``fastsgd.fit(loss="softmax")``),
    not one-vs-rest. With two classes it is logistic regression
    (``loss="logistic"``, one score: ``coef_`` has shape (1, n_features), as in
    scikit-learn) — the same model as a 2-class softmax, with half the parameters.
    Labels may be any values (strings included); ``classes_`` holds them sorted.

    Parameters
    ----------
    The same as :class:`SGDRegressor`. With ``early_stopping`` the validation split
    is stratified by class when every class has at least two members, and the
    validation loss is the cross-entropy.

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

    def fit(self, X: Any, y: Any, **fit_params: Any) -> SGDClassifier:
        """Fit the model with ``epochs`` passes of mini-batch SGD.

        Parameters
        ----------
        X : array_like (n, d), or a dask array (then ``fastsgd.dask.fit_estimator`` trains)
        y : array_like (n,), any labels
        **fit_params : only for dask arrays (``method``, ``client``, ``local_epochs``).

        Returns
        -------
        self
        """
        if _is_dask_collection(X) or _is_dask_collection(y):
            return _fastsgd_dask().fit_estimator(self, X, y, **fit_params)  # type: ignore[no-any-return]
        _no_fit_params("fit", fit_params)
        return self._fit(X, y)  # type: ignore[no-any-return]

    def partial_fit(self, X: Any, y: Any, classes: Any = None, **fit_params: Any) -> SGDClassifier:
        """One epoch of mini-batch SGD over (X, y), continuing from the current state.

        Parameters
        ----------
        X : array_like (n, d)
        y : array_like (n,)
        classes : array_like, required on the first call: every label that will
            ever be seen (the chunks may each hold only some of them).
        **fit_params : only for dask arrays (``client``, ``local_epochs``: see
            ``fastsgd.dask.partial_fit_estimator``).

        Returns
        -------
        self
        """
        if _is_dask_collection(X) or _is_dask_collection(y):
            return _fastsgd_dask().partial_fit_estimator(  # type: ignore[no-any-return]
                self, X, y, classes=classes, **fit_params
            )
        _no_fit_params("partial_fit", fit_params)
        return self._partial_fit(X, y, classes=classes)  # type: ignore[no-any-return]

    def decision_function(self, X: Any) -> Any:
        """Scores ``X @ coef_.T + intercept_``: (n,) for two classes (the score of
        ``classes_[1]``), (n, n_classes) otherwise."""
        if _is_dask_collection(X):
            return _fastsgd_dask().predict_estimator(self, X, method="decision_function")
        S = self._scores(X)
        return S[:, 0] if S.shape[1] == 1 else S

    def predict(self, X: Any) -> Any:
        """The class with the highest score (the argmax of ``predict_proba``)."""
        if _is_dask_collection(X):
            return _fastsgd_dask().predict_estimator(self, X, method="predict")
        S = self.decision_function(X)
        idx = (S > 0).astype(np.intp) if S.ndim == 1 else np.argmax(S, axis=1)
        return self.classes_[idx]

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities (n, n_classes), rows summing to 1: the softmax of the
        scores (for two classes the sigmoid of the one score)."""
        if _is_dask_collection(X):
            return _fastsgd_dask().predict_estimator(self, X, method="predict_proba")
        return np.exp(self._log_proba(X))

    def predict_log_proba(self, X: Any) -> Any:
        """The logarithm of ``predict_proba``, computed stably."""
        if _is_dask_collection(X):
            return _fastsgd_dask().predict_estimator(self, X, method="predict_log_proba")
        return self._log_proba(X)

    def _log_proba(self, X: Any) -> FloatArray:
        S = self.decision_function(X)
        # two classes: scores (0, s) give log σ(−s), log σ(s)
        return _log_softmax(np.column_stack([np.zeros_like(S), S]) if S.ndim == 1 else S)

    # --- hooks ---------------------------------------------------------------------

    def _fit_loss(self) -> str:
        return "logistic" if len(self.classes_) == 2 else "softmax"

    def _fit_extra(self) -> dict[str, Any]:
        return {} if len(self.classes_) == 2 else {"n_classes": len(self.classes_)}

    def _w_shape(self, d: int) -> tuple[int, ...]:
        return (d,) if len(self.classes_) == 2 else (d, len(self.classes_))

    def _stratify(self, y: Any) -> Any:
        counts = np.bincount(y, minlength=len(self.classes_))
        return y if counts.min() >= 2 else None

    def _validate_targets(self, y: Any, *, first: bool, classes: Any = None) -> Any:
        check_classification_targets(y)
        if first:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
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
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes)!r} is not the same as classes_={self.classes_!r} "
                f"from the first call to partial_fit"
            )
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not in classes_ {self.classes_!r}: "
                f"{np.unique(np.asarray(y)[unknown])!r}"
            )
        return idx.astype(np.int64)

    def _partial_fit(self, X: Any, y: Any, classes: Any = None) -> Any:
        if not hasattr(self, "coef_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return super()._partial_fit(X, y, classes=classes)

    def _params_from_fit(self, w: FloatArray, b: Any) -> None:
        k = 1 if w.ndim == 1 else int(w.shape[1])
        self.coef_ = np.ascontiguousarray(w.reshape(w.shape[0], k).T)
        self.intercept_ = np.zeros(k) if b is None else np.asarray(b, float).reshape(k)

    def _params_for_fit(self) -> tuple[FloatArray, Any]:
        coef = np.asarray(self.coef_, dtype=np.float64)
        if coef.shape[0] == 1:
            return coef[0].copy(), float(self.intercept_[0])
        return coef.T.copy(), np.copy(self.intercept_)
