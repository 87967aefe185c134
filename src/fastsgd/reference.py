"""fastsgd's kernels and trainer written again in plain NumPy: the oracle of the tests.

What it checks: every kernel of fastsgd (``dot``, the losses and their gradients,
``sgd_step``, ``softmax``) and the whole of ``fit`` (the order of rows, the batches, the
step with its penalty, update rule and averaging, the schedules, the stopping rules),
each written here as the textbook formula or the plain loop the documentation describes.
Tests compare fastsgd with it; a bug in fastsgd's validation, dispatch or C++ core does
not appear here, because nothing is shared.

This file imports only the standard library and NumPy, so it also loads on its own,
without the fastsgd package or its compiled extension::

    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("reference", "src/fastsgd/reference.py")
    reference = sys.modules["reference"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)

It is written for clarity, not speed (two passes over X for a gradient, Python loops
over batches). Input checks are the few a plain implementation needs; fastsgd's own
errors are tested against fastsgd.
"""

# Plain NumPy: its expressions type as Any, which is what this oracle returns.
# mypy: disable-error-code="no-any-return"

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "LOSSES",
    "dot",
    "fit",
    "log_softmax",
    "logistic_xent",
    "logistic_xent_grad",
    "loss_grad",
    "loss_value",
    "mse",
    "mse_grad",
    "permutation",
    "sgd_step",
    "softmax",
    "softmax_xent",
    "softmax_xent_grad",
]

Array = np.ndarray

# --- input ---------------------------------------------------------------------------------


def _floats(a: Any, name: str) -> Array:
    """a as a float array: float32 and float64 kept, anything else as float64."""
    arr = np.asarray(a)
    if arr.dtype.kind == "c" or arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _model(X: Any, w: Any, b: Any, *, rows: bool) -> tuple[Array, Array, Any]:
    X = _floats(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d, got shape {X.shape}")
    if rows and X.shape[0] == 0:
        raise ValueError("X has no rows")
    w = np.asarray(w)
    if w.ndim not in (1, 2) or w.shape[0] != X.shape[1]:
        raise ValueError(f"w has shape {w.shape} but X has shape {X.shape}")
    w = w.astype(X.dtype)
    if b is not None:
        b = np.asarray(b).astype(X.dtype)
        k = 1 if w.ndim == 1 else w.shape[1]
        if b.ndim > 1 or (b.ndim == 1 and b.shape != (k,)):
            raise ValueError(f"b must be a scalar or have shape ({k},), got {b.shape}")
    return X, w, b


# --- the linear model and the mean squared error -------------------------------------------


def dot(X: Any, w: Any, b: Any = None) -> Array:
    """``X @ w + b`` with NumPy."""
    X, w, b = _model(X, w, b, rows=False)
    out: Array = X @ w
    return out if b is None else out + b


def _targets_like(X: Array, w: Array, y: Any) -> Array:
    want = (X.shape[0],) if w.ndim == 1 else (X.shape[0], w.shape[1])
    y = np.asarray(y)
    if y.shape != want:
        raise ValueError(f"y must have shape {want}, got {y.shape}")
    return y.astype(X.dtype)


def mse(X: Any, y: Any, w: Any, b: Any = None) -> float:
    """``mean((X @ w + b - y) ** 2)`` with NumPy."""
    X, w, b = _model(X, w, b, rows=True)
    r = dot(X, w, b) - _targets_like(X, w, y)
    return float(np.mean(r * r))


def mse_grad(X: Any, y: Any, w: Any, b: Any = None) -> tuple[float, Array, Any]:
    """Loss and gradient with NumPy: ``r = X @ w + b - y``; ``2/m · Xᵀ r``; ``2/m · Σ r``."""
    X, w, b = _model(X, w, b, rows=True)
    r = dot(X, w, b) - _targets_like(X, w, y)
    m = r.size
    loss = float(np.mean(r * r))
    grad_w = (2.0 / m) * (X.T @ r)
    grad_b = None
    if b is not None:
        if np.ndim(b) == 0:  # one bias shared by every output
            grad_b = X.dtype.type((2.0 / m) * r.sum())
        else:  # one bias per output column, b's shape
            grad_b = ((2.0 / m) * r.reshape(r.shape[0], -1).sum(axis=0)).astype(X.dtype)
    return loss, grad_w.astype(X.dtype), grad_b


def sgd_step(
    w: Array,
    grad: Any,
    lr: float,
    *,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    velocity: Array | None = None,
) -> Array:
    """torch.optim.SGD's update in NumPy (velocity starts at zero), in place."""
    g = np.asarray(grad, dtype=w.dtype) + weight_decay * w
    if momentum != 0:
        if velocity is None:
            raise ValueError("velocity is required when momentum > 0")
        velocity *= momentum
        velocity += (1 - dampening) * g
        g = g + momentum * velocity if nesterov else velocity
    w -= lr * g
    return w


# --- softmax and the cross-entropy losses ---------------------------------------------------


def _scores(Z: Any) -> Array:
    z = _floats(Z, "Z")
    if z.ndim not in (1, 2) or z.shape[-1] < 1:
        raise ValueError(f"Z must be (k,) or (n, k) with k >= 1, got shape {z.shape}")
    return z


def log_softmax(Z: Any) -> Array:
    """``z − m − log Σ exp(z − m)`` row-wise with NumPy, in Z's dtype (``m`` the row max)."""
    z = _scores(Z)
    s: Array = z - z.max(axis=-1, keepdims=True)
    out: Array = s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
    return out


def softmax(Z: Any) -> Array:
    """``exp(z − m) / Σ exp(z − m)`` row-wise with NumPy, in Z's dtype (``m`` the row max)."""
    z = _scores(Z)
    e: Array = np.exp(z - z.max(axis=-1, keepdims=True))
    out: Array = e / e.sum(axis=-1, keepdims=True)
    return out


def _labels(y: Any, n: int, k: int) -> Array:
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
    if y.shape != (n,) or (n and (y.min() < 0 or y.max() >= k)):
        raise ValueError(f"y must hold {n} labels in [0, {k})")
    return y.astype(np.int64)


def softmax_xent(X: Any, y: Any, W: Any, b: Any = None) -> float:
    """``mean(log Σ_c exp(z_c) − z_y)`` with NumPy: scores, then log-softmax, then the mean."""
    X, W, b = _model(X, W, b, rows=True)
    Z = dot(X, W, b)
    labels = _labels(y, X.shape[0], W.shape[1])
    return float(-np.mean(log_softmax(Z)[np.arange(Z.shape[0]), labels], dtype=np.float64))


def softmax_xent_grad(X: Any, y: Any, W: Any, b: Any = None) -> tuple[float, Array, Any]:
    """With NumPy's two passes: ``P = softmax(X @ W + b)``, ``Xᵀ(P − onehot)/n``, ``Σ(P − onehot)/n``."""
    X, W, b = _model(X, W, b, rows=True)
    Z = dot(X, W, b)
    n = Z.shape[0]
    labels = _labels(y, n, W.shape[1])
    rows = np.arange(n)
    loss = float(-np.mean(log_softmax(Z)[rows, labels], dtype=np.float64))
    R = softmax(Z)
    R[rows, labels] -= 1  # P − onehot(y)
    grad_W = (X.T @ R) / n
    grad_b = None if b is None else (R.sum(axis=0) / n).astype(X.dtype)
    return loss, grad_W.astype(X.dtype), grad_b


def _softplus(s: Array) -> Array:
    """log(1 + exp(s)) without overflow."""
    return np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s)))


