"""The same functions as ``fastsgd``, written in plain NumPy.

This module is the oracle of the tests and the baseline of the benchmarks:
each function is the textbook formula, in the input's dtype, with NumPy's own
two passes over X (``X @ w``, then ``X.T @ r``). Signatures match the fast
versions; input is validated the same way so that errors agree.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from fastsgd._validation import FloatArray
from fastsgd.kernels import _Linear, _target_array

__all__ = ["dot", "fit", "mse", "mse_grad", "permutation", "sgd_step"]

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)


def _params(X: Any, w: Any, b: Any, require_rows: bool) -> tuple[FloatArray, Any, Any, _Linear]:
    lin = _Linear(X, w, b, require_rows=require_rows)
    w_t = np.asarray(w).astype(lin.dtype)
    b_t = None if b is None else np.asarray(b).astype(lin.dtype)
    return lin.X, w_t, b_t, lin


def dot(X: Any, w: Any, b: Any = None) -> FloatArray:
    """``X @ w + b`` with NumPy."""
    X, w, b, _ = _params(X, w, b, False)
    out: FloatArray = X @ w
    return out if b is None else out + b


def mse(X: Any, y: Any, w: Any, b: Any = None) -> float:
    """``mean((X @ w + b - y) ** 2)`` with NumPy."""
    X, w, b, lin = _params(X, w, b, True)
    r = dot(X, w, b) - lin.targets(y).reshape(lin.pred_shape())
    return float(np.mean(r * r))


def mse_grad(X: Any, y: Any, w: Any, b: Any = None) -> tuple[float, FloatArray, Any]:
    """Loss and gradient with NumPy: ``r = X @ w + b - y``; ``2/m · Xᵀ r``; ``2/m · Σ r``."""
    X, w, b, lin = _params(X, w, b, True)
    r = dot(X, w, b) - lin.targets(y).reshape(lin.pred_shape())
    m = r.size
    loss = float(np.mean(r * r))
    grad_w = (2.0 / m) * (X.T @ r)
    grad_b = None
    if b is not None:
        if np.ndim(b) == 0:  # one bias shared by every output
            grad_b = lin.dtype.type((2.0 / m) * r.sum())
        else:  # one bias per output column, b's shape
            grad_b = ((2.0 / m) * r.reshape(r.shape[0], -1).sum(axis=0)).astype(lin.dtype)
    return loss, grad_w.astype(lin.dtype), grad_b


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
    """torch.optim.SGD's update in NumPy (velocity starts at zero), in place."""
    w = _target_array(w, "w")
    g = np.asarray(grad, dtype=w.dtype) + weight_decay * w
    if momentum != 0:
        if velocity is None:
            raise ValueError("velocity is required when momentum > 0")
        velocity *= momentum
        velocity += (1 - dampening) * g
        g = g + momentum * velocity if nesterov else velocity
    w -= lr * g
    return w


def _mix64(z: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray[Any, Any] = z ^ (z >> np.uint64(31))
    return mixed


def _mix64_int(z: int) -> int:
    return int(_mix64(np.array([z & _MASK64], dtype=np.uint64))[0])


def permutation(n: int, seed: int, epoch: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The shuffled order of rows ``0..n-1`` for a seed and an epoch (see random.hpp).

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

    def step(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        for r in range(3):
            x = ((x ^ keys[r]) * np.uint64(_M[r])) & mask
            x = x ^ (x >> shift)
        return x

    with np.errstate(over="ignore"):
        x: np.ndarray[Any, Any] = step(np.arange(n, dtype=np.uint64))
        out = x >= nn
        while out.any():
            x[out] = step(x[out])
            out = x >= nn
    x = x + np.uint64(offset)
    x = np.where(x >= nn, x - nn, x)
    return x.astype(np.int64)


# --- training: the same trainer as fastsgd.fit, its inner loop in NumPy ------------------


def _loss_and_dz(loss: str, Z: FloatArray, T: Any) -> tuple[FloatArray, FloatArray]:
    """Per-row losses and dloss/dz for scores Z (m, k); T holds the targets of the rows."""
    if loss == "mse":
        R = Z - T
        return (R * R).sum(axis=1), R
    if loss == "softmax":
        m = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - m)
        S = E.sum(axis=1, keepdims=True)
        P = E / S
        rows = np.arange(Z.shape[0])
        losses = np.log(S[:, 0]) - (Z[rows, T] - m[:, 0])
        P[rows, T] -= 1.0
        return losses, P
    # logistic
    s = Z[:, 0]
    t = T.astype(np.float64)
    losses = np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s))) - t * s
    sig = 1.0 / (1.0 + np.exp(-s))
    return losses, (sig - t)[:, None]


