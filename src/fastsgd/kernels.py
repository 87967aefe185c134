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

from fastsgd._data import class_weights, sample_weights
from fastsgd._ext import _core
from fastsgd._registry import LOSSES, Loss
from fastsgd._threads import get_num_threads, set_num_threads
from fastsgd._validation import (
    FloatArray,
    as_array,
    as_data,
    as_rows,
    check_positive,
    shape_str,
)

__all__ = [
    "dot",
    "get_num_threads",
    "loss_grad",
    "loss_value",
    "mse",
    "mse_grad",
    "set_num_threads",
    "sgd_step",
]


class _Linear:
    """X, w and b checked against each other and laid out for the core."""

    def __init__(self, X: Any, w: Any, b: Any, *, require_rows: bool) -> None:
        self.X = as_data(X, "X")
        self.dtype = self.X.dtype
        n, d = self.X.shape
        if require_rows and n == 0:
            raise ValueError(
                "X has no rows (shape "
                + shape_str(self.X.shape)
                + "): the mean over zero rows is undefined"
            )
        w_arr = as_array(w, "w")
        if w_arr.ndim not in (1, 2):
            raise ValueError(
                f"w must be 1-d (d,) or 2-d (d, k), got shape {shape_str(w_arr.shape)}"
            )
        if w_arr.shape[0] != d:
            raise ValueError(
                f"w has shape {shape_str(w_arr.shape)} but X has shape {shape_str(self.X.shape)}: "
                f"w needs {d} rows, one per column of X"
            )
        self.w_shape = w_arr.shape
        self.vector = w_arr.ndim == 1
        self.k = 1 if self.vector else int(w_arr.shape[1])
        if require_rows and self.k == 0:
            raise ValueError(
                f"w has shape {shape_str(w_arr.shape)}: no outputs, so the mean over zero "
                "predictions is undefined"
            )
        # parameters in X's dtype (as the reference uses them), held in float64 by the core
        w_t = w_arr.astype(self.dtype, copy=False).reshape(d, self.k)
        self.W = np.require(w_t.T, dtype=np.float64, requirements=["C", "A"])
        if self.W.size == 0:  # an empty view keeps its strides, which the core checks
            self.W = np.zeros((self.k, d))
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
            b_k = np.broadcast_to(b_t, (self.k,))
            self.b64 = np.require(b_k, dtype=np.float64, requirements=["C", "A"])

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
        if self.b_shape == ():  # a shared bias collects every output's gradient
            with np.errstate(invalid="ignore", over="ignore"):  # +inf + -inf is NaN, quietly
                return self.dtype.type(gb.sum())  # as everywhere else in the kernels
        return gb.astype(self.dtype)


def _value(lin: _Linear, targets: _core.Targets, loss: Loss, epsilon: float | None = None) -> float:
    """The mean loss over the rows (each row's loss times its weights)."""
    spec = loss.spec(epsilon, lin.k)
    _, weighted, _, _ = _core.loss_grad(lin.X, targets, lin.W, lin.b64, spec, False)
    return float(weighted) / int(lin.X.shape[0])


def _value_grad(
    lin: _Linear, targets: _core.Targets, loss: Loss, epsilon: float | None = None
) -> tuple[float, FloatArray, Any]:
    """The mean loss and its gradient in w's and b's shapes, in X's dtype."""
    spec = loss.spec(epsilon, lin.k)
    _, weighted, G, gb = _core.loss_grad(lin.X, targets, lin.W, lin.b64, spec, True)
    n = int(lin.X.shape[0])
    grad_w = np.ascontiguousarray((G / n).T, dtype=lin.dtype).reshape(lin.w_shape)
    return float(weighted) / n, grad_w, lin.grad_b(gb / n)