def _sigmoid(s: Array) -> Array:
    """1 / (1 + exp(−s)) without overflow."""
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1 / (1 + e), e / (1 + e))


def logistic_xent(X: Any, y: Any, w: Any, b: Any = None) -> float:
    """``mean(log(1 + exp(s)) − y·s)``, ``s = X @ w + b``, with NumPy."""
    X, w, b = _model(X, w, b, rows=True)
    s = dot(X, w.reshape(X.shape[1]), None if b is None else b.reshape(()))
    t = _labels(y, X.shape[0], 2)
    return float(np.mean(_softplus(s) - t * s, dtype=np.float64))


def logistic_xent_grad(X: Any, y: Any, w: Any, b: Any = None) -> tuple[float, Array, Any]:
    """With NumPy's two passes: ``s = X @ w + b``, ``Xᵀ(σ(s) − y)/n``, ``Σ(σ(s) − y)/n``."""
    X, w, b = _model(X, w, b, rows=True)
    s = dot(X, w.reshape(X.shape[1]), None if b is None else b.reshape(()))
    n = s.shape[0]
    t = _labels(y, n, 2)
    loss = float(np.mean(_softplus(s) - t * s, dtype=np.float64))
    r = _sigmoid(s) - t.astype(s.dtype)
    grad_w = ((X.T @ r) / n).astype(X.dtype).reshape(w.shape)
    grad_b = None
    if b is not None:
        grad_b = X.dtype.type(r.sum() / n) if np.ndim(b) == 0 else np.atleast_1d(r.sum() / n)
    return loss, grad_w, grad_b


# --- every loss, by name --------------------------------------------------------------------


@dataclass(frozen=True)
class RefLoss:
    """A loss of one score z and its target y (or, joint, of a row's k scores and a class).

    ``kind``: "real" targets, "binary" labels (mapped to ``pos`` / ``neg``), or "class"
    (a joint loss of k scores read with the class index). ``value`` and ``deriv`` take
    (z, y, param, k) arrays; ``curvature(param, k)`` bounds the second derivative.
    """

    kind: str
    value: Callable[..., Array]
    deriv: Callable[..., Array]
    curvature: Callable[[Any, int], float]
    pos: float = 1.0
    neg: float = -1.0
    default: float | None = None


def _softmax_value(Z: Array, labels: Array, p: Any, k: int) -> Array:
    return -log_softmax(Z)[np.arange(Z.shape[0]), labels]


def _softmax_deriv(Z: Array, labels: Array, p: Any, k: int) -> Array:
    P = softmax(Z)
    P[np.arange(Z.shape[0]), labels] -= 1.0
    return P


def _logistic_deriv(z: Array, y: Array, p: Any, k: int) -> Array:
    return _sigmoid(z) - y