def _grad(
    loss: str, Xb: FloatArray, Tb: Any, Wt: FloatArray, b: FloatArray | None
) -> tuple[float, FloatArray, FloatArray]:
    """Mean loss and gradients wrt Wt (k, d) and b (k,) on one batch, in float64."""
    Xd = Xb.astype(np.float64)
    Z = Xd @ Wt.T
    if b is not None:
        Z += b
    Td = Tb.astype(np.float64) if loss == "mse" else Tb
    losses, dZ = _loss_and_dz(loss, Z, Td)
    scale = 1.0 / (Z.size if loss == "mse" else Z.shape[0])
    gscale = (2.0 if loss == "mse" else 1.0) * scale
    return float(losses.sum() * scale), gscale * (dZ.T @ Xd), gscale * dZ.sum(axis=0)


def _torch_sgd(
    p: FloatArray, g: FloatArray, v: FloatArray | None, lr: float, o: Any, wd: float
) -> None:
    g = g + wd * p
    if o.momentum > 0 and v is not None:
        v *= o.momentum
        v += (1 - o.dampening) * g
        g = g + o.momentum * v if o.nesterov else v
    p -= lr * g


class NumpyBackend:
    """fit's inner loop written in NumPy: same order of rows, same batches, same steps."""

    def __init__(self, prob: Any, opts: Any) -> None:
        self.prob, self.opts = prob, opts

    def epoch(self, state: Any, *, lr: float, epoch: int) -> tuple[int, float]:
        o, p = self.opts, self.prob
        n = p.n
        B = o.batch_size if 0 < o.batch_size < n else n
        # a single batch of every row is used in order (its order changes nothing)
        if not o.shuffle or n <= B:
            order = np.arange(n)
        elif o.shuffle == 1:
            order = permutation(n, o.seed, epoch)
        else:  # blocks of o.shuffle consecutive rows; the last n mod block rows stay last
            R = o.shuffle
            nfull = n // R
            blocks = permutation(nfull, o.seed, epoch)
            order = np.concatenate(
                [(blocks[:, None] * R + np.arange(R)).ravel(), np.arange(nfull * R, n)]
            )
        steps, total = 0, 0.0
        for s in range(0, n, B):
            idx = order[s : s + B]
            loss, G, gb = _grad(o.loss, p.X[idx], p.Y[idx], state.Wt, state.b)
            _torch_sgd(state.Wt, G, state.vW, lr, o, o.weight_decay)
            if state.b is not None:
                _torch_sgd(state.b, gb, state.vb, lr, o, 0.0)
            steps += 1
            total += loss
        return steps, total / max(steps, 1)

    def loss(self, X: FloatArray, Y: Any, state: Any) -> float:
        return _grad(self.opts.loss, X, Y, state.Wt, state.b)[0]


def fit(X: Any, y: Any, w0: Any = None, **options: Any) -> Any:
    """``fastsgd.fit`` with its inner loop in NumPy (same arguments, same result)."""
    from fastsgd import training

    sig = inspect.signature(training.fit)
    bound = sig.bind(X, y, w0, **options)
    bound.apply_defaults()
    return training._fit(NumpyBackend, **bound.arguments)


# --- classification: softmax probabilities and the cross-entropy losses ------------------------

__all__ += [
    "log_softmax",
    "logistic_xent",
    "logistic_xent_grad",
    "softmax",
    "softmax_xent",
    "softmax_xent_grad",
]


def _reference_scores(Z: Any) -> FloatArray:
    from fastsgd.kernels import _scores

    z, shape = _scores(Z)
    return np.asarray(z).reshape(shape)


def log_softmax(Z: Any) -> FloatArray:
    """``z − m − log Σ exp(z − m)`` row-wise with NumPy, in Z's dtype (``m`` the row max)."""
    z = _reference_scores(Z)
    s: FloatArray = z - z.max(axis=-1, keepdims=True)
    out: FloatArray = s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
    return out


