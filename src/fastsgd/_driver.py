"""The driver of a fit: epochs run by a backend (the C++ core on in-memory data, or
fastsgd.dask's on a cluster), and between them the per-epoch schedule, the recorded
losses, the callback, early stopping, the stopping rules and the divergence guard.
fastsgd.fit, the estimators and fastsgd.dask all train through ``run``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fastsgd._data import Dataset
from fastsgd._ext import _core
from fastsgd._registry import PENALTIES, SCHEDULES, UPDATES, Loss
from fastsgd._validation import FloatArray, as_array, check_finite, shape_str
from fastsgd.config import FitConfig

_DIVERGENCE_FACTOR = 1e3
_LARGEST_RATE = math.nextafter(math.inf, 0.0)
# Choosing a step size needs λ_max to a few digits only; suggest_learning_rate is precise.
_ROUGH_TOL = 1e-3
# Rows the automatic rate's power iteration reads (every s-th row of larger data).
_CURVATURE_ROWS = 1 << 16
_CURVATURE_CSR_ROWS = 1 << 13  # sparse rows: fewer, their columns renumbered


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
    loss_history : ndarray — with ``loss_record="progressive"`` (the default), each
        epoch's mean loss over its batches, each measured before its step; with
        ``"exact"``, the full-data loss before training and after every epoch; with
        ``"none"``, empty.
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
    X: FloatArray, fit_intercept: bool, *, tol: float = 1e-6, weights: FloatArray | None = None,
    precond: FloatArray | None = None,
) -> tuple[float, float]:  # fmt: skip
    lam, trace, _ = _core.curvature(X, bool(fit_intercept), 100, tol, 0, weights, precond)
    return float(lam), float(trace)


def _csr_sample(X: Any, rows_wanted: int) -> tuple[Any, Any, Any]:
    """Every s-th row of a CSR matrix (all of them for at most 2·rows_wanted rows) with its
    columns renumbered 0..m-1 in the order of the columns it uses: (the sample, its rows,
    the original column of each new one). A copy of the sample's values only."""
    n = X.shape[0]
    step = n // rows_wanted if n > 2 * rows_wanted else 1
    rows = np.arange(0, n, step)
    indptr = np.asarray(X.indptr)
    starts, ends = indptr[rows], indptr[rows + 1]
    lengths = ends - starts
    new_indptr = np.zeros(rows.size + 1, dtype=np.int32 if indptr[-1] < 2**31 else np.int64)
    np.cumsum(lengths, out=new_indptr[1:])
    # positions of the sample's values: each row's run of X.data
    take = np.repeat(starts - new_indptr[:-1], lengths) + np.arange(new_indptr[-1])
    # the columns used, in order, and each one's new number (np.unique(..., return_inverse=True)
    # without its sort: a mark per column)
    used = np.asarray(X.indices)[take]
    marked = np.zeros(X.shape[1], dtype=bool)
    marked[used] = True
    cols = np.flatnonzero(marked)
    del marked
    number = np.empty(X.shape[1], dtype=new_indptr.dtype)
    number[cols] = np.arange(cols.size, dtype=new_indptr.dtype)
    sample = _core.CsrMatrix(
        np.ascontiguousarray(np.asarray(X.data)[take]), number[used], new_indptr,
        max(int(cols.size), 1),
    )  # fmt: skip
    return sample, rows, cols


def preconditioner(backend: Backend, fit_intercept: bool) -> FloatArray:
    """The normalized rule's scales: one over each feature's mean square (1 for a feature
    that is always 0), then the intercept's (d + 1 values with an intercept). One pass over
    X per backend: the rate, the model's scales and a divergence message share it."""
    cache: dict[bool, FloatArray] = backend.__dict__.setdefault("_scales", {})
    if fit_intercept not in cache:
        ms = np.asarray(backend.mean_squares(fit_intercept), dtype=np.float64)
        with np.errstate(divide="ignore"):
            cache[fit_intercept] = np.where(ms > 0, 1.0 / ms, 1.0)
    return cache[fit_intercept]