LOSSES: dict[str, RefLoss] = {
    "mse": RefLoss(
        "real",
        lambda z, y, p, k: (z - y) ** 2 / k,
        lambda z, y, p, k: 2.0 * (z - y) / k,
        lambda p, k: 2.0 / k,
    ),
    "squared_error": RefLoss(
        "real",
        lambda z, y, p, k: 0.5 * (z - y) ** 2,
        lambda z, y, p, k: z - y,
        lambda p, k: 1.0,
    ),
    "logistic": RefLoss(
        "binary",
        lambda z, y, p, k: _softplus(z) - y * z,
        _logistic_deriv,
        lambda p, k: 0.25,
        pos=1.0,
        neg=0.0,
    ),
    "softmax": RefLoss("class", _softmax_value, _softmax_deriv, lambda p, k: 0.5),
    "huber": RefLoss(
        "real",
        lambda z, y, p, k: np.where(
            np.abs(z - y) <= p, 0.5 * (z - y) ** 2, p * (np.abs(z - y) - 0.5 * p)
        ),
        lambda z, y, p, k: np.clip(z - y, -p, p),
        lambda p, k: 1.0,
        default=1.0,
    ),
    "hinge": RefLoss(
        "binary",
        lambda z, y, p, k: np.maximum(0.0, 1.0 - y * z),
        lambda z, y, p, k: np.where(y * z <= 1.0, -y, 0.0),
        lambda p, k: 1.0,
    ),
    "perceptron": RefLoss(
        "binary",
        lambda z, y, p, k: np.maximum(0.0, -y * z),
        lambda z, y, p, k: np.where(y * z <= 0.0, -y, 0.0),
        lambda p, k: 1.0,
    ),
    "squared_hinge": RefLoss(
        "binary",
        lambda z, y, p, k: np.maximum(0.0, 1.0 - y * z) ** 2,
        lambda z, y, p, k: -2.0 * y * np.maximum(0.0, 1.0 - y * z),
        lambda p, k: 2.0,
    ),
    "modified_huber": RefLoss(
        "binary",
        lambda z, y, p, k: np.where(y * z >= -1.0, np.maximum(0.0, 1.0 - y * z) ** 2, -4.0 * y * z),
        lambda z, y, p, k: np.where(
            y * z >= -1.0, -2.0 * y * np.maximum(0.0, 1.0 - y * z), -4.0 * y
        ),
        lambda p, k: 2.0,
    ),
    "epsilon_insensitive": RefLoss(
        "real",
        lambda z, y, p, k: np.maximum(0.0, np.abs(y - z) - p),
        lambda z, y, p, k: np.where(y - z > p, -1.0, np.where(z - y > p, 1.0, 0.0)),
        lambda p, k: 1.0,
        default=0.1,
    ),
    "squared_epsilon_insensitive": RefLoss(
        "real",
        lambda z, y, p, k: np.maximum(0.0, np.abs(y - z) - p) ** 2,
        lambda z, y, p, k: np.where(
            y - z > p, -2.0 * (y - z - p), np.where(z - y > p, 2.0 * (z - y - p), 0.0)
        ),
        lambda p, k: 2.0,
        default=0.1,
    ),
}
ALIASES = {
    "mean_squared_error": "mse",
    "log_loss": "logistic",
    "multinomial": "softmax",
    "cross_entropy": "softmax",
}


def _loss(name: str) -> tuple[str, RefLoss]:
    name = ALIASES.get(name, name)
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}")
    return name, LOSSES[name]


@dataclass
class _Data:
    """X in float64 (the reference computes in double), and per row: targets (n, k) or
    labels, weights (n, k)."""

    X: Array
    Y: Array | None  # real or binary targets (n, k)
    labels: Array | None  # class indices (joint losses)
    weights: Array  # (n, k)
    k: int
    vector: bool


def _data(
    X: Any, y: Any, loss: RefLoss, *, n_classes: int | None = None,
    sample_weight: Any = None, class_weight: Any = None,
) -> _Data:  # fmt: skip
    Xf = _floats(X, "X")
    if Xf.ndim != 2 or Xf.shape[0] == 0:
        raise ValueError(f"X must be 2-d with rows, got shape {Xf.shape}")
    n = Xf.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if loss.kind == "real":
        Y = np.asarray(y)
        vector = Y.ndim == 1
        Y = Y.reshape(n, -1).astype(Xf.dtype).astype(np.float64)
        k = Y.shape[1]
        return _Data(Xf, Y, None, np.repeat(sw[:, None], k, axis=1), k, vector)
    y = np.asarray(y).astype(np.int64)
    if loss.kind == "class":
        k = n_classes if n_classes is not None else int(y.max()) + 1
        cw = np.ones(k) if class_weight is None else np.asarray(class_weight, dtype=np.float64)
        return _Data(Xf, None, y, (sw * cw[y])[:, None], k, False)
    classes = 2 if n_classes is None else n_classes
    cw = np.ones(classes) if class_weight is None else np.asarray(class_weight, dtype=np.float64)
    if classes == 2:  # one score: label 1 against label 0
        pos = y == 1
        Y = np.where(pos, loss.pos, loss.neg)[:, None]
        return _Data(Xf, Y, None, (sw * np.where(pos, cw[1], cw[0]))[:, None], 1, True)
    onehot = y[:, None] == np.arange(classes)[None, :]  # one score per class, against the rest
    Y = np.where(onehot, loss.pos, loss.neg)
    W = sw[:, None] * np.where(onehot, cw[None, :], 1.0)
    return _Data(Xf, Y, None, W, classes, False)


