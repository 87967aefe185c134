"""``fit()``: mini-batch SGD on a linear model, the loop running in C++.

Each epoch is one call into the core, which shuffles, gathers the mini-batches,
computes the fused loss + gradient and steps, all without returning to Python.
Between epochs the driver here records the loss, applies per-epoch schedules, calls
the callback and decides whether to stop. The same driver runs the estimators'
fits and :mod:`fastsgd.dask`'s: only the backend that runs an epoch differs.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fastsgd._data import Dataset, pair
from fastsgd._ext import _core
from fastsgd._registry import LOSSES, PENALTIES, SCHEDULES, UPDATES, Loss
from fastsgd._validation import FloatArray, as_array, as_rows, check_finite, shape_str
from fastsgd.config import FitConfig

__all__ = [
    "DivergenceError",
    "FitResult",
    "auto_learning_rate",
    "fit",
    "suggest_learning_rate",
]

_DIVERGENCE_FACTOR = 1e3
_LARGEST_RATE = math.nextafter(math.inf, 0.0)
# Choosing a step size needs λ_max to a few digits only; suggest_learning_rate is precise.
_ROUGH_TOL = 1e-3


class DivergenceError(FloatingPointError, ValueError):
    """Training diverged: the loss became non-finite or grew far past its start.

    A ``FloatingPointError`` and a ``ValueError`` (scikit-learn raises the latter)."""

    def __init__(
        self, message: str, *, epoch: int, learning_rate: float, max_stable: float
    ) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.learning_rate = learning_rate
        self.max_stable_learning_rate = max_stable


@dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes
    ----------
    w : ndarray, (d,) or (d, k), float64 — the fitted weights.
    b : float, ndarray (k,) or None — the fitted intercept (None without one).
    loss_history : ndarray — the full-data loss before training and after every epoch.
    val_loss_history : ndarray or None — the same on ``validation_data``.
    lr_history : ndarray — the learning rate used in each epoch (its first step's).
    n_epochs, n_steps : int — epochs run and SGD steps taken.
    converged : bool — stopped because the loss (or validation loss) stopped improving.
    stop_reason : str — "epochs", "tol", "early_stopping", "adaptive", or "callback".
    best_epoch : int or None — with early stopping, the epoch whose parameters were kept.
    path_w, path_b : with ``record_path=True``, the parameters at the start and after
        every epoch, stacked along the first axis.
    learning_rate : float — the initial learning rate (the value chosen by "auto").
    model : the core's model state after the fit (averages, step counter, rule state).
    """

    w: FloatArray
    b: Any
    loss_history: FloatArray
    val_loss_history: FloatArray | None
    lr_history: FloatArray
    n_epochs: int
    n_steps: int
    converged: bool
    stop_reason: str
    learning_rate: float
    best_epoch: int | None = None
    path_w: FloatArray | None = None
    path_b: FloatArray | None = None
    model: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def loss(self) -> float:
        """The final full-data loss."""
        return float(self.loss_history[-1])


# --- the learning rate from the data's curvature -------------------------------------------


def _curvature(
    X: FloatArray, fit_intercept: bool, *, tol: float = 1e-6, weights: FloatArray | None = None
) -> tuple[float, float]:
    lam, trace, _ = _core.curvature(X, bool(fit_intercept), 100, tol, 0, weights)
    return float(lam), float(trace)


def _stable_rate(lam: float, c: float) -> float:
    return math.inf if lam <= 0 or c <= 0 else 2.0 / (c * lam)


def _auto_rate(lam: float, trace: float, c: float, n: int, batch_size: int | None) -> float:
    B = n if batch_size is None else min(int(batch_size), n)
    denom = c * lam + c * trace / B
    if denom <= 0:
        return 1.0
    # data so small (|x| around 1e-160) that 1 / curvature overflows: the largest finite rate
    return min(1.0 / denom, _LARGEST_RATE)


def _rows_for_rate(X: Any) -> FloatArray:
    Xr = as_rows(X, "X")
    check_finite(Xr, "X")
    if Xr.shape[0] == 0:
        raise ValueError("X has no rows")
    return Xr