def _backend_curvature(
    backend: Backend, cfg: FitConfig, precise: bool = False
) -> tuple[float, float]:
    """The curvature that bounds the rate of cfg's update rule: in the normalized rule's
    coordinates for it, else the data's."""
    precond = preconditioner(backend, cfg.fit_intercept) if cfg.update == "normalized" else None
    return backend.curvature(cfg.fit_intercept, precise=precise, precond=precond)


def _set_scales(model: _core.Model, backend: Backend, cfg: FitConfig) -> None:
    """The normalized rule's scales into a new model's rule state (a model that has them
    keeps them: partial_fit's later batches do not rescale it)."""
    S0 = model.state()["S0"]
    if S0 is not None and np.any(S0):
        return
    P = preconditioner(backend, cfg.fit_intercept)
    d = model.d
    W = np.broadcast_to(P[:d], (model.k, d))
    b = np.full(model.k, P[d] if cfg.fit_intercept else 1.0)
    model.set_rule_state(np.ascontiguousarray(W), b)


def _stable_rate(lam: float, c: float) -> float:
    return math.inf if lam <= 0 or c <= 0 else 2.0 / (c * lam)


def _auto_rate(
    lam: float, trace: float, c: float, n: int, batch_size: int | None, *,
    momentum: float = 0.0, dampening: float = 0.0, l2: float = 0.0,
) -> float:  # fmt: skip
    """``(1 − μ)/(1 − τ) / (c·λ_max + c·tr(A)/B + l2)``: the curvature of a batch's loss
    plus the L2 penalty's, with the step that momentum μ (dampening τ) multiplies by
    ``(1 − τ)/(1 − μ)`` in the long run taken back out."""
    B = n if batch_size is None else min(int(batch_size), n)
    denom = c * lam + c * trace / B + l2
    if denom <= 0:
        return 1.0
    gain = (1.0 - dampening) / (1.0 - momentum) if dampening < 1.0 else 1.0 / (1.0 - momentum)
    # data so small (|x| around 1e-160) that 1 / curvature overflows: the largest finite rate
    return min(1.0 / (denom * gain), _LARGEST_RATE)


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

    def curvature(
        self, fit_intercept: bool, precise: bool = False, precond: FloatArray | None = None
    ) -> tuple[float, float]: ...

    def mean_squares(self, fit_intercept: bool) -> FloatArray: ...


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

    def curvature(
        self, fit_intercept: bool, precise: bool = False, precond: FloatArray | None = None
    ) -> tuple[float, float]:
        X, weights = self.data.X, self.data.row_weights()
        wide = X.shape[1] > _CURVATURE_ROWS
        if isinstance(X, _core.CsrMatrix) and (wide or self.n > 2 * _CURVATURE_CSR_ROWS):
            # the power iteration's vectors are as long as the columns the rows use: those of
            # a sample of rows, renumbered (a few MiB, where 2^20 columns would take 100)
            X, rows, cols = _csr_sample(X, _CURVATURE_CSR_ROWS if not precise else X.shape[0])
            weights = None if weights is None else np.ascontiguousarray(weights[rows])
            if precond is not None:
                extra = [precond.size - 1] if precond.size > self.d else []
                precond = np.ascontiguousarray(
                    precond[np.concatenate([cols, extra]).astype(np.intp)]
                )
        elif not precise and self.n > 2 * _CURVATURE_ROWS:
            # the rate needs λ_max to a few digits: every s-th row (a view, no copy) gives it
            step = self.n // _CURVATURE_ROWS
            X = X[::step]
            weights = None if weights is None else np.ascontiguousarray(weights[::step])
        return _curvature(X, fit_intercept, tol=1e-6 if precise else _ROUGH_TOL,
                          weights=weights, precond=precond)  # fmt: skip

    def mean_squares(self, fit_intercept: bool) -> FloatArray:
        return _core.mean_squares(self.data.X, bool(fit_intercept), self.data.row_weights())


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


def per_epoch_rates(cfg: FitConfig, lr0: float) -> Callable[[int, float], float]:
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


def shuffle_code(cfg: FitConfig, d: int, itemsize: int) -> int:
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
    cfg: FitConfig,
    loss: _core.LossSpec,
    *,
    seed: int,
    shuffle: int,
    skip: Any = None,
    track_objective: bool = False,
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
        track_objective=track_objective or cfg.stop_on == "objective",
        skip=skip,
        sklearn_arithmetic=cfg.sklearn_arithmetic,
        sum_loss=cfg.loss_record != "none",
    )