def _loss_and_dz(
    loss: RefLoss, data: _Data, rows: Array, Z: Array, param: Any, clip: float = math.inf
) -> tuple[float, float, Array]:
    """(Σ loss, Σ weight·loss, dz = weight·clip(dloss/dz)) for the rows with scores Z (m, k)."""
    w = data.weights[rows]
    if loss.kind == "class":
        assert data.labels is not None
        t = data.labels[rows]
        losses = loss.value(Z, t, param, data.k)
        d = np.clip(loss.deriv(Z, t, param, data.k), -clip, clip)
        return float(losses.sum()), float((w[:, 0] * losses).sum()), w * d
    assert data.Y is not None
    Y = data.Y[rows]
    losses = loss.value(Z, Y, param, data.k)
    d = np.clip(loss.deriv(Z, Y, param, data.k), -clip, clip)
    return float(losses.sum()), float((w * losses).sum()), w * d


def _pair_wb(X: Array, w: Any, b: Any) -> tuple[Array, Array]:
    W = np.asarray(w, dtype=X.dtype).astype(np.float64)
    W = W.reshape(X.shape[1], -1).T  # (k, d)
    k = W.shape[0]
    B = np.zeros(k) if b is None else np.broadcast_to(np.asarray(b, X.dtype), (k,)).astype(float)
    return W, B


def loss_value(
    X: Any, y: Any, w: Any, b: Any = None, *, loss: str = "mse", epsilon: float | None = None,
    sample_weight: Any = None, class_weight: Any = None,
) -> float:  # fmt: skip
    """``mean_i weight_i · ℓ(x_i·w + b, y_i)`` for any loss of LOSSES (as fastsgd.loss_value)."""
    _, entry = _loss(loss)
    W0 = np.asarray(w)
    n_classes = None if W0.ndim == 1 or W0.shape[1] == 1 else W0.shape[1]
    data = _data(X, y, entry, n_classes=n_classes, sample_weight=sample_weight,
                 class_weight=class_weight)  # fmt: skip
    W, B = _pair_wb(data.X, w, b)
    Z = data.X.astype(np.float64) @ W.T + B
    param = entry.default if epsilon is None else epsilon
    _, weighted, _ = _loss_and_dz(entry, data, np.arange(data.X.shape[0]), Z, param)
    return weighted / data.X.shape[0]


def loss_grad(
    X: Any, y: Any, w: Any, b: Any = None, *, loss: str = "mse", epsilon: float | None = None,
    sample_weight: Any = None, class_weight: Any = None,
) -> tuple[float, Array, Any]:  # fmt: skip
    """The mean loss and its gradient ``(loss, Xᵀ dz / n, Σ dz / n)`` (as fastsgd.loss_grad)."""
    _, entry = _loss(loss)
    W0 = np.asarray(w)
    n_classes = None if W0.ndim == 1 or W0.shape[1] == 1 else W0.shape[1]
    data = _data(X, y, entry, n_classes=n_classes, sample_weight=sample_weight,
                 class_weight=class_weight)  # fmt: skip
    W, B = _pair_wb(data.X, w, b)
    Xd = data.X.astype(np.float64)
    n = Xd.shape[0]
    Z = Xd @ W.T + B
    param = entry.default if epsilon is None else epsilon
    _, weighted, dz = _loss_and_dz(entry, data, np.arange(n), Z, param)
    grad_w = ((dz.T @ Xd) / n).T.reshape(W0.shape).astype(data.X.dtype)
    grad_b = None
    if b is not None:
        gb = dz.sum(axis=0) / n
        grad_b = data.X.dtype.type(gb.sum()) if np.ndim(b) == 0 else gb.astype(data.X.dtype)
    return weighted / n, grad_w, grad_b


# --- the shuffle ------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)


def _mix64(z: Array) -> Array:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed: Array = z ^ (z >> np.uint64(31))
    return mixed


def _mix64_int(z: int) -> int:
    with np.errstate(over="ignore"):
        return int(_mix64(np.array([z & _MASK64], dtype=np.uint64))[0])


