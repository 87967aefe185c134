"""Sparse input (scipy.sparse): the kernels, fit, both estimator families, never densified.

The oracle is the same computation on the dense copy of the matrix (whose kernels are
checked against the NumPy reference in test_kernels / test_losses): CSR results must equal
dense ones to rounding. The one documented difference: plain SGD applies the L1 penalty to
the weights a step touches (scikit-learn's sparse rule), so with L1 a column absent from a
row is not truncated at that step.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

import fastsgd
from fastsgd import kernels
from fastsgd._ext import _core
from fastsgd._registry import LOSSES
from fastsgd._sparse import as_csr


def _csr(n: int = 120, d: int = 30, density: float = 0.15, seed: int = 0,
         dtype: Any = np.float64) -> Any:  # fmt: skip
    return sp.random(n, d, density=density, format="csr", random_state=seed, dtype=dtype)


def _targets(X: Any, seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(X.shape[1])
    score = np.asarray(X @ w).ravel()
    return score + 0.1 * rng.standard_normal(X.shape[0]), (score > np.median(score)).astype(int)


FORMATS = ["csr", "csc", "coo", "csr_array", "int64"]


def _as(X: Any, fmt: str) -> Any:
    if fmt == "csr_array":
        return sp.csr_array(X)
    if fmt == "int64":
        Y = X.copy()
        Y.indices = Y.indices.astype(np.int64)
        Y.indptr = Y.indptr.astype(np.int64)
        return Y
    return X.asformat(fmt)


# --- kernels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", FORMATS)
def test_dot_equals_dense(dtype, fmt):
    X = _csr(dtype=dtype)
    rng = np.random.default_rng(1)
    for w in (rng.standard_normal(30), rng.standard_normal((30, 3))):
        got = fastsgd.dot(_as(X, fmt), w, 0.25)
        want = fastsgd.dot(X.toarray(), w, 0.25)
        assert got.dtype == want.dtype == dtype
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", [e.name for e in LOSSES])
def test_every_loss_and_gradient_equal_dense(dtype, loss):
    X = _csr(dtype=dtype)
    Xd = X.toarray()
    entry = LOSSES[loss]
    rng = np.random.default_rng(2)
    k = 3 if entry.target == "class" else 1
    if entry.target == "real":
        tg = _core.Targets(Y=rng.standard_normal((X.shape[0], 1)).astype(dtype))
    else:
        tg = _core.Targets(labels=rng.integers(0, max(k, 2), X.shape[0]).astype(np.int64))
    W = rng.standard_normal((k, X.shape[1]))
    b = rng.standard_normal(k)
    spec = entry.spec(None, k)
    a = _core.loss_grad(as_csr(X), tg, W, b, spec, True)
    d = _core.loss_grad(Xd, tg, W, b, spec, True)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(a[0], d[0], rtol=tol)
    np.testing.assert_allclose(a[2], d[2], rtol=tol, atol=tol)
    np.testing.assert_allclose(a[3], d[3], rtol=tol, atol=tol)


def test_public_loss_kernels_take_sparse():
    X = _csr()
    y, labels = _targets(X)
    w = np.random.default_rng(3).standard_normal(30)
    np.testing.assert_allclose(kernels.mse(X, y, w), kernels.mse(X.toarray(), y, w), rtol=1e-12)
    (l1, g1, b1), (l2, g2, b2) = (
        kernels.mse_grad(X, y, w, 0.5),
        kernels.mse_grad(X.toarray(), y, w, 0.5),
    )
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b1, b2, rtol=1e-12)
    (l1, g1, _), (l2, g2, _) = (
        kernels.loss_grad(Z, labels, w, loss="hinge") for Z in (X, X.toarray())
    )
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-14)


def test_gradient_sums_do_not_depend_on_the_thread_count():
    X = as_csr(_csr(n=3000, d=50))
    tg = _core.Targets(Y=np.random.default_rng(0).standard_normal((3000, 1)))
    W = np.random.default_rng(1).standard_normal((1, 50))
    spec = LOSSES["mse"].spec()
    one = _core.loss_grad(X, tg, W, None, spec, True, None, 1)
    two = _core.loss_grad(X, tg, W, None, spec, True, None, 2)
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[2], two[2])


# --- fit ------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["mse", "logistic", "hinge", "huber", "softmax"])
@pytest.mark.parametrize("batch_size", [1, 7, None])
@pytest.mark.parametrize("extra", [{}, {"average": 5, "penalty": "l2", "alpha": 0.01},
                                   {"momentum": 0.5}, {"update": "adagrad"},
                                   {"update": "normalized", "average": "auto",
                                    "learning_rate": 0.005}])  # fmt: skip
def test_fit_equals_dense(loss, batch_size, extra):
    X = _csr(n=150, d=20, density=0.3)
    y, labels = _targets(X)
    target = y if LOSSES[loss].target == "real" else labels
    opts = {"loss": loss, "learning_rate": 0.05, "batch_size": batch_size, "epochs": 4,
            "fit_intercept": True, "seed": 3, **extra}  # fmt: skip
    a = fastsgd.fit(X, target, **opts)
    b = fastsgd.fit(X.toarray(), target, **opts)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.b, b.b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.loss_history, b.loss_history, rtol=1e-9)


def test_l1_on_sparse_rows_is_lazy_and_equal_to_dense_when_every_column_is_stored():
    # With every column stored (explicit zeros included), each step touches every weight:
    # the sparse and dense steps are the same.
    X = _csr(n=80, d=6, density=0.5)
    dense = X.toarray()
    full = sp.csr_matrix(dense)
    full.data = dense.ravel()  # every position stored, zeros too
    full.indices = np.tile(np.arange(6, dtype=np.int32), 80)
    full.indptr = np.arange(0, 80 * 6 + 1, 6, dtype=np.int32)
    y, _ = _targets(X)
    opts = {
        "learning_rate": 0.05,
        "batch_size": 1,
        "epochs": 3,
        "penalty": "l1",
        "alpha": 0.05,
        "seed": 1,
    }
    a = fastsgd.fit(full, y, **opts)
    b = fastsgd.fit(dense, y, **opts)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-12, atol=1e-14)
    lazy = fastsgd.fit(X, y, **opts)  # untouched columns keep their penalty for later
    assert np.isfinite(lazy.w).all()
    assert (np.sign(lazy.w) * np.sign(b.w) >= 0).mean() > 0.5


@pytest.mark.parametrize("fmt", FORMATS)
def test_other_formats_are_converted_once_and_give_the_same_fit(fmt):
    X = _csr()
    y, _ = _targets(X)
    a = fastsgd.fit(_as(X, fmt), y, learning_rate=0.05, batch_size=4, epochs=2)
    b = fastsgd.fit(X, y, learning_rate=0.05, batch_size=4, epochs=2)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-12, atol=1e-15)


# --- malformed CSR ----------------------------------------------------------------------------


def _raw(data, indices, indptr, shape):
    M = sp.csr_matrix((np.asarray(data, float), np.asarray(indices), np.asarray(indptr)),
                      shape=shape)  # fmt: skip
    return M


def test_unsorted_columns_give_the_sorted_answer():
    X = _csr()
    y, _ = _targets(X)
    shuffled = X.copy()
    for i in range(X.shape[0]):
        s, e = shuffled.indptr[i], shuffled.indptr[i + 1]
        perm = np.random.default_rng(i).permutation(e - s)
        shuffled.indices[s:e] = shuffled.indices[s:e][perm]
        shuffled.data[s:e] = shuffled.data[s:e][perm]
    shuffled.has_sorted_indices = False
    assert not as_csr(shuffled).sorted
    a = fastsgd.fit(shuffled, y, learning_rate=0.05, batch_size=4, epochs=2)
    b = fastsgd.fit(X, y, learning_rate=0.05, batch_size=4, epochs=2)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-12, atol=1e-14)


def test_duplicate_columns_are_summed_like_scipy():
    M = _raw([1.0, 2.0, 3.0, 4.0], [0, 2, 0, 1], [0, 3, 4], (2, 3))  # row 0 holds column 0 twice
    M.has_canonical_format = False
    assert _core.CsrMatrix(M.data, M.indices, M.indptr, 3).duplicates
    w = np.array([1.0, 10.0, 100.0])
    np.testing.assert_allclose(fastsgd.dot(M, w), M.toarray() @ w)
    assert M.data.tolist() == [1.0, 2.0, 3.0, 4.0]  # the caller's matrix is left as it was


@pytest.mark.parametrize(
    ("indices", "indptr", "match"),
    [([0, 5], [0, 1, 2], "out of range"), ([0, -1], [0, 1, 2], "out of range"),
     ([0, 1], [0, 2, 1], "non-decreasing"), ([0, 1], [0, 1, 3], "at most len")],
)  # fmt: skip
def test_invalid_csr_is_a_clear_error(indices, indptr, match):
    data = np.ones(2)
    with pytest.raises(ValueError, match=match):
        _core.CsrMatrix(data, np.asarray(indices, np.int32), np.asarray(indptr, np.int32), 3)
    M = sp.csr_matrix((3, 3))
    M.data, M.indices, M.indptr = data, np.asarray(indices, np.int32), np.asarray(indptr, np.int32)
    M._shape = (2, 3)
    with pytest.raises(ValueError, match="X is not a valid CSR matrix"):
        fastsgd.dot(M, np.ones(3))


def test_empty_rows_explicit_zeros_and_int64_indptr():
    M = _raw([0.0, 2.0, 0.0], [1, 2, 0], [0, 0, 2, 2, 3], (4, 3))  # rows 0 and 2 empty
    M.indices = M.indices.astype(np.int64)
    M.indptr = M.indptr.astype(np.int64)
    w = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(fastsgd.dot(M, w, 1.0), M.toarray() @ w + 1.0)
    y = np.array([0.0, 1.0, 2.0, 3.0])
    a = fastsgd.fit(M, y, learning_rate=0.1, epochs=5, fit_intercept=True)
    b = fastsgd.fit(M.toarray(), y, learning_rate=0.1, epochs=5, fit_intercept=True)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-12, atol=1e-15)


def test_nan_in_values_and_bad_dtypes_are_errors():
    M = _csr()
    M.data[3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        fastsgd.fit(M, np.zeros(M.shape[0]))
    with pytest.raises(TypeError, match="data must be a float32 or float64"):
        _core.CsrMatrix(np.ones(2, np.int64), np.zeros(2, np.int32), np.array([0, 2], np.int32), 1)
    with pytest.raises(TypeError, match="indptr must have the dtype of indices"):
        _core.CsrMatrix(np.ones(2), np.zeros(2, np.int32), np.array([0, 2], np.int64), 1)


# --- estimators --------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["SGDClassifier", "SGDRegressor"])
def test_native_estimators_take_sparse(cls):
    X = _csr(n=300, d=40, density=0.2)
    y, labels = _targets(X)
    target = labels if cls == "SGDClassifier" else y
    # update="auto" is plain SGD on sparse data and the normalized rule on dense data: each
    # rule, named, trains the same model from either
    for update in ("sgd", "normalized"):
        a = getattr(fastsgd, cls)(random_state=0, epochs=5, update=update).fit(X, target)
        b = getattr(fastsgd, cls)(random_state=0, epochs=5, update=update).fit(X.toarray(), target)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a.predict(X), b.predict(X.toarray()), rtol=1e-8, atol=1e-10)
    assert fastsgd.SGDRegressor()._update_for(X) == "sgd"
    assert fastsgd.SGDRegressor()._update_for(X.toarray()) == "normalized"
    a.partial_fit(X[:50], target[:50])
    if cls == "SGDClassifier":
        np.testing.assert_allclose(a.predict_proba(X).sum(axis=1), 1.0)


def test_dropin_equals_sklearn_on_sparse():
    from sklearn import linear_model as sk

    from fastsgd import linear_model as fs

    X = _csr(n=300, d=60, density=0.1)
    y, labels = _targets(X)
    y3 = np.digitize(np.asarray(X @ np.linspace(-1, 1, 60)).ravel(), [-0.2, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est, target in [("SGDClassifier", labels), ("SGDClassifier", y3),
                            ("SGDRegressor", y)]:  # fmt: skip
            for params in ({}, {"penalty": "elasticnet", "average": True},
                           {"loss": "modified_huber" if est == "SGDClassifier" else "huber"}):  # fmt: skip
                a = getattr(sk, est)(random_state=0, max_iter=20, **params).fit(X, target)
                b = getattr(fs, est)(random_state=0, max_iter=20, **params).fit(X, target)
                np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-6, atol=1e-12)
                np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=1e-6, atol=1e-12)
                assert b.n_iter_ == a.n_iter_
                # averaged coefficients: scikit-learn folds the average with BLAS (fused
                # multiply-adds on part of the vector), fastsgd without: the last bit may differ
                np.testing.assert_allclose(b.decision_function(X) if est == "SGDClassifier"
                                           else b.predict(X),
                                           a.decision_function(X) if est == "SGDClassifier"
                                           else a.predict(X), rtol=1e-9, atol=1e-12)  # fmt: skip


def test_wide_sparse_data_is_never_densified():
    # 20,000 rows × 2^20 columns would be 160 GB dense; the fit needs the non-zeros and
    # the model only.
    import tracemalloc

    n, d, nnz_row = 20_000, 1 << 20, 20
    rng = np.random.default_rng(0)
    indices = rng.integers(0, d, n * nnz_row).astype(np.int32)
    indptr = np.arange(0, n * nnz_row + 1, nnz_row, dtype=np.int32)
    X = sp.csr_matrix((rng.standard_normal(n * nnz_row), indices, indptr), shape=(n, d))
    X.sum_duplicates()
    y = (np.asarray(X[:, :1000].sum(axis=1)).ravel() > 0).astype(int)
    tracemalloc.start()
    r = fastsgd.fit(X, y, loss="logistic", learning_rate=0.1, batch_size=32, epochs=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert np.isfinite(r.w).all()
    assert r.w.shape == (d,)
    assert peak < 64 * 2**20  # the data is 4.8 MB, w is 8 MB: nothing of size n × d


def test_the_automatic_rate_of_wide_sparse_data_reads_a_sample_of_its_columns():
    """With 2^20 columns the power iteration runs on a sample of rows with the columns they
    use renumbered: its vectors stay short, and λ_max and the trace are the full data's."""
    from fastsgd._driver import _csr_sample, _curvature

    rng = np.random.default_rng(0)
    n, d = 40_000, 1 << 20
    cols = np.minimum(rng.zipf(1.3, n * 8) - 1, d - 1).reshape(n, 8)
    X = sp.csr_matrix((rng.random(n * 8), cols.ravel(), np.arange(0, n * 8 + 1, 8)), shape=(n, d))
    X.sum_duplicates()
    Xc = fastsgd._validation.as_data(X, "X")
    sample, rows, kept = _csr_sample(Xc, 1 << 13)
    assert sample.shape[0] == rows.size < n
    assert sample.shape[1] == kept.size < d
    np.testing.assert_array_equal(np.unique(sample.indices), np.arange(kept.size))
    full = _curvature(Xc, True, tol=1e-6)
    part = _curvature(sample, True, tol=1e-6)
    assert part[0] == pytest.approx(full[0], rel=0.05)
    assert part[1] == pytest.approx(full[1], rel=0.05)
    # the sample's rows are X's rows, with X's values
    Xs = sp.csr_matrix((sample.data, sample.indices, sample.indptr), shape=sample.shape)
    np.testing.assert_array_equal(Xs.toarray(), X[rows][:, kept].toarray())
