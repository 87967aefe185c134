"""Small data sets: the lesson's line, and friends."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastsgd._validation import FloatArray, as_array, check_int, check_positive

__all__ = ["make_line", "make_regression"]


def _rng(seed: Any) -> np.random.Generator:
    """NumPy's ``default_rng(seed)``, with errors that name ``seed``."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"seed must be None, a non-negative integer or a numpy Generator, got {seed!r}"
        ) from None


def _float_dtype(dtype: Any) -> np.dtype[Any]:
    """float32 or float64, the dtypes the kernels use as they are."""
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt != np.float32 and dt != np.float64:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def make_line(
    n: int = 100,
    a: tuple[float, float] | Any = (3.0, 2.0),
    noise: str = "uniform",
    scale: float = 1.0,
    seed: int | None = 0,
    dtype: Any = np.float64,
) -> tuple[FloatArray, FloatArray]:
    """The lesson's data: points around the line ``y = a1·x + a2``.

    ``X`` has two columns: ``x`` uniform in [-1, 1] and a column of ones, so
    that ``X @ a`` is the line. ``y = X @ a + noise``.

    Parameters
    ----------
    n : number of points.
    a : the true parameters (slope, intercept).
    noise : ``"uniform"`` adds ``scale · U[0, 1)``, as the lesson does (its mean
        moves the best intercept to about a2 + scale/2, 2.5 by default);
        ``"normal"`` adds zero-mean ``scale · N(0, 1)``; ``"none"`` adds nothing.
    scale : noise amplitude (>= 0).
    seed : seed of NumPy's ``default_rng``.
    dtype : float64 (default) or float32.

    Returns
    -------
    X : ndarray (n, 2)
    y : ndarray (n,)

    Examples
    --------
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line(n=5)
    >>> X.shape, y.shape, X[:, 1].tolist()
    ((5, 2), (5,), [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    n = check_int(n, "n", minimum=0)
    scale = check_positive(scale, "scale", strict=False)
    dt = _float_dtype(dtype)
    a_arr = as_array(a, "a").astype(np.float64)
    if a_arr.shape != (2,):
        raise ValueError(f"a must be two numbers (slope, intercept), got shape {a_arr.shape}")
    if not np.isfinite(a_arr).all():
        raise ValueError(f"a must be finite, got {a_arr.tolist()}")
    if noise not in ("uniform", "normal", "none"):
        raise ValueError(f"noise must be 'uniform', 'normal' or 'none', got {noise!r}")
    rng = _rng(seed)
    x = rng.uniform(-1.0, 1.0, n)
    X = np.column_stack([x, np.ones(n)])
    y = X @ a_arr
    if noise == "uniform":
        y = y + scale * rng.uniform(0.0, 1.0, n)
    elif noise == "normal":
        y = y + scale * rng.standard_normal(n)
    return X.astype(dt), y.astype(dt)


def make_regression(
    n: int = 1000,
    d: int = 10,
    *,
    k: int | None = None,
    noise: float = 0.1,
    seed: int | None = 0,
    dtype: Any = np.float32,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gaussian features and a random linear truth: ``y = X @ w + noise · N(0, 1)``.

    Returns ``(X, y, w)``; ``w`` is (d,) or (d, k) when ``k`` is given.

    Examples
    --------
    >>> from fastsgd.datasets import make_regression
    >>> X, y, w = make_regression(n=100, d=3)
    >>> X.shape, y.shape, w.shape
    ((100, 3), (100,), (3,))
    """
    n = check_int(n, "n", minimum=0)
    d = check_int(d, "d", minimum=1)
    noise = check_positive(noise, "noise", strict=False)
    dt = _float_dtype(dtype)
    rng = _rng(seed)
    X = rng.standard_normal((n, d)).astype(dt)
    w = rng.standard_normal(d if k is None else (d, check_int(k, "k", minimum=1)))
    y = X.astype(np.float64) @ w
    y = y + noise * rng.standard_normal(y.shape)
    return X, y.astype(dt), w