def permutation(n: int, seed: int, epoch: int) -> Array:
    """The shuffled order of rows ``0..n-1`` for a seed and an epoch (see permutation.hpp).

    Cycle walking on ``[0, 2^m)`` with three rounds of
    ``x ← ((x ⊕ kᵣ)·Mᵣ) mod 2^m; x ← x ⊕ (x ≫ ⌈m/2⌉)``, then a rotation by a random offset.
    """
    m = 1
    while m < 64 and (1 << m) < n:
        m += 1
    mask = np.uint64((1 << m) - 1 if m < 64 else _MASK64)
    shift = np.uint64((m + 1) // 2)
    s = _mix64_int(_mix64_int(seed + _GOLDEN) + (((epoch + 1) * _GOLDEN) & _MASK64))
    keys = [np.uint64(_mix64_int(s + (r + 1) * _GOLDEN)) for r in range(3)]
    offset = _mix64_int(s + 4 * _GOLDEN) % n if n > 0 else 0
    nn = np.uint64(n)

    def step(x: Array) -> Array:
        for r in range(3):
            x = ((x ^ keys[r]) * np.uint64(_M[r])) & mask
            x = x ^ (x >> shift)
        return x

    with np.errstate(over="ignore"):
        x: Array = step(np.arange(n, dtype=np.uint64))
        out = x >= nn
        while out.any():
            x[out] = step(x[out])
            out = x >= nn
    x = x + np.uint64(offset)
    x = np.where(x >= nn, x - nn, x)
    return x.astype(np.int64)


def _order(n: int, shuffle: Any, d: int, itemsize: int, seed: int, epoch: int) -> Array:
    """The rows of an epoch in order: all of them in place, shuffled, or in shuffled blocks
    (about 128 bytes of rows each; the last n mod block rows last, in order)."""
    if shuffle is False or shuffle == 0:
        return np.arange(n)
    if shuffle == "blocks":
        R = max(1, 128 // max(1, d * itemsize))
        if R > 1:
            nfull = n // R
            blocks = permutation(nfull, seed, epoch)
            return np.concatenate(
                [(blocks[:, None] * R + np.arange(R)).ravel(), np.arange(nfull * R, n)]
            )
    return permutation(n, seed, epoch)


# --- the trainer ------------------------------------------------------------------------------


class Diverged(FloatingPointError):
    """The loss became non-finite or grew past 1000 × its start (as fastsgd.DivergenceError)."""

    def __init__(self, message: str, *, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch


@dataclass
class RefResult:
    """fit's result, with the fields of fastsgd.FitResult."""

    w: Array
    b: Any
    loss_history: Array
    val_loss_history: Array | None
    lr_history: Array
    n_epochs: int
    n_steps: int
    converged: bool
    stop_reason: str
    learning_rate: float
    best_epoch: int | None = None
    path_w: Array | None = None
    path_b: Array | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def loss(self) -> float:
        return float(self.loss_history[-1])


@dataclass
class _State:
    """The model in the representation the documentation describes: W = scale·V (L2
    shrinks the scale), the running average (AV + a·V)/β, the L1 bookkeeping, the
    update rule's state. scikit-learn keeps the same, and the average's lazy form is
    part of what it computes when L1 and averaging meet."""

    V: Array  # (k, d)
    b: Array
    scale: float = 1.0
    t: float = 1.0
    rule_steps: int = 0
    AV: Array | None = None
    ab: Array | None = None
    avg_a: float = 0.0
    avg_b: float = 1.0
    u: float = 0.0
    Q: Array | None = None
    S0: Array | None = None
    S1: Array | None = None
    Sb0: Array | None = None
    Sb1: Array | None = None

    def W(self) -> Array:
        out: Array = self.scale * self.V
        return out

    def fold(self) -> None:
        if self.AV is not None and (self.avg_a != 0.0 or self.avg_b != 1.0):
            self.AV = (self.AV + self.avg_a * self.V) / self.avg_b
            self.avg_a, self.avg_b = 0.0, 1.0
        self.V = self.scale * self.V
        self.scale = 1.0

    def copy(self) -> _State:
        return _State(**{k: (v.copy() if isinstance(v, np.ndarray) else v)
                         for k, v in self.__dict__.items()})  # fmt: skip


_DEFAULTS: dict[str, Any] = {
    "loss": "mse", "epsilon": None, "learning_rate": 0.1, "schedule": "constant",
    "schedule_unit": "epoch", "power_t": 0.25, "step_size": 10, "gamma": 0.1,
    "batch_size": None, "epochs": 10, "shuffle": True, "seed": 0, "update": "sgd",
    "momentum": 0.0, "dampening": 0.0, "nesterov": False, "beta1": 0.9, "beta2": 0.999,
    "eps": 1e-8, "penalty": None, "alpha": 0.0, "l1_ratio": 0.15, "weight_decay": 0.0,
    "average": False, "fit_intercept": False, "intercept_decay": 1.0, "tol": None,
    "n_iter_no_change": 5, "early_stopping": False, "record_path": False, "n_classes": None,
    "epoch_offset": 0, "clip": math.inf, "progress": False, "n_threads": None,
    "loss_record": "progressive",
}  # fmt: skip


def _penalty(o: dict[str, Any]) -> tuple[float, float]:
    """(l2, l1) strengths: penalty/alpha/l1_ratio, or weight_decay (an L2 penalty)."""
    p, a, r = o["penalty"], o["alpha"], o["l1_ratio"]
    if o["weight_decay"]:
        p, a = "l2", o["weight_decay"]
    return {None: (0.0, 0.0), "none": (0.0, 0.0), "l2": (a, 0.0), "l1": (0.0, a),
            "elasticnet": (a * (1 - r), a * r)}[p]  # fmt: skip


def _step_rate(o: dict[str, Any], lr: float, t: float, t0: float) -> float:
    """The learning rate of step t (schedule_unit="step"); lr per epoch otherwise."""
    if o["schedule_unit"] != "step":
        return lr
    if o["schedule"] == "optimal":
        return 1.0 / (o["alpha"] * (t0 + t - 1.0))
    if o["schedule"] == "invscaling":
        return lr / t ** o["power_t"]
    return lr


def _epoch_rate(o: dict[str, Any], lr0: float, cur: float, e: int) -> float:
    s, epochs = o["schedule"], max(o["epochs"], 1)
    if callable(s):
        return float(s(e))
    if o["schedule_unit"] == "step" or s in ("constant", "adaptive"):
        return cur
    if s == "invscaling":
        return lr0 / (e + 1) ** o["power_t"]
    if s == "step":
        return lr0 * o["gamma"] ** (e // o["step_size"])
    if s == "cosine":
        return lr0 * (1.0 + math.cos(math.pi * e / epochs)) / 2.0
    raise ValueError(f"unknown schedule {s!r}")


def _rule_step(o: dict[str, Any], w: Array, g: Array, s0: Array, s1: Array | None, lr: float,
               count: int) -> Array:  # fmt: skip
    """The new parameters from their gradient under the update rule (state updated)."""
    if o["update"] == "sgd":  # torch.optim.SGD, momentum > 0
        s0[...] = o["momentum"] * s0 + (1 - o["dampening"]) * g
        d = g + o["momentum"] * s0 if o["nesterov"] else s0
        out: Array = w - lr * d
        return out
    if o["update"] == "adagrad":
        s0 += g * g
        return w - lr * g / (np.sqrt(s0) + o["eps"])
    if o["update"] == "adam":
        assert s1 is not None
        b1, b2 = o["beta1"], o["beta2"]
        s0[...] = b1 * s0 + (1 - b1) * g
        s1[...] = b2 * s1 + (1 - b2) * g * g
        m_hat = s0 / (1 - b1**count)
        v_hat = s1 / (1 - b2**count)
        return w - lr * m_hat / (np.sqrt(v_hat) + o["eps"])
    if o["update"] == "normalized":  # s0: one over the feature's mean square
        return w - lr * (s0 * g)
    raise ValueError(f"unknown update {o['update']!r}")


def _take_step(o: dict[str, Any], st: _State, G: Array, gb: Array, m: int, lr: float,
               moved: bool) -> None:  # fmt: skip
    """One step from a batch's gradient sums G = Σ dz xᵀ (k, d), gb = Σ dz, m rows, in the
    documented order: L2, the update, the average, L1."""
    l2, l1 = _penalty(o)
    averaging = 0 < o["_average"] <= st.t
    if o["update"] == "sgd" and o["momentum"] == 0:  # plain SGD: W ← (1 − lr·l2)·W − lr·G/m
        if l2 > 0:
            st.scale *= max(0.0, 1.0 - lr * l2)
            if st.scale < 1e-9:
                st.fold()
        if moved:
            dv = (-lr / (m * st.scale)) * G
            st.V = st.V + dv
            if averaging:
                assert st.AV is not None
                st.AV = st.AV - st.avg_a * dv
            if o["fit_intercept"]:
                st.b = st.b + (-lr / m) * gb * o["intercept_decay"]
    else:  # the rule's step from G/m + l2·W
        if st.scale != 1.0:
            st.fold()
        st.rule_steps += 1
        n_state = 2 if o["update"] == "adam" else 1
        if st.S0 is None:
            st.S0, st.Sb0 = np.zeros_like(st.V), np.zeros_like(st.b)
        if n_state == 2 and st.S1 is None:
            st.S1, st.Sb1 = np.zeros_like(st.V), np.zeros_like(st.b)
        old = st.V.copy()
        g = G / m + l2 * st.V
        st.V = _rule_step(o, st.V, g, st.S0, st.S1, lr, st.rule_steps)
        if averaging:
            assert st.AV is not None
            st.AV = st.AV - st.avg_a * (st.V - old)
        if o["fit_intercept"]:
            assert st.Sb0 is not None
            st.b = _rule_step(o, st.b, gb / m * o["intercept_decay"], st.Sb0, st.Sb1, lr,
                              st.rule_steps)  # fmt: skip
    if averaging:  # the average takes in the new W: ā ← ā + (W − ā)/num
        assert st.ab is not None
        num = st.t - o["_average"] + 1.0
        mu = 1.0 / num
        if num > 1.0:
            st.avg_b /= 1.0 - mu
        st.avg_a += mu * st.avg_b * st.scale
        st.ab = st.ab + (st.b - st.ab) / num
    if l1 > 0:  # each weight pulled towards 0 by its outstanding penalty, never across it
        if st.Q is None:
            st.Q = np.zeros_like(st.V)
        st.u += lr * l1
        z = st.V.copy()
        s = st.scale
        pos, neg = s * z > 0, s * z < 0
        st.V = np.where(pos, np.maximum(0.0, z - (st.u + st.Q) / s), st.V)
        st.V = np.where(neg, np.minimum(0.0, z + (st.u - st.Q) / s), st.V)
        st.Q = st.Q + s * (st.V - z)
    st.t += 1.0


def _scales(data: _Data, o: dict[str, Any]) -> Array:
    """The normalized rule's P: one over each column's (row-weighted) mean square, 1 for a
    column of zeros; then the intercept's, one over the mean row weight."""
    w = data.weights.max(axis=1)
    X = data.X.astype(np.float64)
    if o["fit_intercept"]:
        X = np.column_stack([X, np.ones(X.shape[0])])
    ms = (w[:, None] * X * X).sum(axis=0) / X.shape[0]
    return np.where(ms > 0, 1.0 / np.where(ms > 0, ms, 1.0), 1.0)


def _auto_rate(data: _Data, loss: RefLoss, o: dict[str, Any], param: Any) -> float:
    """``1 / (c·λ_max + c·tr(A)/B)`` with A = X̃ᵀX̃/n from NumPy's eigenvalues."""
    X = data.X.astype(np.float64)
    if o["fit_intercept"]:
        X = np.column_stack([X, np.ones(X.shape[0])])
    A = X.T @ (X * data.weights.max(axis=1)[:, None]) / X.shape[0]
    if o["update"] == "normalized":  # the curvature in the rule's coordinates: P^½ A P^½
        r = np.sqrt(_scales(data, o))
        A = A * r[:, None] * r[None, :]
    lam = float(np.linalg.eigvalsh(A)[-1]) if A.size else 0.0
    c = loss.curvature(param, data.k)
    n = X.shape[0]
    B = n if o["batch_size"] is None else min(o["batch_size"], n)
    # the L2 penalty adds l2·I to the curvature; momentum μ (dampening τ) multiplies the
    # long-run step by (1 − τ)/(1 − μ), which the rate takes back out
    l2 = _penalty(o)[0]
    denom = c * lam + c * float(np.trace(A)) / B + l2
    if denom <= 0:
        return 1.0
    mu, tau = (o["momentum"], o["dampening"]) if o["update"] == "sgd" else (0.0, 0.0)
    gain = (1.0 - tau) / (1.0 - mu) if tau < 1.0 else 1.0 / (1.0 - mu)
    return 1.0 / (denom * gain)


def _optimal_t0(loss: RefLoss, o: dict[str, Any], param: Any, k: int) -> float:
    """scikit-learn's offset of the optimal schedule: eta0 = typw / max(1, dℓ(−typw, 1))."""
    typw = math.sqrt(1.0 / math.sqrt(o["alpha"]))
    if loss.kind == "class":
        d = float(loss.deriv(np.array([[0.0, -typw]]), np.array([1]), param, 2)[0, 1])
    else:
        d = float(loss.deriv(np.array(-typw), np.array(1.0), param, k))
    return 1.0 / ((typw / max(1.0, d)) * o["alpha"])


def fit(
    X: Any,
    y: Any,
    w0: Any = None,
    *,
    b0: Any = None,
    sample_weight: Any = None,
    class_weight: Any = None,
    validation_data: tuple[Any, Any] | None = None,
    callback: Callable[[int, float, Array], Any] | None = None,
    **options: Any,
) -> RefResult:
    """fastsgd.fit written as a plain loop (the same options and result).

    Each epoch: the rows in the epoch's order (``permutation`` or in place), batches of
    ``batch_size`` consecutive rows of that order (the last may be smaller), for each
    batch the loss derivatives dz at the current parameters and the step of
    ``_take_step``; then the epoch's loss (``loss_record``: "progressive", the mean of
    the batches' losses each taken before its step; "exact", the full-data loss, also
    recorded before training; "none"), the per-epoch schedule, the callback and the
    stopping rules (tol, early stopping with the best parameters restored, adaptive).
    """
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    o = {**_DEFAULTS, **options}
    o["_average"] = 1 if o["average"] is True else (0 if o["average"] is False else o["average"])
    _name, loss = _loss(o["loss"])
    param = loss.default if o["epsilon"] is None else o["epsilon"]
    data = _data(X, y, loss, n_classes=o["n_classes"], sample_weight=sample_weight,
                 class_weight=class_weight)  # fmt: skip
    val = None
    if validation_data is not None:
        n_cls = data.k if loss.kind != "real" and not data.vector else None
        val = _data(validation_data[0], validation_data[1], loss, n_classes=n_cls)
    n, d = data.X.shape
    k = data.k
    V = np.zeros((k, d))
    if w0 is not None:
        V = np.asarray(w0, dtype=np.float64).reshape(d, k).T.copy()
    b = np.zeros(k)
    if b0 is not None:
        b = np.broadcast_to(np.asarray(b0, dtype=np.float64), (k,)).copy()
    st = _State(V, b, AV=np.zeros((k, d)), ab=np.zeros(k))
    if o["update"] == "normalized":
        P = _scales(data, o)
        st.S0 = np.tile(P[:d], (k, 1))
        st.Sb0 = np.full(k, P[d] if o["fit_intercept"] else 1.0)
    if o["average"] == "auto":  # from the second epoch's first step; never on full batches
        B = n if o["batch_size"] is None else min(o["batch_size"], n)
        o["_average"] = 0 if n <= B else 1 + -(-n // B)
    lr0 = (_auto_rate(data, loss, o, param) if o["learning_rate"] == "auto"
           else float(o["learning_rate"]))  # fmt: skip
    t0 = _optimal_t0(loss, o, param, k) if o["schedule"] == "optimal" else 1.0
    seed = o["seed"]
    B = n if o["batch_size"] is None else min(o["batch_size"], n)
    Xd = data.X.astype(np.float64)
    fi = o["fit_intercept"]

    def reported(s: _State) -> tuple[Array, Array]:  # the average once it has started
        if 0 < o["_average"] < s.t:
            assert s.AV is not None
            assert s.ab is not None
            return (s.AV + s.avg_a * s.V) / s.avg_b, s.ab
        return s.W(), s.b

    def w_out(s: _State) -> Array:
        W = reported(s)[0]
        out: Array = W[0].copy() if data.vector else W.T.copy()
        return out

    def b_out(s: _State) -> Any:
        b = reported(s)[1]
        return (float(b[0]) if data.vector else b.copy()) if fi else None

    def full_loss(dd: _Data, s: _State) -> float:
        W, b = reported(s)
        Z = dd.X.astype(np.float64) @ W.T + (b if fi else 0.0)
        _, weighted, _ = _loss_and_dz(loss, dd, np.arange(dd.X.shape[0]), Z, param)
        return weighted / int(dd.X.shape[0])

    record = o["loss_record"]
    if record not in ("progressive", "exact", "none"):
        raise ValueError(f"loss_record must be 'progressive', 'exact' or 'none', got {record!r}")
    exact = record == "exact"
    history = [full_loss(data, st)] if exact else []
    val_history = [full_loss(val, st)] if val is not None else None
    lrs: list[float] = []
    path_w = [w_out(st)] if o["record_path"] else None
    path_b = [b_out(st)] if o["record_path"] and fi else None
    best = (
        val_history[0] if o["early_stopping"] and val_history
        else history[0] if exact else math.inf
    )  # fmt: skip
    best_state, best_epoch, no_improve = st.copy(), 0, 0
    cur, n_steps, stop_reason, converged = lr0, 0, "epochs", False
    tol = o["tol"]
    for e in range(o["epochs"]):
        lr = _epoch_rate(o, lr0, cur, e)
        order = _order(n, o["shuffle"] if n > B else False, d, data.X.itemsize, seed,
                       o["epoch_offset"] + e)  # fmt: skip
        lrs.append(_step_rate(o, lr, st.t, t0))
        batch_losses = 0.0  # Σ weight·ℓ of the batches, each before its step
        for start in range(0, n, B):
            rows = order[start : start + B]
            Z = Xd[rows] @ st.W().T + (st.b if fi else 0.0)
            _, weighted, dz = _loss_and_dz(loss, data, rows, Z, param, o["clip"])
            batch_losses += weighted
            G, gb = dz.T @ Xd[rows], dz.sum(axis=0)
            moved = len(rows) > 1 or bool(np.any(gb != 0))
            _take_step(o, st, G, gb, len(rows), _step_rate(o, lr, st.t, t0), moved)
            n_steps += 1
        if exact:
            current = full_loss(data, st)
        elif record == "progressive":
            current = batch_losses / n
        else:
            current = math.nan
        if record != "none":
            history.append(current)
        if record != "none" and (
            not math.isfinite(current) or (history[0] > 0 and current > 1e3 * history[0])
        ):
            raise Diverged(f"training diverged at epoch {e + 1}", epoch=e + 1)
        if path_w is not None:
            path_w.append(w_out(st))
            if path_b is not None:
                path_b.append(b_out(st))
        if val_history is not None and val is not None:
            val_history.append(full_loss(val, st))
        if callback is not None and callback(e + 1, current, w_out(st)) is False:
            stop_reason = "callback"
            break
        if not (o["early_stopping"] or tol is not None or o["schedule"] == "adaptive"):
            continue
        # the stopping rule: one number watched, lower is better
        watched = val_history[-1] if o["early_stopping"] and val_history else current
        no_improve = no_improve + 1 if watched > best - (tol or 0.0) else 0
        if watched < best:
            best = watched
            if o["early_stopping"]:
                best_state, best_epoch = st.copy(), e + 1
        if no_improve >= o["n_iter_no_change"]:
            if o["schedule"] == "adaptive" and cur > 1e-6:
                cur, no_improve = cur / 5.0, 0
                continue
            stop_reason = (
                "early_stopping" if o["early_stopping"]
                else "adaptive" if o["schedule"] == "adaptive" else "tol"
            )  # fmt: skip
            converged = True
            break
    if o["early_stopping"]:
        st = best_state
    return RefResult(
        w=w_out(st), b=b_out(st), loss_history=np.asarray(history),
        val_loss_history=None if val_history is None else np.asarray(val_history),
        lr_history=np.asarray(lrs), n_epochs=len(lrs), n_steps=n_steps, converged=converged,
        stop_reason=stop_reason, learning_rate=lr0,
        best_epoch=best_epoch if o["early_stopping"] else None,
        path_w=None if path_w is None else np.stack(path_w),
        path_b=None if path_b is None else np.stack(path_b),
        extra={"t": st.t},
    )  # fmt: skip
