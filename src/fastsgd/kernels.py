"""The kernels of a linear model, computed by the C++ core.

Every function validates its input once, converts it at most once (only when
it is not already float32/float64 with contiguous rows), releases the GIL and
runs in the core. ``fastsgd.reference`` holds the same functions written in
plain NumPy.

Conventions: ``X`` is (n, d); ``w`` is (d,) giving predictions of shape (n,),
or (d, k) giving (n, k); ``b`` is ``None``, a scalar or (k,). ``y``, ``w`` and
``b`` take X's dtype. Sums over rows are accumulated in float64, so float32
data gives float32 results that are accurate to float32 precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastsgd._ext import _core
from fastsgd._validation import (
    FloatArray,
    as_array,
    as_rows,
    check_int,
    check_positive,
    shape_str,
)

__all__ = ["dot", "get_num_threads", "mse", "mse_grad", "set_num_threads", "sgd_step"]

_MSE = 0


class _Linear:
    """X, w and b checked against each other and laid out for the core."""

    def __init__(self, X: Any, w: Any, b: Any, *, require_rows: bool) -> None:
        self.X = as_rows(X, "X")
        self.dtype = self.X.dtype
        n, d = self.X.shape
        if require_rows and n == 0:
            raise ValueError("X has no rows (shape " + shape_str(self.X.shape) + "): the mean over zero rows is undefined")
        w_arr = as_array(w, "w")
        if w_arr.ndim not in (1, 2):
            raise ValueError(f"w must be 1-d (d,) or 2-d (d, k), got shape {shape_str(w_arr.shape)}")
        if w_arr.shape[0] != d:
            raise ValueError(
                f"w has shape {shape_str(w_arr.shape)} but X has shape {shape_str(self.X.shape)}: "
                f"w needs {d} rows, one per column of X"
            )
        self.w_shape = w_arr.shape
        self.vector = w_arr.ndim == 1
        self.k = 1 if self.vector else int(w_arr.shape[1])
        # parameters in X's dtype (as the reference uses them), held in float64 by the core
        w_t = w_arr.astype(self.dtype, copy=False).reshape(d, self.k)
        self.Wt = np.ascontiguousarray(w_t.T, dtype=np.float64)
        self.b_shape: tuple[int, ...] | None = None
        self.b64: FloatArray | None = None
        if b is not None:
            b_arr = as_array(b, "b")
            if b_arr.ndim == 0:
                self.b_shape = ()
            elif b_arr.ndim == 1 and b_arr.shape[0] == self.k:
                self.b_shape = b_arr.shape
            else:
                raise ValueError(
                    f"b must be a scalar or have shape ({self.k},) for w of shape "
                    f"{shape_str(w_arr.shape)}, got shape {shape_str(b_arr.shape)}"
                )
            b_t = b_arr.astype(self.dtype, copy=False)
            self.b64 = np.ascontiguousarray(np.broadcast_to(b_t, (self.k,)), dtype=np.float64)

    def pred_shape(self) -> tuple[int, ...]:
        n = self.X.shape[0]
        return (n,) if self.vector else (n, self.k)

    def targets(self, y: Any) -> FloatArray:
        y_arr = as_array(y, "y")
        want = self.pred_shape()
        if y_arr.shape != want:
            raise ValueError(
                f"y must have the shape of the predictions X @ w, {shape_str(want)}, got "
                f"{shape_str(y_arr.shape)}"
            )
        y2 = y_arr.reshape(want[0], self.k) if self.vector else y_arr
        return as_rows(y2, "y", self.dtype)

    def grad_b(self, gb: FloatArray | None) -> Any:
        if gb is None or self.b_shape is None:
            return None
        if self.b_shape == ():
            return self.dtype.type(gb.sum())  # a shared bias collects every output's gradient
        return gb.astype(self.dtype)


def dot(X: Any, w: Any, b: Any = None) -> FloatArray:
    """Batched dot products: ``X @ w + b``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    w : array_like, shape (d,) or (d, k)
    b : None, scalar or array_like of shape (k,)

    Returns
    -------
    ndarray of shape (n,) or (n, k), X's dtype (float64 for integer input).

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[0.5, 1.0], [-1.0, 1.0]])
    >>> fastsgd.dot(X, [3.0, 2.0])   # the lesson's line y = 3x + 2
    array([ 3.5, -1. ])
    """
    lin = _Linear(X, w, b, require_rows=False)
    out = _core.predict(lin.X, lin.Wt, lin.b64)
    return out.reshape(lin.pred_shape())


def mse(X: Any, y: Any, w: Any, b: Any = None) -> float:
    """Mean squared error ``mean((X @ w + b - y) ** 2)`` over all elements, in one pass.

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[0.5, 1.0], [-1.0, 1.0]])
    >>> fastsgd.mse(X, [3.5, -2.0], [3.0, 2.0])
    0.5
    """
    lin = _Linear(X, w, b, require_rows=True)
    Y = lin.targets(y)
    loss, _, _ = _core.loss_grad(lin.X, Y, lin.Wt, lin.b64, _MSE, False)
    return float(loss)


def mse_grad(X: Any, y: Any, w: Any, b: Any = None) -> tuple[float, FloatArray, Any]:
    """Mean squared error and its gradient, fused in one pass over X.

    With ``r = X @ w + b - y`` over ``m = r.size`` elements::

        loss   = Σ r² / m
        grad_w = 2/m · Xᵀ r        (w's shape)
        grad_b = 2/m · Σ_rows r    (b's shape; None when b is None)

    Each row of X is read once: its residual is formed and folded into the
    gradient at once, with float64 sums.

    Returns
    -------
    (loss, grad_w, grad_b)

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[0.5, 1.0], [-1.0, 1.0]])
    >>> loss, gw, gb = fastsgd.mse_grad(X, [3.5, -2.0], [3.0, 2.0], b=0.0)
    >>> loss, gw, float(gb)
    (0.5, array([-1.,  1.]), 1.0)
    """
    lin = _Linear(X, w, b, require_rows=True)
    Y = lin.targets(y)
    loss, G, gb = _core.loss_grad(lin.X, Y, lin.Wt, lin.b64, _MSE, True)
    grad_w = G.T.astype(lin.dtype).reshape(lin.w_shape)
    return float(loss), grad_w, lin.grad_b(gb)


def _target_array(a: Any, name: str) -> np.ndarray[Any, Any]:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array (it is updated in place), got {type(a).__name__}")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64 (it is updated in place), got {a.dtype}")
    if not a.flags.writeable:
        raise ValueError(f"{name} must be writable (it is updated in place)")
    if not a.flags.c_contiguous:
        raise ValueError(
            f"{name} must be C-contiguous: it is updated in place, and a copy would hide the update"
        )
    return a


def sgd_step(
    w: FloatArray,
    grad: Any,
    lr: float,
    *,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    velocity: FloatArray | None = None,
) -> FloatArray:
    """One SGD step in place, with the update rule of ``torch.optim.SGD``::

        g = grad + weight_decay · w
        v = momentum · v + (1 − dampening) · g        (when momentum > 0)
        g = g + momentum · v  if nesterov  else  v    (when momentum > 0)
        w = w − lr · g

    ``velocity`` holds v between steps: pass an array of zeros shaped like w
    on the first step. With dampening 0 this is exactly torch's first step;
    torch instead starts its buffer at the first gradient undamped, so with
    dampening > 0 the first step differs by the factor (1 − dampening).

    Parameters
    ----------
    w : ndarray, float32 or float64, writable and C-contiguous
        Updated in place and returned.
    grad : array_like, w's shape (converted to w's dtype if not floating)
    lr : float > 0
    momentum : float >= 0
    dampening : float in [0, 1]
    nesterov : bool; needs momentum > 0 and dampening 0
    weight_decay : float >= 0
    velocity : ndarray like w, required when momentum > 0, updated in place

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> w = np.array([-1.0, 1.0])
    >>> fastsgd.sgd_step(w, np.array([-2.0, -4.0]), lr=0.1)
    array([-0.8,  1.4])
    """
    w = _target_array(w, "w")
    g = as_array(grad, "grad")
    if g.shape != w.shape:
        raise ValueError(f"grad must have w's shape {shape_str(w.shape)}, got {shape_str(g.shape)}")
    if g.dtype != w.dtype:
        if g.dtype.kind == "f" and isinstance(grad, np.ndarray):
            raise TypeError(f"grad has dtype {g.dtype} but w has dtype {w.dtype}: they must match")
        g = g.astype(w.dtype)
    g = np.ascontiguousarray(g)
    lr = check_positive(lr, "lr")
    momentum = check_positive(momentum, "momentum", strict=False)
    dampening = check_positive(dampening, "dampening", strict=False)
    weight_decay = check_positive(weight_decay, "weight_decay", strict=False)
    if dampening > 1:
        raise ValueError(f"dampening must be in [0, 1], got {dampening}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")
    if momentum > 0:
        if velocity is None:
            raise ValueError(
                "velocity is required when momentum > 0: pass np.zeros_like(w) on the first "
                "step and the same array on every later step"
            )
        velocity = _target_array(velocity, "velocity")
        if velocity.shape != w.shape or velocity.dtype != w.dtype:
            raise ValueError(
                f"velocity must have w's shape {shape_str(w.shape)} and dtype {w.dtype}, got "
                f"{shape_str(velocity.shape)} {velocity.dtype}"
            )
        if np.shares_memory(velocity, w):
            raise ValueError("velocity and w must not share memory")
    _core.sgd_step(w, g, velocity, lr, momentum, dampening, bool(nesterov), weight_decay)
    return w


def set_num_threads(n: int | None) -> None:
    """Set the number of threads the kernels use; ``None`` follows OpenMP's own setting
    (``OMP_NUM_THREADS``, or a threadpoolctl limit)."""
    if n is None:
        _core.set_num_threads(0)
        return
    _core.set_num_threads(check_int(n, "n", minimum=1))


def get_num_threads() -> int:
    """The number of threads the kernels use."""
    return int(_core.get_num_threads())