def suggest_learning_rate(
    X: Any, loss: str = "mse", *, fit_intercept: bool = False, n_outputs: int = 1
) -> float:
    """The largest stable learning rate of full-batch gradient descent on X.

    Gradient descent on a quadratic converges for ``lr < 2 / λ_max(H)``. With
    ``A = X̃ᵀX̃ / n`` (``X̃ = [X, 1]`` with an intercept), the Hessian is at most
    ``c·A`` where ``c`` bounds the loss's second derivative: ``2 / n_outputs`` for the
    mean squared error, 1/2 for softmax cross-entropy, 1/4 for the logistic loss (see
    the losses' table). ``λ_max(A)`` comes from power iteration in C++ (each step one
    fused pass over X).

    Examples
    --------
    >>> import fastsgd
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line()
    >>> round(fastsgd.suggest_learning_rate(X), 2)   # the lesson's line: about 1.0
    0.99
    """
    entry = LOSSES[loss]
    lam, _ = _curvature(_rows_for_rate(X), fit_intercept)
    return _stable_rate(lam, entry.curvature(None, n_outputs))


def auto_learning_rate(
    X: Any,
    loss: str = "mse",
    *,
    batch_size: int | None = None,
    fit_intercept: bool = False,
    n_outputs: int = 1,
) -> float:
    """The learning rate ``learning_rate="auto"`` picks: ``1 / (c·λ_max + c·tr(A)/B)``.

    ``A = X̃ᵀX̃/n`` and ``c`` are those of :func:`suggest_learning_rate`, ``B``
    is the batch size. For the full batch this is half the stability bound
    ``2/(c·λ_max)``; for small batches the trace term, which measures how much
    one batch's curvature can exceed the average, takes over (for B = 1 it is
    about one over the mean squared row norm, the classic per-sample SGD
    bound). It adapts to unscaled data such as features around 100.

    Examples
    --------
    >>> import fastsgd
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line()
    >>> round(fastsgd.auto_learning_rate(X), 2)                 # full batch: half the bound
    0.49
    >>> fastsgd.auto_learning_rate(X, batch_size=1) < fastsgd.auto_learning_rate(X)
    True
    """
    entry = LOSSES[loss]
    Xr = _rows_for_rate(X)
    lam, trace = _curvature(Xr, fit_intercept, tol=_ROUGH_TOL)
    return _auto_rate(lam, trace, entry.curvature(None, n_outputs), Xr.shape[0], batch_size)


# --- backends: what runs an epoch ----------------------------------------------------------


@dataclass
class EpochResult:
    steps: int
    rows: int
    loss_sum: float
    weighted_loss_sum: float
    objective_sum: float


class Backend(Protocol):
    """Runs epochs and evaluates losses; fastsgd's is the C++ core on in-memory arrays,
    fastsgd.dask's runs the blocks of dask arrays on a cluster."""

    n: int
    d: int

    def epoch(self, model: _core.Model, options: _core.EpochOptions) -> EpochResult: ...

    def loss(self, model: _core.Model, validation: bool = False) -> float: ...

    def curvature(self, fit_intercept: bool, precise: bool = False) -> tuple[float, float]: ...


class CoreBackend:
    """Epochs run by the C++ core on in-memory data (a Dataset, and validation data)."""

    def __init__(self, data: Dataset, validation: Dataset | None, n_threads: int) -> None:
        self.data, self.validation, self.threads = data, validation, n_threads
        self.n, self.d = data.n, data.d
        self.trainer = _core.Trainer(data.X, data.targets)
        self.poll = threading.current_thread() is threading.main_thread()

    def epoch(self, model: _core.Model, options: _core.EpochOptions) -> EpochResult:
        s = self.trainer.epoch(model, options, self.poll, self.threads)
        return EpochResult(s.steps, s.rows, s.loss_sum, s.weighted_loss_sum, s.objective_sum)

    def loss(self, model: _core.Model, validation: bool = False) -> float:
        data = self.validation if validation else self.data
        assert data is not None
        return data_loss(data, model, self.threads)

    def curvature(self, fit_intercept: bool, precise: bool = False) -> tuple[float, float]:
        return _curvature(self.data.X, fit_intercept, tol=1e-6 if precise else _ROUGH_TOL,
                          weights=self.data.row_weights())  # fmt: skip


