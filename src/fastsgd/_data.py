"""Training data laid out for the core: X as rows it reads in place, and the targets and
weights of each row as the loss wants them (real targets, or class labels).

``Dataset.build`` validates user input once and names the argument in every error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastsgd._ext import _core
from fastsgd._registry import Loss
from fastsgd._validation import FloatArray, as_array, as_data, as_rows, check_finite, shape_str

__all__ = ["Dataset", "class_weights", "sample_weights"]

IntArray = np.ndarray[Any, np.dtype[np.int64]]


def sample_weights(sample_weight: Any, n: int, name: str = "sample_weight") -> FloatArray | None:
    """Per-row weights as a float64 (n,) array: finite and >= 0 (None: all 1)."""
    if sample_weight is None:
        return None
    w = as_array(sample_weight, name)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},), one weight per row, got {shape_str(w.shape)}"
        )
    w = np.require(w, dtype=np.float64, requirements=["C", "A"])
    check_finite(w, name)
    if n and w.min() < 0:
        raise ValueError(f"{name} must be >= 0, found {w.min()}")
    if n and not w.any():
        raise ValueError(f"{name} is zero for every row: there is no weight to fit")
    return w


def class_weights(
    class_weight: Any, n_classes: int, name: str = "class_weight"
) -> FloatArray | None:
    """Per-class weights as a float64 (n_classes,) array: finite and >= 0 (None: all 1)."""
    if class_weight is None:
        return None
    w = as_array(class_weight, name)
    if w.shape != (n_classes,):
        raise ValueError(
            f"{name} must have shape ({n_classes},), one weight per class, got {shape_str(w.shape)}"
        )
    w = np.require(w, dtype=np.float64, requirements=["C", "A"])
    check_finite(w, name)
    if w.min() < 0:
        raise ValueError(f"{name} must be >= 0, found {w.min()}")
    return w


@dataclass
class Dataset:
    """X (n, d) as the core reads it, the targets of its rows, and the model's shape.

    ``k`` is the number of outputs (scores per row); ``vector`` says the weights have
    shape (d,) rather than (d, k) (one output given as a 1-d target or a binary loss).
    """

    X: Any  # a 2-d float array, or a _core.CsrMatrix
    targets: _core.Targets
    loss: Loss
    k: int
    vector: bool

    def row_weights(self) -> FloatArray | None:
        """Each row's weight (its sample weight times its class's weight; for one score
        per class, the largest over the outputs), or None when every row weighs 1."""
        t = self.targets
        sw = t.sample_weight
        labels = t.labels
        if labels is None or (t.class_weight is None and t.pos_weight == t.neg_weight == 1.0):
            return None if sw is None else np.asarray(sw)
        if self.k == 1:
            w = np.where(labels == t.positive, t.pos_weight, t.neg_weight)
        else:
            cw = np.ones(self.k) if t.class_weight is None else np.asarray(t.class_weight)
            w = cw[labels] if self.loss.target == "class" else np.maximum(cw[labels], t.neg_weight)
        out: FloatArray = w if sw is None else w * sw
        return np.ascontiguousarray(out, dtype=np.float64)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def w_shape(self) -> tuple[int, ...]:
        return (self.d,) if self.vector else (self.d, self.k)

    @classmethod
    def build(
        cls,
        X: Any,
        y: Any,
        loss: Loss,
        *,
        n_classes: int | None = None,
        n_outputs: int | None = None,
        sample_weight: Any = None,
        class_weight: Any = None,
        dtype: Any = None,
        name_X: str = "X",
        name_y: str = "y",
        check_input: bool = True,
    ) -> Dataset:
        """Validate X and y for a loss (see ``Loss.target``) and lay them out for the core.

        ``n_classes`` gives the classes of a classification loss (default: the largest
        label + 1); ``n_outputs`` the outputs a regression target must have.
        ``class_weight`` has one weight per class (for two classes with one score:
        [negative, positive]).
        """
        Xr = as_data(X, name_X, dtype)
        n = Xr.shape[0]
        if n == 0:
            raise ValueError(f"{name_X} has no rows: there is nothing to fit")
        if check_input:
            check_finite(Xr, name_X)
        sw = sample_weights(sample_weight, n, "sample_weight")
        y_arr = as_array(y, name_y)
        labels: IntArray | None = None
        if loss.target != "real" and y_arr.ndim == 1 and y_arr.dtype.kind in "iu":
            labels = np.require(y_arr, dtype=np.int64, requirements=["C", "A"])

        def label_range() -> tuple[int, int]:
            assert labels is not None
            return int(labels.min()), int(labels.max())

        shape = target_shape(
            loss, y_arr.shape, y_arr.dtype, n, label_range, n_classes=n_classes,
            n_outputs=n_outputs, X_shape=Xr.shape, name_X=name_X, name_y=name_y,
        )  # fmt: skip
        if loss.target == "real":
            Y = as_rows(y_arr.reshape(n, shape.k), name_y, Xr.dtype)
            if check_input:
                check_finite(Y, name_y)
            if class_weight is not None:
                raise ValueError(f"class_weight applies to class labels, not to loss={loss.name!r}")
            return cls(Xr, _core.Targets(Y=Y, sample_weight=sw), loss, shape.k, shape.vector)
        assert labels is not None
        if loss.target == "class" and n_classes is None:
            _check_every_class_present(labels, shape.k, name_y)
        return cls(Xr, label_targets(labels, shape, sw, class_weight), loss, shape.k, shape.vector)

    def like(
        self, X: Any, y: Any, *, name_X: str, name_y: str, sample_weight: Any = None
    ) -> Dataset:
        """Another data set (validation data) for the same loss, shapes and dtype."""
        other = Dataset.build(
            X,
            y,
            self.loss,
            n_classes=self.k if self.loss.target != "real" and not self.vector else None,
            n_outputs=self.k if self.loss.target == "real" else None,
            sample_weight=sample_weight,
            dtype=self.X.dtype,
            name_X=name_X,
            name_y=name_y,
        )
        if other.d != self.d:
            raise ValueError(
                f"validation_data's {name_X} has {other.d} features but the training data has "
                f"{self.d}"
            )
        return other


@dataclass(frozen=True)
class TargetShape:
    """What a target array means for a loss: k outputs, weights of shape (d,) (vector) or
    (d, k), and the number of classes of a classification loss."""

    k: int
    vector: bool
    classes: int | None = None


def target_shape(
    loss: Loss,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    n: int,
    label_range: Callable[[], tuple[int, int]],
    *,
    n_classes: int | None,
    n_outputs: int | None,
    X_shape: tuple[int, ...],
    name_X: str,
    name_y: str,
) -> TargetShape:
    """The checks of a target array against a loss, shared by in-memory and dask data.

    ``label_range()`` gives (min, max) of the labels; it is called only once shape and
    dtype are right (fastsgd.dask computes it on the cluster).
    """
    if loss.target == "real":
        if len(shape) not in (1, 2) or shape[0] != n:
            raise ValueError(
                f"{name_y} must have shape ({n},) or ({n}, k) to match {name_X} of shape "
                f"{shape_str(X_shape)}, got {shape_str(shape)}"
            )
        if dtype.kind not in "fiub":
            raise TypeError(f"{name_y} must be a real numeric array, got dtype {dtype}")
        vector = len(shape) == 1
        k = 1 if vector else int(shape[1])
        if k == 0:
            raise ValueError(f"{name_y} has shape {shape_str(shape)}: no outputs, nothing to fit")
        if n_outputs is not None and n_outputs != k:
            raise ValueError(f"{name_y} has {k} outputs, expected {n_outputs}")
        return TargetShape(k, vector)
    if len(shape) != 1 or shape[0] != n:
        raise ValueError(
            f"{name_y} must have shape ({n},) (one class index per row of {name_X}), got "
            f"{shape_str(shape)}"
        )
    if dtype.kind not in "iu":
        raise TypeError(f"{name_y} must hold integer class indices, got dtype {dtype}")
    lo, hi = label_range()
    if loss.target == "class":
        classes = n_classes if n_classes is not None else hi + 1
        if classes < 2:
            raise ValueError(
                f"loss={loss.name!r} needs at least 2 classes, but {name_y} holds only class "
                f"indices below {classes}; pass n_classes, or use a binary loss"
            )
        k, vector = classes, False
    else:  # binary: one score for two classes, or one score per class (one-vs-rest)
        classes = 2 if n_classes is None else n_classes
        k, vector = (1, True) if classes == 2 else (classes, False)
    if lo < 0 or hi >= classes:
        raise ValueError(f"{name_y} holds class indices outside [0, {classes}): found {lo}..{hi}")
    return TargetShape(k, vector, classes)


def _check_every_class_present(labels: IntArray, k: int, name_y: str) -> None:
    """Class indices 0..k-1 with k from the largest label: a class without rows means the
    labels are not indices (say {0, 1, 100}), which would train k mostly empty classes."""
    absent = np.flatnonzero(np.bincount(labels, minlength=k) == 0)
    if absent.size:
        shown = ", ".join(str(int(c)) for c in absent[:5]) + (", ..." if absent.size > 5 else "")
        raise ValueError(
            f"{name_y} must hold class indices 0..k-1, but its largest label is {k - 1} and "
            f"{absent.size} of the classes below it have no rows ({shown}). Encode the labels "
            f"(np.unique({name_y}, return_inverse=True)[1]), or pass n_classes={k} to train "
            "those classes anyway"
        )


def label_targets(
    labels: IntArray, shape: TargetShape, sample_weight: FloatArray | None, class_weight: Any
) -> _core.Targets:
    """The core's targets of class labels, with their sample and class weights."""
    assert shape.classes is not None
    cw = class_weights(class_weight, shape.classes)
    if shape.k == 1:  # one score: label 1 against label 0
        pos, neg = (1.0, 1.0) if cw is None else (float(cw[1]), float(cw[0]))
        return _core.Targets(
            labels=labels, positive=1, sample_weight=sample_weight, pos_weight=pos, neg_weight=neg
        )
    return _core.Targets(labels=labels, sample_weight=sample_weight, class_weight=cw)


def pair(data: Any, name: str) -> tuple[Any, Any]:
    """(X_val, y_val) from a pair, with a TypeError for anything else."""
    if not isinstance(data, Sequence) or isinstance(data, str | bytes) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X_val, y_val)")
    return data[0], data[1]