def schedule_spec(cfg: FitConfig, loss: _core.LossSpec, lr: float) -> _core.ScheduleSpec:
    if cfg.schedule_unit == "step" and isinstance(cfg.schedule, str):
        name = SCHEDULES[cfg.schedule].per_step
        assert name is not None
        t0 = _core.optimal_t0(loss, cfg.alpha) if name == "optimal" else 1.0
        return _core.ScheduleSpec(name, eta0=lr, alpha=cfg.alpha, power_t=cfg.power_t, t0=t0)
    return _core.ScheduleSpec("constant", eta0=lr)


def _rate_terms(cfg: FitConfig) -> dict[str, float]:
    """What besides the data changes the stable rate: momentum (plain SGD's rule; AdaGrad
    and Adam have none) and the L2 penalty's curvature."""
    plain = cfg.update == "sgd"
    alpha, l1_ratio = PENALTIES[cfg.penalty or "none"].mix(float(cfg.alpha), float(cfg.l1_ratio))
    return {
        "momentum": float(cfg.momentum) if plain else 0.0,
        "dampening": float(cfg.dampening) if plain else 0.0,
        "l2": alpha * (1.0 - l1_ratio),
    }


def initial_rate(cfg: FitConfig, backend: Backend, loss: Loss, k: int) -> float:
    """The first epoch's learning rate: the number given, or "auto" from the curvature."""
    if isinstance(cfg.learning_rate, str):
        lam, trace = _backend_curvature(backend, cfg)
        return _auto_rate(
            lam, trace, loss.curvature(cfg.epsilon, k), backend.n, cfg.batch_size,
            **_rate_terms(cfg),
        )  # fmt: skip
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
    score: Callable[[_core.Model], float] | None = None,
    keep_best: bool = True,
    on_nonfinite: Callable[[int], Exception] | None = None,
    report: Callable[[int, EpochResult, _core.Model, float], None] | None = None,
    track_objective: bool = False,
) -> FitResult:
    """Train ``model`` for ``cfg.epochs`` epochs on the backend's data (the shared driver).

    After each epoch: the loss is recorded (``cfg.loss_record``), the parameters are
    checked, the callback runs, and the stopping rule watches one number, chosen by
    ``cfg.stop_on``: the recorded loss, the epoch's objective (scikit-learn's: the mean
    over the epoch's rows of each row's loss plus the penalty, measured before its step),
    the validation loss, or ``-score(model)`` (a validation score, higher is better).
    An epoch improves on the best so far when that number is below ``best - tol``; after
    ``n_iter_no_change`` epochs without improvement the fit stops, or, with the adaptive
    schedule, divides the rate by 5 while it is above 1e-6 (scikit-learn's rule).

    score : the validation score for ``stop_on="validation_score"``.
    keep_best : with early stopping, end with the parameters of the best epoch.
    on_nonfinite : when given, non-finite parameters after an epoch raise the exception it
        returns for the epoch (scikit-learn's check) and the loss's growth is not watched;
        by default a loss that is non-finite or grew 1000-fold raises DivergenceError.
    report : ``report(epoch, result, model, metric)`` after every epoch (verbose output).
    track_objective : sum the objective (``result.objective_sum``) even when the stopping
        rule does not watch it.
    skip : a uint8 mask of rows not to train on (a validation split inside the data).
    """
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable: callback(epoch, loss, w)")
    if cfg.early_stopping and not has_validation and score is None:
        raise ValueError("early_stopping=True needs validation_data=(X_val, y_val)")
    if cfg.stop_on == "validation_score" and score is None:
        raise ValueError("stop_on='validation_score' needs a validation score")
    if cfg.epoch_offset + cfg.epochs > 2**64 - 1:
        raise ValueError(
            f"epoch_offset + epochs must be < 2**64, got {cfg.epoch_offset + cfg.epochs}"
        )
    spec = loss.spec(cfg.epsilon, k)
    if lr0 is None:
        lr0 = initial_rate(cfg, backend, loss, k)
    seed = resolve_seed(cfg.seed)
    options = epoch_options(
        cfg, spec, seed=seed, shuffle=0, skip=skip, track_objective=track_objective
    )
    if cfg.update == "normalized":
        _set_scales(model, backend, cfg)
    if cfg.average != "auto" or model.average_start == 0:  # "auto" keeps a model's start
        model.average_start = float(cfg.average_start(backend.n))
    order = _sklearn_order(cfg, backend)

    bar = None
    if cfg.progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("progress=True needs tqdm: pip install 'fastsgd[progress]'") from None
        bar = tqdm(total=cfg.epochs, desc="fastsgd", unit="epoch", leave=False)

    exact = cfg.loss_record == "exact"
    lr_of = per_epoch_rates(cfg, lr0)
    history: list[float] = [backend.loss(model)] if exact else []
    val_history = [backend.loss(model, validation=True)] if has_validation else None
    lrs: list[float] = []
    path_w = [model_w(model, vector)] if cfg.record_path else None
    path_b = [model_b(model, vector)] if cfg.record_path and cfg.fit_intercept else None
    # the number the stopping rule watches, and its best value so far
    best = math.inf
    if exact and cfg.stop_on == "loss":
        best = history[0]
    elif val_history is not None and cfg.stop_on == "validation_loss":
        best = val_history[0]
    keep = cfg.early_stopping and keep_best
    best_model, best_epoch = (model.copy() if keep else None), 0
    watching = cfg.early_stopping or cfg.tol is not None or cfg.schedule == "adaptive"
    tol = cfg.tol or 0.0
    cur_lr, n_steps, stop_reason, converged, no_improve = lr0, 0, "epochs", False, 0
    try:
        for e in range(cfg.epochs):
            lr = lr_of(e, cur_lr)
            options.schedule = schedule_spec(cfg, spec, lr)
            options.epoch = cfg.epoch_offset + e
            if order is not None:
                _core.xorshift_shuffle(order, seed & 0xFFFFFFFF)
                options.order = order
            else:
                options.shuffle = shuffle_code(cfg, backend.d, _itemsize(backend))
            result = backend.epoch(model, options)
            n_steps += result.steps
            lrs.append(options.schedule.rate(model.t - result.steps))
            if exact:
                current = backend.loss(model)
            elif cfg.loss_record == "progressive":
                current = result.weighted_loss_sum / max(result.rows, 1)
            else:  # "none": no loss summed
                current = math.nan
            if cfg.loss_record != "none":
                history.append(current)
            if on_nonfinite is not None:
                if not _finite(model):
                    raise on_nonfinite(e + 1)
            elif not _finite(model) or (
                cfg.loss_record != "none"
                and (
                    not math.isfinite(current)
                    or (history[0] > 0 and current > _DIVERGENCE_FACTOR * history[0])
                )
            ):
                _raise_divergence(backend, loss, cfg, k, e + 1, lrs[-1], history[0], current)
            if path_w is not None:
                path_w.append(model_w(model, vector))
                if path_b is not None:
                    path_b.append(model_b(model, vector))
            if val_history is not None:
                val_history.append(backend.loss(model, validation=True))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{current:.4g}", refresh=False)
            metric = _stop_metric(cfg.stop_on, current, result, val_history, score, model)
            if report is not None:
                report(e + 1, result, model, metric)
            if callback is not None and callback(e + 1, current, model_w(model, vector)) is False:
                stop_reason = "callback"
                break
            if not watching:
                continue
            no_improve = no_improve + 1 if metric > best - tol else 0
            if metric < best:
                best = metric
                if keep:
                    best_model, best_epoch = model.copy(), e + 1
            if no_improve >= cfg.n_iter_no_change:
                if cfg.schedule == "adaptive" and cur_lr > 1e-6:
                    cur_lr /= 5.0
                    no_improve = 0
                    continue
                stop_reason = (
                    "early_stopping" if cfg.early_stopping
                    else "adaptive" if cfg.schedule == "adaptive" else "tol"
                )  # fmt: skip
                converged = True
                break
    finally:
        if bar is not None:
            bar.close()
    if keep and best_model is not None:
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
        best_epoch=best_epoch if keep else None,
        path_w=None if path_w is None else np.stack(path_w),
        path_b=None if path_b is None else np.stack(path_b),
        model=model,
    )