def _loss_targets(
    lin: _Linear, y: Any, loss: Loss, sample_weight: Any, class_weight: Any
) -> _core.Targets:
    """The targets of the rows as the loss reads them (see fastsgd._registry.Loss.target)."""
    n = lin.X.shape[0]
    sw = sample_weights(sample_weight, n)
    if loss.target == "real":
        if class_weight is not None:
            raise ValueError(f"class_weight applies to class labels, not to loss={loss.name!r}")
        return _core.Targets(Y=lin.targets(y), sample_weight=sw)
    if loss.target == "class":
        if lin.vector or lin.k < 2:
            raise ValueError(
                f"loss={loss.name!r} needs W of shape (d, k), one column of weights per class, "
                f"k >= 2; got w of shape {shape_str(lin.w_shape)}"
            )
        labels = _class_labels(y, n, lin.k, "class indices")
        return _core.Targets(labels=labels, sample_weight=sw,
                             class_weight=class_weights(class_weight, lin.k))  # fmt: skip
    if lin.k == 1:  # binary, one score: labels 0 and 1
        labels = _class_labels(y, n, 2, "labels 0 or 1")
        cw = class_weights(class_weight, 2)
        pos, neg = (1.0, 1.0) if cw is None else (float(cw[1]), float(cw[0]))
        return _core.Targets(labels=labels, sample_weight=sw, pos_weight=pos, neg_weight=neg)
    labels = _class_labels(y, n, lin.k, "class indices")  # one score per class against the rest
    return _core.Targets(labels=labels, sample_weight=sw,
                         class_weight=class_weights(class_weight, lin.k))  # fmt: skip


def loss_value(
    X: Any,
    y: Any,
    w: Any,
    b: Any = None,
    *,
    loss: str = "mse",
    epsilon: float | None = None,
    sample_weight: Any = None,
    class_weight: Any = None,
) -> float:
    """The mean loss of the linear model ``X @ w + b`` for any loss of the registry.

    ``mean_i weight_i · ℓ(z_i, y_i)`` over the rows, each row's loss summed over its
    outputs; ``weight_i`` is ``sample_weight[i]`` times the class weight of its label.
    ``y`` is what the loss reads: real targets shaped like the predictions; class
    indices for ``"softmax"`` (``w`` of shape (d, k)); labels 0/1 for a binary loss with
    ``w`` of shape (d,), or class indices with one column of ``w`` per class (each
    column scored one-vs-rest). ``epsilon`` is the loss's parameter where it has one.

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[0.5, 1.0], [-1.0, 1.0]])
    >>> fastsgd.loss_value(X, [3.5, -2.0], [3.0, 2.0])                      # the mse
    0.5
    >>> fastsgd.loss_value(X, [3.5, -2.0], [3.0, 2.0], loss="squared_error")  # ½(z − y)²
    0.25
    """
    lin = _Linear(X, w, b, require_rows=True)
    entry = LOSSES[loss]
    return _value(lin, _loss_targets(lin, y, entry, sample_weight, class_weight), entry, epsilon)


def loss_grad(
    X: Any,
    y: Any,
    w: Any,
    b: Any = None,
    *,
    loss: str = "mse",
    epsilon: float | None = None,
    sample_weight: Any = None,
    class_weight: Any = None,
) -> tuple[float, FloatArray, Any]:
    """The mean loss (as :func:`loss_value`) and its gradient, fused in one pass over X.

    Returns ``(loss, grad_w, grad_b)``: ``grad_w = Xᵀ dz / n`` in w's shape and
    ``grad_b = Σ dz / n`` in b's shape (None when b is None), where
    ``dz = weight · dℓ/dz`` per row and output.

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[1.0], [-1.0]])
    >>> value, gw, gb = fastsgd.loss_grad(X, [1, 0], [0.0], b=0.0, loss="logistic")
    >>> round(value, 4), gw, float(gb)
    (0.6931, array([-0.5]), 0.0)
    """
    lin = _Linear(X, w, b, require_rows=True)
    entry = LOSSES[loss]
    targets = _loss_targets(lin, y, entry, sample_weight, class_weight)
    return _value_grad(lin, targets, entry, epsilon)


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
    if lin.X.shape[0] == 0 or lin.k == 0:
        return np.zeros(lin.pred_shape(), dtype=lin.dtype)  # nothing to compute
    out: FloatArray = _core.predict(lin.X, lin.W, lin.b64)
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
    return _value(lin, _core.Targets(Y=lin.targets(y)), LOSSES["mse"])


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
    return _value_grad(lin, _core.Targets(Y=lin.targets(y)), LOSSES["mse"])


