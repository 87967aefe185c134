"""``fit()``: mini-batch SGD on a linear model, the loop running in C++.

Each epoch is one call into the core, which shuffles, gathers the mini-batches,
computes the fused loss + gradient and steps, all without returning to Python.
Between epochs this module records the loss, applies the learning-rate
schedule, calls the callback and decides whether to stop.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fastsgd._ext import _core
from fastsgd._validation import (
    FloatArray,
    as_array,
    as_rows,
    check_finite,
    check_int,
    check_positive,
    shape_str,
)

__all__ = [
    "DivergenceError",
    "FitResult",
    "auto_learning_rate",
    "fit",
    "suggest_learning_rate",
]

LOSSES = {"mse": 0, "softmax": 1, "logistic": 2}
SCHEDULES = ("constant", "invscaling", "step", "cosine", "adaptive")
# Curvature of each loss relative to A = X̃ᵀX̃/n: the Hessian is at most c·A.
_CURVATURE = {"mse": 2.0, "softmax": 0.5, "logistic": 0.25}
_DIVERGENCE_FACTOR = 1e3
# Ranges of the core's integer arguments (seed and epoch are uint64, batch_size int64,
# threads a C int): larger values are a ValueError here, not an opaque binding error.
_UINT64_MAX = 2**64 - 1
_INT64_MAX = 2**63 - 1
_INT_MAX = 2**31 - 1
_LARGEST_RATE = math.nextafter(math.inf, 0.0)


class DivergenceError(FloatingPointError):
    """Training diverged: the loss became non-finite or grew far past its start."""

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
    lr_history : ndarray — the learning rate used in each epoch.
    n_epochs, n_steps : int — epochs run and SGD steps taken.
    converged : bool — stopped because the loss (or validation loss) stopped improving.
    stop_reason : str — "epochs", "tol", "early_stopping", "adaptive", or "callback".
    best_epoch : int or None — with early stopping, the epoch whose parameters were kept.
    path_w, path_b : with ``record_path=True``, the parameters at the start and after
        every epoch, stacked along the first axis.
    learning_rate : float — the initial learning rate (the value chosen by "auto").
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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def loss(self) -> float:
        """The final full-data loss."""
        return float(self.loss_history[-1])


class Problem:
    """Validated training data laid out for the core: X (n, d); targets Y (n, k)
    for mse or int64 labels (n,) for classification; parameter shapes."""

    def __init__(
        self,
        X: Any,
        y: Any,
        loss: str,
        *,
        n_outputs: int | None = None,
        name_X: str = "X",
        name_y: str = "y",
        check_input: bool = True,
    ) -> None:
        self.loss = loss
        self.loss_id = LOSSES[loss]
        self.X = as_rows(X, name_X)
        n, d = self.X.shape
        self.n, self.d = n, d
        if n == 0:
            raise ValueError(f"{name_X} has no rows: there is nothing to fit")
        if check_input:
            check_finite(self.X, name_X)
        if loss == "mse":
            y_arr = as_array(y, name_y)
            if y_arr.ndim not in (1, 2) or y_arr.shape[0] != n:
                raise ValueError(
                    f"{name_y} must have shape ({n},) or ({n}, k) to match {name_X} of shape "
                    f"{shape_str(self.X.shape)}, got {shape_str(y_arr.shape)}"
                )
            self.vector = y_arr.ndim == 1
            self.k = 1 if self.vector else int(y_arr.shape[1])
            if self.k == 0:
                raise ValueError(
                    f"{name_y} has shape {shape_str(y_arr.shape)}: no outputs, nothing to fit"
                )
            self.Y = as_rows(y_arr.reshape(n, self.k), name_y, self.X.dtype)
            if check_input:
                check_finite(self.Y, name_y)
        else:
            labels = as_array(y, name_y)
            if labels.ndim != 1 or labels.shape[0] != n:
                raise ValueError(
                    f"{name_y} must have shape ({n},) (one class index per row of {name_X}), "
                    f"got {shape_str(labels.shape)}"
                )
            if labels.dtype.kind not in "iu":
                raise TypeError(
                    f"{name_y} must hold integer class indices, got dtype {labels.dtype}"
                )
            self.Y = np.require(labels, dtype=np.int64, requirements=["C", "A"])
            if loss == "logistic":
                self.vector, self.k = True, 1
                limit = 2
            else:
                self.vector = False
                present = int(self.Y.max()) + 1 if n else 0
                self.k = int(n_outputs) if n_outputs is not None else present
                if self.k < 2:
                    raise ValueError(
                        f"softmax needs at least 2 classes, but {name_y} holds only class "
                        f"indices below {self.k}; pass n_classes, or use loss='logistic'"
                    )
                limit = self.k
            if n and (int(self.Y.min()) < 0 or int(self.Y.max()) >= limit):
                raise ValueError(
                    f"{name_y} holds class indices outside [0, {limit}): found "
                    f"{int(self.Y.min())}..{int(self.Y.max())}"
                )
        if n_outputs is not None and loss == "mse" and n_outputs != self.k:
            raise ValueError(f"{name_y} has {self.k} outputs, expected {n_outputs}")

    @property
    def w_shape(self) -> tuple[int, ...]:
        return (self.d,) if self.vector else (self.d, self.k)

    def curvature(self, fit_intercept: bool, precise: bool = False) -> tuple[float, float]:
        """(λ_max, trace) of A = X̃ᵀX̃/n (power iteration in C++); fastsgd.dask overrides it.

        The rough estimate (relative change below 1e-3) is enough to choose a step size."""
        return _curvature(self.X, fit_intercept, tol=1e-6 if precise else _ROUGH_TOL)


# Choosing a step size needs λ_max to a few digits only; suggest_learning_rate is precise.
_ROUGH_TOL = 1e-3


def _curvature(X: FloatArray, fit_intercept: bool, *, tol: float = 1e-6) -> tuple[float, float]:
    lam, trace, _ = _core.curvature(X, bool(fit_intercept), 100, tol)
    return float(lam), float(trace)


def _loss_name(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    return loss


def suggest_learning_rate(
    X: Any, loss: str = "mse", *, fit_intercept: bool = False, n_outputs: int = 1
) -> float:
    """The largest stable learning rate of full-batch gradient descent on X.

    Gradient descent on a quadratic converges for ``lr < 2 / λ_max(H)``. With
    ``A = X̃ᵀX̃ / n`` (``X̃ = [X, 1]`` with an intercept), the Hessian is
    ``2A / n_outputs`` for the mean squared error, and at most ``A / 2`` for
    softmax cross-entropy and ``A / 4`` for the logistic loss. ``λ_max(A)``
    comes from power iteration in C++ (each step one fused pass over X).

    Examples
    --------
    >>> import fastsgd
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line()
    >>> round(fastsgd.suggest_learning_rate(X), 2)   # the lesson's line: about 1.0
    0.99
    """
    loss = _loss_name(loss)
    Xr = as_rows(X, "X")
    check_finite(Xr, "X")
    if Xr.shape[0] == 0:
        raise ValueError("X has no rows")
    lam, _ = _curvature(Xr, fit_intercept)
    return _stable_rate(lam, loss, n_outputs)


def _stable_rate(lam: float, loss: str, n_outputs: int) -> float:
    c = _CURVATURE[loss] / (n_outputs if loss == "mse" else 1)
    return math.inf if lam <= 0 else 2.0 / (c * lam)


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
    loss = _loss_name(loss)
    Xr = as_rows(X, "X")
    check_finite(Xr, "X")
    n = Xr.shape[0]
    if n == 0:
        raise ValueError("X has no rows")
    lam, trace = _curvature(Xr, fit_intercept, tol=_ROUGH_TOL)
    return _auto_rate(lam, trace, loss, n, batch_size, n_outputs)


def _auto_rate(
    lam: float, trace: float, loss: str, n: int, batch_size: int | None, n_outputs: int
) -> float:
    c = _CURVATURE[loss] / (n_outputs if loss == "mse" else 1)
    B = n if batch_size is None else min(int(batch_size), n)
    denom = c * lam + c * trace / B
    if denom <= 0:
        return 1.0
    # data so small (|x| around 1e-160) that 1 / curvature overflows: the largest finite rate
    return min(1.0 / denom, _LARGEST_RATE)


class Backend(Protocol):
    """Runs epochs and evaluates the loss; fastsgd's is C++, the reference's NumPy."""

    def epoch(self, state: State, *, lr: float, epoch: int) -> tuple[int, float]: ...

    def loss(self, X: FloatArray, Y: Any, state: State) -> float: ...


@dataclass
class Options:
    loss: str
    batch_size: int
    shuffle: int  # 0: in order; 1: rows; k > 1: blocks of k consecutive rows
    seed: int
    momentum: float
    dampening: float
    nesterov: bool
    weight_decay: float
    fit_intercept: bool
    n_threads: int


class State:
    """Model state in float64: Wt (k, d), b (k,), momentum buffers."""

    def __init__(self, prob: Problem, w0: Any, b0: Any, opts: Options) -> None:
        d, k = prob.d, prob.k
        if w0 is None:
            w = np.zeros(prob.w_shape)
        else:
            w = as_array(w0, "w0")
            if w.shape != prob.w_shape:
                raise ValueError(
                    f"w0 must have shape {shape_str(prob.w_shape)}, got {shape_str(w.shape)}"
                )
            check_finite(w, "w0")
        # copies: the core updates Wt and b in place, never the caller's w0 / b0
        self.Wt = np.array(np.asarray(w, dtype=np.float64).reshape(d, k).T, order="C")
        self.b: FloatArray | None = None
        if opts.fit_intercept:
            if b0 is None:
                self.b = np.zeros(k)
            else:
                b_arr = as_array(b0, "b0")
                if b_arr.ndim > 1 or (b_arr.ndim == 1 and b_arr.shape != (k,)):
                    raise ValueError(
                        f"b0 must be a scalar or have shape ({k},), got {shape_str(b_arr.shape)}"
                    )
                check_finite(b_arr, "b0")
                self.b = np.array(np.broadcast_to(b_arr, (k,)), dtype=np.float64, order="C")
        elif b0 is not None:
            raise ValueError("b0 is only used with fit_intercept=True")
        self.vW = np.zeros_like(self.Wt) if opts.momentum > 0 else None
        self.vb = np.zeros(k) if opts.momentum > 0 and opts.fit_intercept else None
        self.vector = prob.vector

    def w(self) -> FloatArray:
        return self.Wt[0].copy() if self.vector else np.ascontiguousarray(self.Wt.T)

    def b_out(self) -> Any:
        if self.b is None:
            return None
        return float(self.b[0]) if self.vector else self.b.copy()

    def snapshot(self) -> tuple[FloatArray, FloatArray | None]:
        return self.Wt.copy(), None if self.b is None else self.b.copy()

    def restore(self, snap: tuple[FloatArray, FloatArray | None]) -> None:
        self.Wt[...] = snap[0]
        if self.b is not None and snap[1] is not None:
            self.b[...] = snap[1]


class CoreBackend:
    """Epochs run by the C++ core (fastsgd._core.Trainer)."""

    def __init__(self, prob: Problem, opts: Options) -> None:
        self.prob, self.opts = prob, opts
        self.trainer = _core.Trainer()
        self.poll = threading.current_thread() is threading.main_thread()

    def epoch(self, state: State, *, lr: float, epoch: int) -> tuple[int, float]:
        o, p = self.opts, self.prob
        steps, batch_loss = self.trainer.epoch(
            p.X, p.Y, state.Wt, state.b, state.vW, state.vb, p.loss_id, o.batch_size,
            o.shuffle, o.seed, epoch, lr, o.momentum, o.dampening, o.nesterov,
            o.weight_decay, o.fit_intercept, self.poll, o.n_threads,
        )  # fmt: skip
        return int(steps), float(batch_loss)

    def loss(self, X: FloatArray, Y: Any, state: State) -> float:
        value, _, _ = _core.loss_grad(
            X, Y, state.Wt, state.b, self.prob.loss_id, False, self.opts.n_threads
        )
        return float(value)


def _lr_schedule(
    schedule: str | Callable[[int], float],
    lr0: float,
    epochs: int,
    power_t: float,
    step_size: int,
    gamma: float,
) -> Callable[[int, float], float]:
    """lr for epoch e (0-based), given the current adaptive rate."""
    if callable(schedule):

        def from_callable(e: int, _cur: float) -> float:
            return check_positive(schedule(e), f"schedule({e})")

        return from_callable
    if schedule == "constant" or schedule == "adaptive":
        return lambda e, cur: cur  # adaptive changes `cur` between epochs

    def finite(rule: Callable[[int], float]) -> Callable[[int, float], float]:
        # power_t or gamma can push the rate past the float range (OverflowError) or to 0
        def rate(e: int, _cur: float) -> float:
            try:
                lr = rule(e)
            except OverflowError:
                lr = math.inf
            if not 0.0 < lr < math.inf:
                raise ValueError(
                    f"schedule={schedule!r} gives the learning rate {lr:g} at epoch {e} "
                    f"(learning_rate={lr0:g}, power_t={power_t:g}, gamma={gamma:g}, "
                    f"step_size={step_size}); it must be finite and > 0"
                )
            return lr

        return rate

    if schedule == "invscaling":
        return finite(lambda e: lr0 / (e + 1) ** power_t)
    if schedule == "step":
        return finite(lambda e: lr0 * gamma ** (e // step_size))
    if schedule == "cosine":
        return finite(lambda e: 0.5 * lr0 * (1.0 + math.cos(math.pi * e / max(epochs, 1))))
    raise ValueError(f"schedule must be one of {list(SCHEDULES)} or a callable, got {schedule!r}")


def _shuffle_mode(shuffle: Any, X: FloatArray) -> int:
    """0 (in order), 1 (rows) or the block size in rows for shuffle="blocks"."""
    if isinstance(shuffle, str):
        if shuffle != "blocks":
            raise ValueError(f"shuffle must be True, False or 'blocks', got {shuffle!r}")
        row_bytes = max(1, int(X.shape[1]) * int(X.itemsize))
        return max(1, 128 // row_bytes)
    if not isinstance(shuffle, (bool, np.bool_, int, np.integer)):
        raise TypeError(f"shuffle must be True, False or 'blocks', got {type(shuffle).__name__}")
    return 1 if shuffle else 0


def _resolve_seed(seed: Any) -> int:
    if seed is None:
        entropy = np.random.SeedSequence().entropy  # an int when drawn from the OS
        assert isinstance(entropy, int)
        return entropy & ((1 << 63) - 1)
    if isinstance(seed, np.random.RandomState):
        return int(seed.randint(np.iinfo(np.int32).max))
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(1 << 62))
    value = check_int(seed, "seed", minimum=0)
    if value > _UINT64_MAX:
        raise ValueError(f"seed must be < 2**64, got {value}")
    return value


def fit(
    X: Any,
    y: Any,
    w0: Any = None,
    *,
    loss: str = "mse",
    learning_rate: float | str = 0.1,
    batch_size: int | None = None,
    epochs: int = 10,
    shuffle: bool | str = True,
    seed: Any = 0,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    schedule: str | Callable[[int], float] = "constant",
    power_t: float = 0.25,
    step_size: int = 10,
    gamma: float = 0.1,
    fit_intercept: bool = False,
    b0: Any = None,
    tol: float | None = None,
    n_iter_no_change: int = 5,
    validation_data: tuple[Any, Any] | None = None,
    early_stopping: bool = False,
    callback: Callable[[int, float, FloatArray], Any] | None = None,
    progress: bool = False,
    record_path: bool = False,
    n_classes: int | None = None,
    epoch_offset: int = 0,
    n_threads: int | None = None,
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
    y : targets. ``loss="mse"``: (n,) or (n, k). ``"softmax"``: integer class indices
        0..k-1 (n,). ``"logistic"``: integer labels 0/1 (n,).
    w0 : initial weights, (d,) or (d, k); zeros when None.
    loss : ``"mse"`` (mean squared error), ``"softmax"`` (cross-entropy of a softmax over
        k scores) or ``"logistic"`` (binary log loss).
    learning_rate : float > 0, or ``"auto"`` (see :func:`auto_learning_rate`).
    batch_size : rows per step; None means the full batch (one step per epoch: the
        lesson's gradient descent).
    epochs : number of passes over the data (>= 0).
    shuffle, seed : visit rows in a new seeded order each epoch. ``shuffle="blocks"``
        shuffles blocks of consecutive rows (about 128 bytes of X each: 16 rows of two
        float32 features; single rows once a row is that wide) instead of single rows:
        far fewer cache misses when rows are narrow, at the price of batches made of a
        few runs of neighbouring rows (fine for data in random order, not for sorted
        data). The last ``n mod block`` rows then come last, in order.
    momentum, dampening, nesterov, weight_decay : as ``torch.optim.SGD`` (weight decay is
        not applied to the intercept).
    schedule : the learning rate of epoch e = 0, 1, ...:

        - ``"constant"``: ``lr``
        - ``"invscaling"``: ``lr / (e + 1) ** power_t``
        - ``"step"``: ``lr · gamma ** (e // step_size)``
        - ``"cosine"``: ``lr · (1 + cos(π e / epochs)) / 2``
        - ``"adaptive"``: ``lr``, divided by 5 each time the loss has not improved by
          ``tol`` (0 when None) for ``n_iter_no_change`` epochs; stops below 1e-6
        - a callable ``f(e) -> lr``.
    fit_intercept, b0 : learn an intercept b (inside the kernel; X is never copied to
        add a column of ones), starting from b0 (0 by default).
    tol, n_iter_no_change : stop when the epoch loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs (None: never).
    validation_data : ``(X_val, y_val)``; its loss is recorded after every epoch.
    early_stopping : with validation_data, stop when the validation loss has not
        improved by ``tol`` (0 when None) for ``n_iter_no_change`` epochs and restore the
        best parameters.
    callback : ``callback(epoch, loss, w)`` after every epoch (epoch counts from 1);
        returning False stops training.
    progress : show a tqdm progress bar over epochs with the current loss.
    record_path : keep the parameters at the start and after every epoch.
    n_classes : with ``loss="softmax"``, the number of classes (default: max label + 1).
    epoch_offset : the first epoch's number for the shuffle (continuing a fit).
    n_threads : threads for this fit (default: ``fastsgd.get_num_threads()``).

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
    return _fit(CoreBackend, **locals())


def _fit(
    backend_cls: Callable[[Problem, Options], Backend],
    problem_cls: Callable[..., Problem] = Problem,
    **kw: Any,
) -> FitResult:
    loss = _loss_name(kw["loss"])
    epochs = check_int(kw["epochs"], "epochs", minimum=0)
    n_iter_no_change = check_int(kw["n_iter_no_change"], "n_iter_no_change", minimum=1)
    momentum = check_positive(kw["momentum"], "momentum", strict=False)
    dampening = check_positive(kw["dampening"], "dampening", strict=False)
    if dampening > 1:
        raise ValueError(f"dampening must be in [0, 1], got {dampening}")
    weight_decay = check_positive(kw["weight_decay"], "weight_decay", strict=False)
    nesterov = bool(kw["nesterov"])
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")
    tol = kw["tol"]
    if tol is not None:
        tol = check_positive(tol, "tol", strict=False)
    power_t = check_positive(kw["power_t"], "power_t", strict=False)
    step_size = check_int(kw["step_size"], "step_size", minimum=1)
    gamma = check_positive(kw["gamma"], "gamma")
    schedule = kw["schedule"]
    if not callable(schedule) and schedule not in SCHEDULES:
        raise ValueError(
            f"schedule must be one of {list(SCHEDULES)} or a callable, got {schedule!r}"
        )
    n_threads = 0 if kw["n_threads"] is None else check_int(kw["n_threads"], "n_threads", minimum=1)
    if n_threads > _INT_MAX:
        raise ValueError(f"n_threads must be <= {_INT_MAX}, got {n_threads}")
    n_classes = kw["n_classes"]
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", minimum=2)
    fit_intercept = bool(kw["fit_intercept"])
    callback = kw["callback"]
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable: callback(epoch, loss, w)")

    prob = problem_cls(kw["X"], kw["y"], loss, n_outputs=n_classes if loss == "softmax" else None)
    if prob.n == 0:
        raise ValueError("X has no rows: there is nothing to fit")
    bs = kw["batch_size"]
    batch_size = 0 if bs is None else check_int(bs, "batch_size", minimum=1)
    if batch_size > _INT64_MAX:  # any batch_size >= n means the full batch
        raise ValueError(f"batch_size must be < 2**63, got {batch_size}")
    opts = Options(
        loss=loss,
        batch_size=batch_size,
        shuffle=_shuffle_mode(kw["shuffle"], prob.X),
        seed=_resolve_seed(kw["seed"]),
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
        weight_decay=weight_decay,
        fit_intercept=fit_intercept,
        n_threads=n_threads,
    )
    lr_arg = kw["learning_rate"]
    if isinstance(lr_arg, str):
        if lr_arg != "auto":
            raise ValueError(f"learning_rate must be a number > 0 or 'auto', got {lr_arg!r}")
        lam, trace = prob.curvature(fit_intercept)
        lr0 = _auto_rate(lam, trace, loss, prob.n, batch_size or None, prob.k)
    else:
        lr0 = check_positive(lr_arg, "learning_rate")
    state = State(prob, kw["w0"], kw["b0"], opts)
    backend = backend_cls(prob, opts)

    val = None
    if kw["validation_data"] is not None:
        vd = kw["validation_data"]
        if not isinstance(vd, Sequence) or isinstance(vd, str | bytes) or len(vd) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        val = problem_cls(vd[0], vd[1], loss, n_outputs=prob.k if loss == "softmax" else None,
                      name_X="X_val", name_y="y_val")  # fmt: skip
        if val.d != prob.d or (loss == "mse" and val.k != prob.k):
            raise ValueError(
                f"validation_data has shapes {shape_str(val.X.shape)}, {shape_str(val.Y.shape)} "
                f"that do not match X {shape_str(prob.X.shape)}, y {shape_str(prob.Y.shape)}"
            )
        if val.n == 0:
            raise ValueError("X_val has no rows")
        val.X = val.X.astype(prob.X.dtype, copy=False)
        if loss == "mse":
            val.Y = val.Y.astype(prob.X.dtype, copy=False)
    early_stopping = bool(kw["early_stopping"])
    if early_stopping and val is None:
        raise ValueError("early_stopping=True needs validation_data=(X_val, y_val)")

    bar = None
    if kw["progress"]:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("progress=True needs tqdm: pip install 'fastsgd[progress]'") from None
        bar = tqdm(total=epochs, desc="fastsgd", unit="epoch", leave=False)

    lr_of = _lr_schedule(schedule, lr0, epochs, power_t, step_size, gamma)
    start_loss = backend.loss(prob.X, prob.Y, state)
    history = [start_loss]
    val_history = [backend.loss(val.X, val.Y, state)] if val is not None else None
    lrs: list[float] = []
    path_w = [state.w()] if kw["record_path"] else None
    path_b = [state.b_out()] if kw["record_path"] and fit_intercept else None
    best_loss, no_improve = start_loss, 0
    best_val = val_history[0] if val_history else math.inf
    best_snap, best_epoch = state.snapshot(), 0
    cur_lr, n_steps, stop_reason, converged = lr0, 0, "epochs", False
    epoch_offset = check_int(kw["epoch_offset"], "epoch_offset", minimum=0)
    if epoch_offset + epochs > _UINT64_MAX:
        raise ValueError(f"epoch_offset + epochs must be < 2**64, got {epoch_offset + epochs}")
    e = 0
    try:
        for e in range(epochs):
            lr = lr_of(e, cur_lr)
            steps, _ = backend.epoch(state, lr=lr, epoch=epoch_offset + e)
            n_steps += steps
            lrs.append(lr)
            current = backend.loss(prob.X, prob.Y, state)
            history.append(current)
            if not math.isfinite(current) or (
                start_loss > 0 and current > _DIVERGENCE_FACTOR * start_loss
            ):
                _raise_divergence(prob, fit_intercept, e + 1, lr, start_loss, current)
            if path_w is not None:
                path_w.append(state.w())
                if path_b is not None:
                    path_b.append(state.b_out())
            if val is not None and val_history is not None:
                val_history.append(backend.loss(val.X, val.Y, state))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{current:.4g}", refresh=False)
            if callback is not None and callback(e + 1, current, state.w()) is False:
                stop_reason = "callback"
                break
            # stopping rules
            if early_stopping and val_history is not None:
                v = val_history[-1]
                if v < best_val - (tol or 0.0):
                    best_val, no_improve = v, 0
                    best_snap, best_epoch = state.snapshot(), e + 1
                else:
                    no_improve += 1
                if no_improve >= n_iter_no_change:
                    stop_reason, converged = "early_stopping", True
                    break
                continue
            if tol is None and schedule != "adaptive":
                continue
            if current < best_loss - (tol or 0.0):
                no_improve = 0
            else:
                no_improve += 1
            best_loss = min(best_loss, current)
            if no_improve >= n_iter_no_change:
                if schedule == "adaptive" and cur_lr / 5.0 >= 1e-6:
                    cur_lr /= 5.0
                    no_improve = 0
                    continue
                stop_reason = "adaptive" if schedule == "adaptive" else "tol"
                converged = True
                break
    finally:
        if bar is not None:
            bar.close()
    n_epochs = len(lrs)
    if early_stopping:
        state.restore(best_snap)
    return FitResult(
        w=state.w(),
        b=state.b_out(),
        loss_history=np.asarray(history),
        val_loss_history=None if val_history is None else np.asarray(val_history),
        lr_history=np.asarray(lrs),
        n_epochs=n_epochs,
        n_steps=n_steps,
        converged=converged,
        stop_reason=stop_reason,
        learning_rate=lr0,
        best_epoch=best_epoch if early_stopping else None,
        path_w=None if path_w is None else np.stack(path_w),
        path_b=None if path_b is None else np.stack(path_b),
    )


def _raise_divergence(
    prob: Problem, fit_intercept: bool, epoch: int, lr: float, start: float, current: float
) -> None:
    bound = _stable_rate(prob.curvature(fit_intercept, precise=True)[0], prob.loss, prob.k)
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


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)