def _stop_metric(
    stop_on: str, current: float, result: EpochResult, val_history: list[float] | None,
    score: Callable[[_core.Model], float] | None, model: _core.Model,
) -> float:  # fmt: skip
    """The number the stopping rule watches after an epoch (lower is better)."""
    if stop_on == "objective":
        return result.objective_sum / max(result.rows, 1)
    if stop_on == "validation_loss" and val_history is not None:
        return val_history[-1]
    if stop_on == "validation_score" and score is not None:
        return -float(score(model))
    return current


def _finite(model: _core.Model) -> bool:
    """Whether the model's weights and intercept are all finite."""
    return bool(np.isfinite(model.coef()).all() and np.isfinite(model.bias()).all())


def _sklearn_order(cfg: FitConfig, backend: Backend) -> Any:
    """With shuffle="sklearn", the row order that scikit-learn's shuffle updates each epoch."""
    if cfg.shuffle_mode != "sklearn":
        return None
    if not isinstance(backend, CoreBackend):
        raise TypeError("shuffle='sklearn' needs in-memory data (NumPy arrays), not a dask backend")
    if cfg.seed is not None and cfg.seed > 0xFFFFFFFF:
        raise ValueError(f"shuffle='sklearn' needs a seed < 2**32, got {cfg.seed}")
    return np.arange(backend.n, dtype=np.int64)