def _target_array(a: Any, name: str) -> np.ndarray[Any, Any]:
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"{name} must be a NumPy array (it is updated in place), got {type(a).__name__}"
        )
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} must be float32 or float64 (it is updated in place), got {a.dtype}"
        )
    if not a.flags.writeable:
        raise ValueError(f"{name} must be writable (it is updated in place)")
    if not a.flags.c_contiguous:
        raise ValueError(
            f"{name} must be C-contiguous: it is updated in place, and a copy would hide the update"
        )
    if not a.flags.aligned:
        raise ValueError(
            f"{name} must be aligned (its address a multiple of {a.itemsize} bytes): it is "
            "updated in place, and a copy would hide the update"
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
    g = np.require(g, requirements=["C", "A"])  # aligned: the core reads whole floats
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


# --- classification: softmax probabilities and the cross-entropy losses ------------------------

__all__ += [
    "log_softmax",
    "logistic_xent",
    "logistic_xent_grad",
    "softmax",
    "softmax_xent",
    "softmax_xent_grad",
]


def _scores(Z: Any) -> tuple[FloatArray, tuple[int, ...]]:
    """Z as (n, k) rows for the core, and the shape of the result."""
    z = as_array(Z, "Z")
    if z.ndim not in (1, 2):
        raise ValueError(f"Z must be 1-d (k,) or 2-d (n, k), got shape {shape_str(z.shape)}")
    if z.shape[-1] < 1:
        raise ValueError(f"Z must hold at least one score per row, got shape {shape_str(z.shape)}")
    return as_rows(z.reshape(1, -1) if z.ndim == 1 else z, "Z"), z.shape


def softmax(Z: Any) -> FloatArray:
    """Row-wise softmax: the probabilities of k classes from k scores.

    ``softmax(z)_c = exp(z_c − m) / Σ_j exp(z_j − m)`` with ``m = max_j z_j``.
    Subtracting the row maximum changes nothing mathematically and keeps every
    exponent ≤ 0, so scores of any size (±1e4 and beyond) give finite
    probabilities that sum to 1. Computed in float64, returned in Z's dtype; a
    row holding NaN or +inf gives NaN.

    Parameters
    ----------
    Z : array_like, shape (n, k) or (k,)
        Scores, for example ``fastsgd.dot(X, W, b)``.

    Returns
    -------
    ndarray of Z's shape and dtype (float64 for integer input), rows summing to 1.

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> fastsgd.softmax(np.array([1.0, 2.0, 3.0])).round(3)
    array([0.09 , 0.245, 0.665])
    >>> fastsgd.softmax(np.array([[1e4, 0.0], [0.0, 0.0]]))
    array([[1. , 0. ],
           [0.5, 0.5]])
    """
    z, shape = _scores(Z)
    if z.shape[0] == 0:
        return np.empty(shape, dtype=z.dtype)
    out: FloatArray = _core.softmax(z, False)
    return out.reshape(shape)


def log_softmax(Z: Any) -> FloatArray:
    """Row-wise log of the softmax: ``z_c − m − log Σ_j exp(z_j − m)``, ``m = max_j z_j``.

    Accurate where ``np.log(softmax(Z))`` is not: a class whose probability
    underflows to 0 still gets its finite log-probability.

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> fastsgd.log_softmax(np.array([0.0, 1000.0]))
    array([-1000.,     0.])
    """
    z, shape = _scores(Z)
    if z.shape[0] == 0:
        return np.empty(shape, dtype=z.dtype)
    out: FloatArray = _core.softmax(z, True)
    return out.reshape(shape)


def _class_labels(y: Any, n: int, limit: int, what: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Integer class indices in [0, limit) for n rows, as int64 for the core."""
    y_arr = as_array(y, "y")
    if y_arr.dtype.kind not in "iu":
        raise TypeError(
            f"y must hold integer {what} (an integer dtype), got dtype {y_arr.dtype}; "
            "map other labels to 0..k-1 first (fastsgd.SGDClassifier does this)"
        )
    if y_arr.shape != (n,):
        raise ValueError(
            f"y must have shape ({n},), one label per row of X, got {shape_str(y_arr.shape)}"
        )
    # For a power-of-two limit (0/1 labels among them) one pass settles it: the labels are
    # all in [0, limit) exactly when their bitwise or is; otherwise their min and max.
    if limit & (limit - 1) == 0:
        bad = n > 0 and not 0 <= int(np.bitwise_or.reduce(y_arr)) < limit
    else:
        bad = n > 0 and (int(y_arr.min()) < 0 or int(y_arr.max()) >= limit)
    if bad:
        raise ValueError(
            f"y must hold {what} in [0, {limit}), found values "
            f"{int(y_arr.min())}..{int(y_arr.max())}"
        )
    return np.require(y_arr, dtype=np.int64, requirements=["C", "A"])


def _softmax_args(X: Any, y: Any, W: Any, b: Any) -> tuple[_Linear, np.ndarray[Any, Any]]:
    """Validated (X, W, b) and int64 labels of the softmax cross-entropy."""
    W_arr = as_array(W, "W")
    if W_arr.ndim != 2:
        raise ValueError(
            f"W must be 2-d (d, k), one column of weights per class, got shape {shape_str(W_arr.shape)}"
        )
    k = int(W_arr.shape[1])
    if k < 2:
        raise ValueError(
            f"softmax needs k >= 2 classes, got W of shape {shape_str(W_arr.shape)}; "
            "for two classes with one weight vector use logistic_xent"
        )
    X_rows = as_data(X, "X")  # converted here at most once; _Linear then uses it as it is
    if W_arr.shape[0] != X_rows.shape[1]:
        raise ValueError(
            f"W has shape {shape_str(W_arr.shape)} but X has shape {shape_str(X_rows.shape)}: "
            f"W needs {X_rows.shape[1]} rows, one per column of X"
        )
    if b is not None:
        b_shape = as_array(b, "b").shape
        if b_shape != (k,):
            raise ValueError(
                f"b must be None or have shape ({k},), one intercept per class, got shape "
                f"{shape_str(b_shape)}"
            )
    lin = _Linear(X_rows, W_arr, b, require_rows=True)
    return lin, _class_labels(y, lin.X.shape[0], k, "class indices")


def _logistic_args(X: Any, y: Any, w: Any, b: Any) -> tuple[_Linear, np.ndarray[Any, Any]]:
    """Validated (X, w, b) and int64 0/1 labels of the logistic loss."""
    w_arr = as_array(w, "w")
    if not (w_arr.ndim == 1 or (w_arr.ndim == 2 and w_arr.shape[1] == 1)):
        raise ValueError(
            f"w must have shape (d,) (one score per row), got {shape_str(w_arr.shape)}; "
            "for k classes use softmax_xent"
        )
    lin = _Linear(X, w_arr, b, require_rows=True)
    return lin, _class_labels(y, lin.X.shape[0], 2, "labels 0 or 1")


def softmax_xent(X: Any, y: Any, W: Any, b: Any = None) -> float:
    """Mean softmax cross-entropy of the linear classifier ``Z = X @ W + b``, in one pass.

    ``loss = mean_i −log softmax(z_i)[y_i] = mean_i (log Σ_c exp(z_ic) − z_i,y_i)``,
    computed stably (row maximum subtracted) with float64 sums.

    Parameters
    ----------
    X : array_like, shape (n, d), n >= 1
    y : array_like of an integer dtype, shape (n,)
        Class indices in ``0..k-1``. Float labels are a TypeError.
    W : array_like, shape (d, k), k >= 2
    b : None or array_like of shape (k,)

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(fastsgd.softmax_xent(X, [0, 1], np.zeros((2, 3))), 4)   # log 3
    1.0986
    """
    lin, labels = _softmax_args(X, y, W, b)
    return _value(lin, _core.Targets(labels=labels), LOSSES["softmax"])


def softmax_xent_grad(X: Any, y: Any, W: Any, b: Any = None) -> tuple[float, FloatArray, Any]:
    """Softmax cross-entropy and its gradient, fused in one pass over X.

    With ``P = softmax(X @ W + b)`` and ``T`` the one-hot rows of y (n rows)::

        loss   = mean_i −log P[i, y_i]
        grad_W = Xᵀ (P − T) / n        (W's shape, X's dtype)
        grad_b = Σ_rows (P − T) / n    ((k,); None when b is None)

    Each row's scores, probabilities and its share of the gradient are formed
    together, so no (n, k) matrix is ever held; sums are in float64.

    Returns
    -------
    (loss, grad_W, grad_b)

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> loss, gW, gb = fastsgd.softmax_xent_grad(X, [0, 1], np.zeros((2, 2)), b=np.zeros(2))
    >>> round(loss, 4), gW, gb   # log 2; push class 0 up for row 0, class 1 for row 1
    (0.6931, array([[-0.25,  0.25],
           [ 0.25, -0.25]]), array([0., 0.]))
    """
    lin, labels = _softmax_args(X, y, W, b)
    return _value_grad(lin, _core.Targets(labels=labels), LOSSES["softmax"])


def logistic_xent(X: Any, y: Any, w: Any, b: Any = None) -> float:
    """Mean binary log loss of the logistic model ``P(y=1) = σ(X @ w + b)``, in one pass.

    ``loss = mean_i log(1 + exp(s_i)) − y_i s_i`` with ``s = X @ w + b``,
    written so that no exponential overflows. This is softmax cross-entropy
    with two classes whose scores are (0, s).

    Parameters
    ----------
    X : array_like, shape (n, d), n >= 1
    y : array_like of an integer dtype, shape (n,), values 0 or 1
    w : array_like, shape (d,)
    b : None or scalar

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[1.0], [-1.0]])
    >>> round(fastsgd.logistic_xent(X, [1, 0], [0.0]), 4)   # log 2
    0.6931
    """
    lin, labels = _logistic_args(X, y, w, b)
    return _value(lin, _core.Targets(labels=labels), LOSSES["logistic"])


def logistic_xent_grad(X: Any, y: Any, w: Any, b: Any = None) -> tuple[float, FloatArray, Any]:
    """Binary log loss and its gradient, fused in one pass over X.

    With ``s = X @ w + b`` and ``σ(s) = 1 / (1 + exp(−s))``::

        loss   = mean_i log(1 + exp(s_i)) − y_i s_i
        grad_w = Xᵀ (σ(s) − y) / n      (w's shape, X's dtype)
        grad_b = Σ (σ(s) − y) / n       (b's shape; None when b is None)

    Returns
    -------
    (loss, grad_w, grad_b)

    Examples
    --------
    >>> import numpy as np, fastsgd
    >>> X = np.array([[1.0], [-1.0]])
    >>> loss, gw, gb = fastsgd.logistic_xent_grad(X, [1, 0], [0.0], b=0.0)
    >>> round(loss, 4), gw, float(gb)
    (0.6931, array([-0.5]), 0.0)
    """
    lin, labels = _logistic_args(X, y, w, b)
    return _value_grad(lin, _core.Targets(labels=labels), LOSSES["logistic"])