def data_loss(data: Dataset, model: _core.Model, threads: int = 0) -> float:
    """The mean loss (each row's times its weights) of the model's reported parameters."""
    W, b = reported(model)
    _, weighted, _, _ = _core.loss_grad(
        data.X, data.targets, W, b, loss_spec(data), False, None, threads
    )
    return float(weighted) / data.n


def loss_spec(data: Dataset, epsilon: float | None = None) -> _core.LossSpec:
    return data.loss.spec(epsilon, data.k)


# --- the model ------------------------------------------------------------------------------


def new_model(
    d: int, k: int, w_shape: tuple[int, ...], fit_intercept: bool, w0: Any, b0: Any
) -> _core.Model:
    """A model of k outputs and d features, from w0 (w_shape) and b0 when given."""
    model = _core.Model(k, d, bool(fit_intercept))
    if w0 is not None:
        w = as_array(w0, "w0")
        if w.shape != w_shape:
            raise ValueError(f"w0 must have shape {shape_str(w_shape)}, got {shape_str(w.shape)}")
        check_finite(w, "w0")
        W = np.ascontiguousarray(np.asarray(w, dtype=np.float64).reshape(d, k).T)
    else:
        W = None
    b = None
    if fit_intercept:
        if b0 is not None:
            b_arr = as_array(b0, "b0")
            if b_arr.ndim > 1 or (b_arr.ndim == 1 and b_arr.shape != (k,)):
                raise ValueError(
                    f"b0 must be a scalar or have shape ({k},), got {shape_str(b_arr.shape)}"
                )
            check_finite(b_arr, "b0")
            b = np.array(np.broadcast_to(b_arr, (k,)), dtype=np.float64)
    elif b0 is not None:
        raise ValueError("b0 is only used with fit_intercept=True")
    if W is not None or b is not None:
        model.set_params(W if W is not None else model.coef(), b)
    return model


def reported(model: _core.Model) -> tuple[FloatArray, FloatArray | None]:
    """The parameters a fit reports, W (k, d) and b (k,) (None without an intercept): the
    average over the steps once averaging has started, else the current ones."""
    if model.average_start > 0 and model.t > model.average_start:
        W, b = model.average_coef(), model.average_bias()
    else:
        W, b = model.coef(), model.bias()
    return W, (b if model.intercept else None)


def model_w(model: _core.Model, vector: bool) -> FloatArray:
    """The reported weights in fit's layout: (d,) for one output, else (d, k)."""
    W, _ = reported(model)
    return W[0].copy() if vector else np.ascontiguousarray(W.T)


def model_b(model: _core.Model, vector: bool) -> Any:
    _, b = reported(model)
    if b is None:
        return None
    return float(b[0]) if vector else b


# --- the driver -----------------------------------------------------------------------------


def _per_epoch_rates(cfg: FitConfig, lr0: float) -> Callable[[int, float], float]:
    """lr for epoch e (0-based), given the current adaptive rate."""
    schedule = cfg.schedule
    if callable(schedule):
        from fastsgd._validation import check_positive

        def from_callable(e: int, _cur: float) -> float:
            return check_positive(schedule(e), f"schedule({e})")

        return from_callable
    if cfg.schedule_unit == "step" or schedule in ("constant", "adaptive"):
        return lambda e, cur: cur  # adaptive changes `cur` between epochs
    rule = SCHEDULES[schedule].per_epoch
    assert rule is not None

    def rate(e: int, _cur: float) -> float:
        # power_t or gamma can push the rate past the float range (OverflowError) or to 0
        try:
            lr = rule(lr0, e, max(cfg.epochs, 1), cfg.power_t, cfg.step_size, cfg.gamma)
        except OverflowError:
            lr = math.inf
        if not 0.0 < lr < math.inf:
            raise ValueError(
                f"schedule={schedule!r} gives the learning rate {lr:g} at epoch {e} "
                f"(learning_rate={lr0:g}, power_t={cfg.power_t:g}, gamma={cfg.gamma:g}, "
                f"step_size={cfg.step_size}); it must be finite and > 0"
            )
        return lr

    return rate


