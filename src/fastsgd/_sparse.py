"""Sparse input: any scipy.sparse matrix or array, as the core's CSR source.

CSR is used in place (its three arrays are read, not copied) when its values are
float32 or float64 and its indices and indptr share an integer dtype; otherwise
what differs is converted once. CSC, COO and the other formats are converted to
CSR once (that copy holds the non-zeros only). Rows whose columns repeat (scipy
allows it and means the sum) are summed on a copy. Never densified: memory grows
with the non-zeros, not with rows × columns.

scipy is not a dependency of fastsgd: a sparse matrix can only come from code that
imported scipy, so the checks here look for it in ``sys.modules`` and never import
it themselves.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from fastsgd._ext import _core
from fastsgd._validation import check_finite as _check_finite

__all__ = ["as_csr", "is_sparse", "sparse_module"]


def sparse_module() -> Any:
    """scipy.sparse if it is loaded, else None."""
    return sys.modules.get("scipy.sparse")


def is_sparse(X: Any) -> bool:
    """True for scipy.sparse matrices and arrays (and the core's CsrMatrix)."""
    if isinstance(X, _core.CsrMatrix):
        return True
    sp = sparse_module()
    return sp is not None and bool(sp.issparse(X))


def as_csr(X: Any, name: str = "X", dtype: Any = None, *, check_finite: bool = True) -> Any:
    """X as a ``_core.CsrMatrix`` (float32 values kept, others float64; see the module)."""
    if isinstance(X, _core.CsrMatrix):
        return X
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-d (n_samples, n_features), got shape {X.shape}")
    if X.format != "csr":
        X = X.tocsr()  # CSC, COO, ...: converted once
    data = X.data
    dt = np.dtype(dtype) if dtype is not None else None
    if dt is None:
        dt = np.dtype(np.float32) if data.dtype == np.float32 else np.dtype(np.float64)
    if data.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real, got sparse values of dtype {data.dtype}")
    indices, indptr = X.indices, X.indptr
    if indices.dtype != indptr.dtype or indices.dtype not in (np.int32, np.int64):
        indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
    data = np.require(data, dtype=dt, requirements=["C", "A"])
    indices = np.require(indices, requirements=["C", "A"])
    indptr = np.require(indptr, requirements=["C", "A"])
    if check_finite:  # in blocks: no temporary as long as the values
        _check_finite(data, name)
    try:
        csr = _core.CsrMatrix(data, indices, indptr, int(X.shape[1]))
    except ValueError as exc:
        raise ValueError(f"{name} is not a valid CSR matrix: {exc}") from None
    if csr.duplicates:  # a column stored twice in a row means their sum: sum them, on a copy
        summed = X.copy()
        summed.sum_duplicates()
        return as_csr(summed, name, dt, check_finite=False)
    return csr