def softmax(Z: Any) -> FloatArray:
    """``exp(z − m) / Σ exp(z − m)`` row-wise with NumPy, in Z's dtype (``m`` the row max)."""
    z = _reference_scores(Z)
    e: FloatArray = np.exp(z - z.max(axis=-1, keepdims=True))
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def _softmax_parts(X: Any, y: Any, W: Any, b: Any) -> tuple[FloatArray, FloatArray, Any, Any]:
    """X, the scores Z = X @ W + b (X's dtype), the labels and the parameters' layout."""
    from fastsgd.kernels import _softmax_args

    lin, labels = _softmax_args(X, y, W, b)
    Xd, Wd, bd, _ = _params(lin.X, W, b, True)
    Z = Xd @ Wd
    return Xd, Z if bd is None else Z + bd, labels, lin


def softmax_xent(X: Any, y: Any, W: Any, b: Any = None) -> float:
    """``mean(log Σ_c exp(z_c) − z_y)`` with NumPy: scores, then log-softmax, then the mean."""
    _, Z, labels, _ = _softmax_parts(X, y, W, b)
    logp = log_softmax(Z)
    return float(-np.mean(logp[np.arange(Z.shape[0]), labels], dtype=np.float64))


def softmax_xent_grad(X: Any, y: Any, W: Any, b: Any = None) -> tuple[float, FloatArray, Any]:
    """With NumPy's two passes: ``P = softmax(X @ W + b)``, ``Xᵀ(P − onehot)/n``, ``Σ(P − onehot)/n``."""
    Xd, Z, labels, lin = _softmax_parts(X, y, W, b)
    n = Z.shape[0]
    rows = np.arange(n)
    loss = float(-np.mean(log_softmax(Z)[rows, labels], dtype=np.float64))
    R = softmax(Z)
    R[rows, labels] -= 1  # P − onehot(y)
    grad_W = (Xd.T @ R) / n
    grad_b = None if b is None else (R.sum(axis=0) / n).astype(lin.dtype)
    return loss, grad_W.astype(lin.dtype), grad_b


def _logistic_parts(X: Any, y: Any, w: Any, b: Any) -> tuple[FloatArray, FloatArray, Any, Any]:
    """X, the scores s = X @ w + b as (n,) in X's dtype, the 0/1 labels and the layout."""
    from fastsgd.kernels import _logistic_args

    lin, labels = _logistic_args(X, y, w, b)
    Xd, wd, bd, _ = _params(lin.X, w, b, True)
    s = (Xd @ wd.reshape(lin.X.shape[1])).reshape(-1)
    if bd is not None:
        s = s + bd.reshape(())
    return Xd, s, labels, lin


def _softplus(s: FloatArray) -> FloatArray:
    """log(1 + exp(s)) without overflow."""
    return np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s)))


def _sigmoid(s: FloatArray) -> FloatArray:
    """1 / (1 + exp(−s)) without overflow."""
    e = np.exp(-np.abs(s))
    return np.where(s >= 0, 1 / (1 + e), e / (1 + e))


def logistic_xent(X: Any, y: Any, w: Any, b: Any = None) -> float:
    """``mean(log(1 + exp(s)) − y·s)``, ``s = X @ w + b``, with NumPy."""
    _, s, t, _ = _logistic_parts(X, y, w, b)
    return float(np.mean(_softplus(s) - t * s, dtype=np.float64))


def logistic_xent_grad(X: Any, y: Any, w: Any, b: Any = None) -> tuple[float, FloatArray, Any]:
    """With NumPy's two passes: ``s = X @ w + b``, ``Xᵀ(σ(s) − y)/n``, ``Σ(σ(s) − y)/n``."""
    Xd, s, t, lin = _logistic_parts(X, y, w, b)
    n = s.shape[0]
    loss = float(np.mean(_softplus(s) - t * s, dtype=np.float64))
    r = _sigmoid(s) - t.astype(s.dtype)
    grad_w = ((Xd.T @ r) / n).astype(lin.dtype).reshape(lin.w_shape)
    gb = None if b is None else np.atleast_1d(r.sum() / n)
    return loss, grad_w, lin.grad_b(gb)