def _shuffle(cfg: FitConfig, d: int, itemsize: int) -> int:
    """0 (in order), 1 (rows) or the block size in rows for shuffle="blocks"."""
    mode = cfg.shuffle_mode
    if mode == "blocks":
        return max(1, 128 // max(1, d * itemsize))
    return 1 if mode == "rows" else 0


def resolve_seed(seed: int | None) -> int:
    if seed is None:
        entropy = np.random.SeedSequence().entropy  # an int when drawn from the OS
        assert isinstance(entropy, int)
        return entropy & ((1 << 63) - 1)
    return seed


def epoch_options(
    cfg: FitConfig, loss: _core.LossSpec, *, seed: int, shuffle: int, skip: Any = None
) -> _core.EpochOptions:
    """The core's options of an epoch (the schedule's rate is set per epoch)."""
    update = UPDATES[cfg.update].spec(
        momentum=cfg.momentum, dampening=cfg.dampening, nesterov=cfg.nesterov,
        beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps,
    )  # fmt: skip
    penalty = PENALTIES[cfg.penalty or "none"].spec(cfg.alpha, cfg.l1_ratio)
    return _core.EpochOptions(
        loss=loss,
        update=update,
        penalty=penalty,
        batch_size=cfg.batch_size or 0,
        shuffle=shuffle,
        seed=seed,
        clip=cfg.clip,
        intercept_decay=cfg.intercept_decay,
        track_objective=cfg.stop_on == "objective",
        skip=skip,
    )


def _schedule_spec(cfg: FitConfig, loss: _core.LossSpec, lr: float) -> _core.ScheduleSpec:
    if cfg.schedule_unit == "step" and isinstance(cfg.schedule, str):
        name = SCHEDULES[cfg.schedule].per_step
        assert name is not None
        t0 = _core.optimal_t0(loss, cfg.alpha) if name == "optimal" else 1.0
        return _core.ScheduleSpec(name, eta0=lr, alpha=cfg.alpha, power_t=cfg.power_t, t0=t0)
    return _core.ScheduleSpec("constant", eta0=lr)


def initial_rate(cfg: FitConfig, backend: Backend, loss: Loss, k: int) -> float:
    """The first epoch's learning rate: the number given, or "auto" from the curvature."""
    if isinstance(cfg.learning_rate, str):
        lam, trace = backend.curvature(cfg.fit_intercept)
        return _auto_rate(lam, trace, loss.curvature(cfg.epsilon, k), backend.n, cfg.batch_size)
    return float(cfg.learning_rate)


def run(
    cfg: FitConfig,
    backend: Backend,
    model: _core.Model,
    loss: Loss,
    *,
    k: int,
    vector: bool,
    has_validation: bool,
    callback: Callable[[int, float, FloatArray], Any] | None = None,
    lr0: float | None = None,
    skip: Any = None,
) -> FitResult:
    """Train ``model`` for ``cfg.epochs`` epochs on the backend's data (the shared driver)."""
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable: callback(epoch, loss, w)")
    if cfg.early_stopping and not has_validation:
        raise ValueError("early_stopping=True needs validation_data=(X_val, y_val)")
    if cfg.epoch_offset + cfg.epochs > 2**64 - 1:
        raise ValueError(
            f"epoch_offset + epochs must be < 2**64, got {cfg.epoch_offset + cfg.epochs}"
        )
    spec = loss.spec(cfg.epsilon, k)
    if lr0 is None:
        lr0 = initial_rate(cfg, backend, loss, k)
    seed = resolve_seed(cfg.seed)
    options = epoch_options(cfg, spec, seed=seed, shuffle=0, skip=skip)
    model.average_start = float(cfg.average_start)

    bar = None
    if cfg.progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("progress=True needs tqdm: pip install 'fastsgd[progress]'") from None
        bar = tqdm(total=cfg.epochs, desc="fastsgd", unit="epoch", leave=False)

    lr_of = _per_epoch_rates(cfg, lr0)
    start_loss = backend.loss(model)
    history = [start_loss]
    val_history = [backend.loss(model, validation=True)] if has_validation else None
    lrs: list[float] = []
    path_w = [model_w(model, vector)] if cfg.record_path else None
    path_b = [model_b(model, vector)] if cfg.record_path and cfg.fit_intercept else None
    best_loss, no_improve = start_loss, 0
    best_val = val_history[0] if val_history else math.inf
    best_model, best_epoch = model.copy() if cfg.early_stopping else None, 0
    cur_lr, n_steps, stop_reason, converged = lr0, 0, "epochs", False
    tol = cfg.tol
    try:
        for e in range(cfg.epochs):
            lr = lr_of(e, cur_lr)
            options.schedule = _schedule_spec(cfg, spec, lr)
            options.epoch = cfg.epoch_offset + e
            options.shuffle = _shuffle(cfg, backend.d, _itemsize(backend))
            result = backend.epoch(model, options)
            n_steps += result.steps
            lrs.append(options.schedule.rate(model.t - result.steps))
            current = backend.loss(model)
            history.append(current)
            if not math.isfinite(current) or (
                start_loss > 0 and current > _DIVERGENCE_FACTOR * start_loss
            ):
                _raise_divergence(backend, loss, cfg, k, e + 1, lrs[-1], start_loss, current)
            if path_w is not None:
                path_w.append(model_w(model, vector))
                if path_b is not None:
                    path_b.append(model_b(model, vector))
            if val_history is not None:
                val_history.append(backend.loss(model, validation=True))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{current:.4g}", refresh=False)
            if callback is not None and callback(e + 1, current, model_w(model, vector)) is False:
                stop_reason = "callback"
                break
            # stopping rules
            if cfg.early_stopping and val_history is not None:
                v = val_history[-1]
                if v < best_val - (tol or 0.0):
                    best_val, no_improve = v, 0
                    best_model, best_epoch = model.copy(), e + 1
                else:
                    no_improve += 1
                if no_improve >= cfg.n_iter_no_change:
                    stop_reason, converged = "early_stopping", True
                    break
                continue
            if tol is None and cfg.schedule != "adaptive":
                continue
            if current < best_loss - (tol or 0.0):
                no_improve = 0
            else:
                no_improve += 1
            best_loss = min(best_loss, current)
            if no_improve >= cfg.n_iter_no_change:
                if cfg.schedule == "adaptive" and cur_lr / 5.0 >= 1e-6:
                    cur_lr /= 5.0
                    no_improve = 0
                    continue
                stop_reason = "adaptive" if cfg.schedule == "adaptive" else "tol"
                converged = True
                break
    finally:
        if bar is not None:
            bar.close()
    if cfg.early_stopping and best_model is not None:
        model = best_model
    return FitResult(
        w=model_w(model, vector),
        b=model_b(model, vector),
        loss_history=np.asarray(history),
        val_loss_history=None if val_history is None else np.asarray(val_history),
        lr_history=np.asarray(lrs),
        n_epochs=len(lrs),
        n_steps=n_steps,
        converged=converged,
        stop_reason=stop_reason,
        learning_rate=lr0,
        best_epoch=best_epoch if cfg.early_stopping else None,
        path_w=None if path_w is None else np.stack(path_w),
        path_b=None if path_b is None else np.stack(path_b),
        model=model,
    )


def _itemsize(backend: Backend) -> int:
    data = getattr(backend, "data", None)
    X = getattr(data, "X", None)
    return int(getattr(X, "itemsize", 8))


def _raise_divergence(
    backend: Backend, loss: Loss, cfg: FitConfig, k: int, epoch: int, lr: float, start: float,
    current: float,
) -> None:  # fmt: skip
    lam, _ = backend.curvature(cfg.fit_intercept, precise=True)
    bound = _stable_rate(lam, loss.curvature(cfg.epsilon, k))
    what = (
        "became non-finite"
        if not math.isfinite(current)
        else (f"grew from {start:.4g} to {current:.4g}")
    )
    raise DivergenceError(
        f"training diverged at epoch {epoch} with learning_rate={lr:g}: the loss {what}. "
        f"The largest stable learning rate for full-batch gradient descent on this data is "
        f"{bound:.4g} (fastsgd.suggest_learning_rate); mini-batches need less. Try "
        f"learning_rate={bound / 4:.3g}, or learning_rate='auto'.",
        epoch=epoch,
        learning_rate=lr,
        max_stable=bound,
    )


# --- fit ------------------------------------------------------------------------------------


def fit(
    X: Any,
    y: Any,
    w0: Any = None,
    *,
    b0: Any = None,
    sample_weight: Any = None,
    class_weight: Any = None,
    validation_data: tuple[Any, Any] | None = None,
    callback: Callable[[int, float, FloatArray], Any] | None = None,
    config: FitConfig | None = None,
    **options: Any,
) -> FitResult:
    """Train a linear model with mini-batch SGD; the whole batch loop runs in C++.

    Each epoch visits every row once in a shuffled order (a seeded permutation,
    the same on every platform and for any thread count), in batches of
    ``batch_size`` rows (the last batch may be smaller and is used), and takes
    one step ``w ← w − lr · ∇loss(batch)`` per batch, with optional momentum,
    Nesterov momentum and weight decay (torch.optim.SGD's rule).

    Parameters
    ----------
    X : array_like (n, d). float32 and float64 are used in place; other real input
        is converted once to float64.
    y : targets. Regression losses (``"mse"``): (n,) or (n, k). ``"softmax"``: integer
        class indices 0..k-1 (n,). Binary losses (``"logistic"``): integer labels 0/1 (n,),
        or class indices 0..n_classes-1 for one score per class (one-vs-rest).
    w0 : initial weights, (d,) or (d, k); zeros when None.
    b0 : initial intercept (with ``fit_intercept=True``); 0 when None.
    sample_weight : (n,) weights >= 0 multiplying each row's loss and gradient.
    class_weight : one weight per class (classification losses), multiplying the rows
        of that class; for a binary loss with one score, [negative, positive].
    validation_data : ``(X_val, y_val)``; its loss is recorded after every epoch.
    callback : ``callback(epoch, loss, w)`` after every epoch (epoch counts from 1);
        returning False stops training.
    config : a :class:`fastsgd.FitConfig`; keyword options override its fields.
    **options : the options of :class:`fastsgd.FitConfig`, among them

        - ``loss``: ``"mse"`` (mean squared error), ``"softmax"`` (cross-entropy of a
          softmax over k scores), ``"logistic"`` (binary log loss), and the others of
          the losses' table.
        - ``learning_rate``: float > 0, or ``"auto"`` (see :func:`auto_learning_rate`).
        - ``batch_size``: rows per step; None means the full batch (one step per epoch:
          the lesson's gradient descent).
        - ``epochs``: number of passes over the data (>= 0).
        - ``shuffle``, ``seed``: visit rows in a new seeded order each epoch.
          ``shuffle="blocks"`` shuffles blocks of consecutive rows (about 128 bytes of X
          each: 16 rows of two float32 features; single rows once a row is that wide)
          instead of single rows: far fewer cache misses when rows are narrow, at the
          price of batches made of a few runs of neighbouring rows (fine for data in
          random order, not for sorted data). The last ``n mod block`` rows then come
          last, in order.
        - ``update``: ``"sgd"`` (with ``momentum``, ``dampening``, ``nesterov`` as
          ``torch.optim.SGD``), ``"adagrad"``, ``"adam"`` (``beta1``, ``beta2``, ``eps``).
        - ``penalty``, ``alpha``, ``l1_ratio``: ``"l2"``, ``"l1"`` or ``"elasticnet"``
          on the weights (never the intercept); ``weight_decay=λ`` is ``penalty="l2",
          alpha=λ`` (torch's weight decay).
        - ``average``: average the weights over the steps (from step ``average`` on when
          an int) and return the average (Polyak–Ruppert).
        - ``schedule``: the learning rate of epoch e = 0, 1, ...:

          - ``"constant"``: ``lr``
          - ``"invscaling"``: ``lr / (e + 1) ** power_t``
          - ``"step"``: ``lr · gamma ** (e // step_size)``
          - ``"cosine"``: ``lr · (1 + cos(π e / epochs)) / 2``
          - ``"adaptive"``: ``lr``, divided by 5 each time the loss has not improved by
            ``tol`` (0 when None) for ``n_iter_no_change`` epochs; stops below 1e-6
          - a callable ``f(e) -> lr``;

          with ``schedule_unit="step"`` the rate changes every step t instead:
          ``"invscaling"`` gives ``lr / t ** power_t`` and ``"optimal"``
          ``1 / (alpha·(t0 + t − 1))`` (scikit-learn's).
        - ``fit_intercept``: learn an intercept b (inside the kernel; X is never copied
          to add a column of ones).
        - ``tol``, ``n_iter_no_change``: stop when the epoch loss has not improved by
          ``tol`` for ``n_iter_no_change`` epochs (None: never).
        - ``early_stopping``: with validation_data, stop when the validation loss has not
          improved by ``tol`` (0 when None) for ``n_iter_no_change`` epochs and restore
          the best parameters.
        - ``progress``: a tqdm progress bar over epochs; ``record_path``: keep the
          parameters at the start and after every epoch; ``n_classes``: the number of
          classes (default: max label + 1); ``epoch_offset``: the first epoch's number
          for the shuffle (continuing a fit); ``n_threads``: threads for this fit.

    Returns
    -------
    FitResult

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or grows past 1000 × its starting value; the
        message gives the epoch, the learning rate and the largest stable one.

    Examples
    --------
    The lesson: 100 steps of gradient descent from a = (-1, 1) with lr = 0.1.

    >>> import fastsgd
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line()
    >>> r = fastsgd.fit(X, y, w0=(-1.0, 1.0), learning_rate=0.1, epochs=100)
    >>> r.w.round(2), round(r.loss, 3)   # the noise's mean 0.5 lifts the intercept
    (array([3.12, 2.52]), 0.084)
    """
    cfg = make_config(config, options)
    entry = LOSSES[cfg.loss]
    data = Dataset.build(
        X, y, entry, n_classes=cfg.n_classes, sample_weight=sample_weight,
        class_weight=class_weight,
    )  # fmt: skip
    validation = None
    if validation_data is not None:
        X_val, y_val = pair(validation_data, "validation_data")
        validation = data.like(X_val, y_val, name_X="X_val", name_y="y_val")
    model = new_model(data.d, data.k, data.w_shape, cfg.fit_intercept, w0, b0)
    backend = CoreBackend(data, validation, cfg.n_threads or 0)
    return run(
        cfg, backend, model, entry, k=data.k, vector=data.vector,
        has_validation=validation is not None, callback=callback,
    )  # fmt: skip


def make_config(config: FitConfig | None, options: dict[str, Any]) -> FitConfig:
    """A FitConfig from a given one and keyword options (``weight_decay`` is an L2 penalty)."""
    options = dict(options)
    if "weight_decay" in options:
        wd = options.pop("weight_decay")
        from fastsgd._params import Interval, check

        wd = check("weight_decay", wd, [Interval(numbers.Real, 0, None)])
        if wd:
            if options.get("penalty", "l2") not in ("l2", None):
                raise ValueError("weight_decay is the L2 penalty: pass penalty='l2' or no penalty")
            options["penalty"] = "l2"
            options["alpha"] = wd
    if config is None:
        return FitConfig.from_options(options)
    if not isinstance(config, FitConfig):
        raise TypeError(f"config must be a fastsgd.FitConfig, got {type(config).__name__}")
    return config.replace(**options) if options else config
