"""Input checks shared by the public functions: validate once, name the argument."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

FloatArray = NDArray[np.floating[Any]]


def shape_str(shape: tuple[int, ...]) -> str:
    return str(tuple(int(s) for s in shape))


def _check_kind(a: np.ndarray[Any, Any], name: str) -> None:
    kind = a.dtype.kind
    if kind in "fiub":
        return
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {a.dtype}")
    raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")


def as_array(a: Any, name: str) -> np.ndarray[Any, Any]:
    """np.asarray with a clear error for things that are not numeric arrays."""
    if isinstance(a, np.ndarray):
        arr = a
    else:
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{name} could not be read as an array: {exc}") from None
    _check_kind(arr, name)
    return arr


def float_dtype_of(X: np.ndarray[Any, np.dtype[Any]]) -> np.dtype[Any]:
    """float32 and float64 are used as they are; other real input becomes float64."""
    if X.dtype == np.float32:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_rows(a: Any, name: str, dtype: DTypeLike | None = None) -> FloatArray:
    """A 2-d float array whose rows the core reads in place.

    C-contiguous float32/float64 input (or any row-strided view with contiguous
    rows) is returned as it is: no copy. Other layouts and dtypes are converted
    once, here.
    """
    arr = as_array(a, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-d (n_samples, n_features), got shape {shape_str(arr.shape)}"
        )
    dt = np.dtype(dtype) if dtype is not None else float_dtype_of(arr)
    if arr.dtype != dt:
        arr = arr.astype(dt)
    elif arr.dtype is not dt:  # equal but not NumPy's own instance (metadata, memory maps)
        arr = arr.view(dt)  # the core dispatches on the dtype object: view it, no copy
    if arr.shape[1] > 1 and arr.strides[1] != arr.itemsize:
        arr = np.ascontiguousarray(arr)
    if arr.shape[0] > 1 and arr.strides[0] % arr.itemsize != 0:
        arr = np.ascontiguousarray(arr)
    if not arr.flags.aligned:  # at an odd address (a byte buffer): the core reads whole floats
        arr = arr.copy(order="C")
    return arr


def as_data(a: Any, name: str, dtype: DTypeLike | None = None) -> Any:
    """X as the core reads it: a 2-d float array (``as_rows``), or for scipy.sparse input
    a ``_core.CsrMatrix`` (fastsgd._sparse: CSR in place, other formats converted once,
    never densified; its values are checked for NaN and infinity there)."""
    from fastsgd._sparse import as_csr, is_sparse

    if is_sparse(a):
        return as_csr(a, name, dtype)
    return as_rows(a, name, dtype)


def check_finite(a: Any, name: str) -> None:
    """Raise ValueError if a holds NaN or infinity; reads a in blocks (no full-size temporary).
    (A CsrMatrix was checked when it was made.)"""
    if not isinstance(a, np.ndarray) or a.size == 0 or a.dtype.kind not in "fc":
        return
    if (
        a.ndim == 2
        and a.dtype in (np.float32, np.float64)
        and a.dtype.isnative
        and (a.shape[1] <= 1 or a.strides[1] == a.itemsize)
        and a.strides[0] % a.itemsize == 0
        and a.flags.aligned
    ):
        from fastsgd._ext import _core  # one pass in C++, in parallel

        row = _core.first_nonfinite_row(a.view(np.dtype(a.dtype.char)), 0)
        if row >= 0:
            bad = "NaN" if np.isnan(a[row]).any() else "infinity"
            raise ValueError(f"{name} contains {bad} (in row {row})")
        return
    rows = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(-1, 1)
    step = max(1, (1 << 20) // max(1, rows.shape[1]))
    for s in range(0, rows.shape[0], step):
        block = rows[s : s + step]
        if not np.isfinite(block).all():
            bad = "NaN" if np.isnan(block).any() else "infinity"
            raise ValueError(f"{name} contains {bad}")


def check_positive(value: Any, name: str, *, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if strict and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    if not strict and v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def check_int(value: Any, name: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


def sorted_labels(y: Any) -> np.ndarray[Any, Any]:
    """``np.unique(y)``: the distinct labels, sorted, in y's dtype.

    Non-negative integer labels of a range at most as long as y (class codes) are counted
    (one pass, no sort); anything else goes to np.unique.
    """
    y = np.asarray(y)
    counted = y.dtype.kind == "i" or (y.dtype.kind == "u" and y.dtype.itemsize < 8)
    if y.ndim == 1 and y.size and counted:
        lo, hi = int(y.min()), int(y.max())
        if lo >= 0 and hi <= max(y.size, 1024):
            return np.flatnonzero(np.bincount(y, minlength=hi + 1)).astype(y.dtype)
    return np.unique(y)
