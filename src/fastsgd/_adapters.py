"""How the estimators reach their data: in-memory arrays here (``InMemory``), dask arrays
in :mod:`fastsgd.dask` (its ``ADAPTER``), behind one interface (``DataAdapter``); and
the transaction that keeps a failed fit from changing an estimator.

Needs scikit-learn (its ``validate_data`` and ``train_test_split``).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from fastsgd import _driver as driver
from fastsgd._data import Dataset
from fastsgd._registry import Loss
from fastsgd._validation import FloatArray, sorted_labels
from fastsgd.config import FitConfig

FLOAT_DTYPES = [np.float64, np.float32]


# --- transactions ---------------------------------------------------------------------------


@contextlib.contextmanager
def transaction(estimator: Any, *, copy_fitted: bool = False) -> Iterator[None]:
    """Runs a fit; on any exception (KeyboardInterrupt included) the estimator gets back
    exactly the attributes it had before, then the exception goes on.

    ``copy_fitted``: the fit works on copies of the fitted state (the attributes starting
    or ending with an underscore, copied together so that arrays shared stay shared), for
    fits that write into those arrays in place (scikit-learn's bookkeeping does); the
    parameters are not copied (a RandomState given moves on, as in scikit-learn).
    """
    before = dict(vars(estimator))
    if copy_fitted:
        fitted = {k: v for k, v in before.items() if k.startswith("_") or k.endswith("_")}
        vars(estimator).update(copy.deepcopy(fitted))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(before)
        raise


# --- where the data lives ---------------------------------------------------------------------


class DataAdapter(Protocol):
    """What the estimators need of a kind of data (in-memory arrays, dask arrays).

    A fit opens ``session(fit_params)`` and uses the adapter it yields throughout."""

    fit_params: tuple[str, ...]  # the extra keyword arguments its fit and partial_fit take

    def session(self, fit_params: dict[str, Any]) -> contextlib.AbstractContextManager[Any]: ...

    def validate(self, est: Any, X: Any, y: Any, *, reset: bool) -> tuple[Any, Any]: ...

    def labels(self, y: Any) -> np.ndarray[Any, Any]: ...

    def bincount(self, y: Any, k: int) -> np.ndarray[Any, Any]: ...

    def encode(self, y: Any, classes: np.ndarray[Any, Any]) -> Any: ...

    def split(
        self, X: Any, y: Any, fraction: float, seed: int, stratify: bool
    ) -> tuple[Any, Any, Any, Any]: ...

    def backend(
        self, est: Any, X: Any, y: Any, loss: Loss, cfg: FitConfig, *, n_classes: int | None,
        sample_weight: Any, class_weight: Any, validation: tuple[Any, Any] | None,
        fit_params: dict[str, Any],
    ) -> tuple[driver.Backend, int, bool]: ...  # fmt: skip

    def predict(self, est: Any, X: Any, method: str) -> Any: ...


def _is_dask_collection(x: Any) -> bool:
    """True for dask arrays and other dask collections (without importing dask)."""
    module = type(x).__module__ or ""
    return (
        module == "dask"
        or module.startswith(("dask.", "dask_expr"))
        or hasattr(type(x), "__dask_graph__")
    )


def reject_dates(X: Any) -> None:
    """Dates and durations are not features: scikit-learn's checks would turn them into numbers."""
    kind = getattr(getattr(X, "dtype", None), "kind", None)
    if kind in ("M", "m"):
        raise TypeError(f"X must be numeric, got dtype {X.dtype} (dates or durations)")


def sp_issparse(X: Any) -> bool:
    """A scipy.sparse matrix or array (validate_data gives CSR for any of them)."""
    from fastsgd._sparse import is_sparse

    return is_sparse(X)


def native_view(X: Any) -> Any:
    """X itself, or a view of it whose dtype is NumPy's own float32/float64 instance.

    Arrays read from files (memory maps from np.load) can carry an equal but distinct
    dtype object; the view costs nothing and lets the core pick its float32 kernels.
    """
    for dt in (np.dtype(np.float32), np.dtype(np.float64)):
        if X.dtype == dt and X.dtype is not dt:
            return X.view(dt)
    return X


class InMemory:
    """In-memory arrays (NumPy, lists, pandas), validated by scikit-learn's validate_data."""

    fit_params: tuple[str, ...] = ()

    def session(self, fit_params: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext(self)

    def validate(self, est: Any, X: Any, y: Any, *, reset: bool) -> tuple[Any, Any]:
        reject_dates(X)
        X, y = validate_data(
            est, X, y, dtype=FLOAT_DTYPES, multi_output=est._multi_output_y(),
            y_numeric=est._y_numeric(), reset=reset, accept_sparse="csr",
        )  # fmt: skip
        return (X if sp_issparse(X) else native_view(X)), y

    def labels(self, y: Any) -> np.ndarray[Any, Any]:
        check_classification_targets(y)
        return sorted_labels(y)

    def bincount(self, y: Any, k: int) -> np.ndarray[Any, Any]:
        return np.bincount(y, minlength=k)

    def encode(self, y: Any, classes: np.ndarray[Any, Any]) -> Any:
        idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        unknown = classes[idx] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not in classes_ {classes!r}: "
                f"{np.unique(np.asarray(y)[unknown])!r}"
            )
        return idx.astype(np.int64)

    def split(
        self, X: Any, y: Any, fraction: float, seed: int, stratify: bool
    ) -> tuple[Any, Any, Any, Any]:
        strat = None
        if stratify:
            counts = np.bincount(y)
            strat = y if counts[counts > 0].min() >= 2 else None
        try:
            X_tr, X_val, y_tr, y_val = train_test_split(
                X, y, test_size=fraction, random_state=np.random.RandomState(seed), stratify=strat
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping=True could not split off validation_fraction={fraction} of "
                f"{len(y)} samples: {exc}"
            ) from None
        return X_tr, y_tr, X_val, y_val

    def backend(
        self, est: Any, X: Any, y: Any, loss: Loss, cfg: FitConfig, *, n_classes: int | None,
        sample_weight: Any, class_weight: Any, validation: tuple[Any, Any] | None,
        fit_params: dict[str, Any],
    ) -> tuple[driver.Backend, int, bool]:  # fmt: skip
        data = Dataset.build(
            X, y, loss, n_classes=n_classes, sample_weight=sample_weight,
            class_weight=class_weight, check_input=False,
        )  # fmt: skip
        val = None
        if validation is not None:
            val = data.like(validation[0], validation[1], name_X="X_val", name_y="y_val")
        return driver.CoreBackend(data, val, cfg.n_threads or 0), data.k, data.vector

    def predict(self, est: Any, X: Any, method: str) -> Any:
        return getattr(est, "_" + method)(X)


IN_MEMORY = InMemory()


def adapter_for(*arrays: Any) -> DataAdapter:
    if any(_is_dask_collection(a) for a in arrays):
        from fastsgd import dask as fdask

        adapter: DataAdapter = fdask.ADAPTER
        return adapter
    return IN_MEMORY


def check_fit_params(adapter: DataAdapter, method: str, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(adapter.fit_params))
    if unknown:
        where = (
            "only used with dask arrays (fastsgd.dask)"
            if not adapter.fit_params
            else (f"not among {', '.join(adapter.fit_params)}")
        )
        raise TypeError(f"{method}() got unexpected keyword arguments {unknown}: they are {where}")
    return params


def class_weight_array(
    class_weight: Any, classes: np.ndarray[Any, Any], adapter: DataAdapter, y: Any, *,
    partial: bool,
) -> FloatArray | None:  # fmt: skip
    """One weight per class from a dict {label: weight} or "balanced" (None: no weights).

    "balanced" gives ``n_samples / (n_classes · count(class))`` from the encoded labels y;
    partial_fit refuses it (the counts of one chunk are not the data's).
    """
    if class_weight is None:
        return None
    k = len(classes)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight must be a dict, 'balanced' or None, got {class_weight!r}"
            )
        if partial:
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: pass a dict, for "
                "example from sklearn.utils.class_weight.compute_class_weight on a sample of y"
            )
        counts = np.asarray(adapter.bincount(y, k), dtype=np.float64)
        if (counts == 0).any():
            raise ValueError("class_weight='balanced' needs every class in y")
        out: FloatArray = counts.sum() / (k * counts)
        return out
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict, 'balanced' or None, got {class_weight!r}")
    unknown = [c for c in class_weight if c not in set(classes.tolist())]
    if unknown:
        raise ValueError(f"class_weight has labels that are not classes: {unknown!r}")
    return np.array([float(class_weight.get(c, 1.0)) for c in classes.tolist()])