def _itemsize(backend: Backend) -> int:
    data = getattr(backend, "data", None)
    X = getattr(data, "X", None)
    return int(getattr(X, "itemsize", 8))


def _raise_divergence(
    backend: Backend, loss: Loss, cfg: FitConfig, k: int, epoch: int, lr: float, start: float,
    current: float,
) -> None:  # fmt: skip
    """DivergenceError naming what made the step unstable (momentum, the L2 penalty or the
    rate itself) and a setting other than the one used; first, a backend whose data were
    not checked up front (dask's) says whether they hold NaN or infinity."""
    check_data = getattr(backend, "check_data", None)
    if check_data is not None:
        check_data()
    lam, trace = _backend_curvature(backend, cfg, precise=True)
    c = loss.curvature(cfg.epsilon, k)
    bound = _stable_rate(lam, c)
    terms = _rate_terms(cfg)
    safe = _auto_rate(lam, trace, c, backend.n, cfg.batch_size, **terms)
    plain = _auto_rate(lam, trace, c, backend.n, cfg.batch_size, l2=terms["l2"])
    what = (
        "became non-finite"
        if not math.isfinite(current)
        else (f"grew from {start:.4g} to {current:.4g}")
    )
    given = (
        "learning_rate='auto'" if isinstance(cfg.learning_rate, str) else f"learning_rate={lr:g}"
    )
    mu, l2 = terms["momentum"], terms["l2"]
    if l2 > 0 and lr * l2 >= 1.0:
        cause = (
            f"the L2 penalty (alpha/weight_decay {l2:g}) shrinks the weights by 1 − lr·{l2:g} "
            f"= {1 - lr * l2:.3g} per step, which must stay in (0, 1)"
        )
        advice = f"a smaller alpha/weight_decay (below {0.5 / lr:.3g} at this rate)"
    elif mu > 0 and lr <= 2 * plain:
        cause = (
            f"momentum={mu:g} multiplies each step by about {1 / (1 - mu):.3g} in the long run, "
            "which this rate does not allow for"
        )
        advice = f"learning_rate={safe:.3g} with this momentum, or momentum={min(mu, 0.5) / 2:g}"
    else:
        cause = (
            f"{given} is too large for this data (full-batch gradient descent is stable below "
            f"{bound:.4g}; mini-batches and momentum need less)"
        )
        advice = f"learning_rate={min(safe, lr / 4):.3g}"
        if not isinstance(cfg.learning_rate, str):
            advice += " or learning_rate='auto'"
        elif cfg.batch_size is not None:
            advice += f", or a larger batch_size than {cfg.batch_size}"
    raise DivergenceError(
        f"training diverged at epoch {epoch} with {given} (the rate was {lr:g}): the loss "
        f"{what}. Cause: {cause}. Try {advice}.",
        epoch=epoch,
        learning_rate=lr,
        max_stable=bound,
    )
