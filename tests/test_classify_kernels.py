"""The classification kernels (softmax, log_softmax, softmax cross-entropy, logistic loss)
against their NumPy twins in fastsgd.reference, finite differences, and bad input."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastsgd
from fastsgd import _core, reference

# (n, d, k): a single row, two classes, more classes than features, many rows
CASES = [(1, 1, 2), (7, 3, 2), (50, 5, 3), (300, 17, 10), (1001, 4, 7)]
CASE_IDS = [f"n{n}-d{d}-k{k}" for n, d, k in CASES]


def tol(dtype):
    """Relative tolerance of the kernel (float64 sums) against the reference (X's dtype)."""
    return 2e-5 if np.dtype(dtype) == np.float32 else 1e-10


def problem(n, d, k, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    W = (scale * rng.standard_normal((d, k))).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    y = rng.integers(0, k, size=n)
    return X, y, W, b


def extreme_problem(n, k, dtype, seed=0):
    """Scores that are whole numbers up to ±2·10⁴ (exact in float32 and float64), so the
    kernel and the reference see the same scores and only the softmax's rounding differs."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-1, 2, size=(n, 2)).astype(dtype)
    W = rng.integers(-10_000, 10_001, size=(2, k)).astype(dtype)
    W[:, 0] = [10_000, -10_000]  # some rows have a class at exactly ±2e4
    y = rng.integers(0, k, size=n)
    return X, y, W


def assert_grad_close(got, want, X, dtype):
    assert got.shape == want.shape
    assert got.dtype == np.dtype(dtype)
    scale = max(1.0, float(np.abs(X).max()))
    np.testing.assert_allclose(got, want, rtol=tol(dtype), atol=tol(dtype) * scale)


# --- softmax ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(1, 1), (1, 2), (5, 3), (400, 10), (33, 257)])
def test_softmax_matches_reference_and_rows_sum_to_one(dtype, n, k):
    rng = np.random.default_rng(n * k)
    Z = (3 * rng.standard_normal((n, k))).astype(dtype)
    P = fastsgd.softmax(Z)
    assert P.shape == Z.shape
    assert P.dtype == Z.dtype
    assert P.flags.c_contiguous
    np.testing.assert_allclose(P, reference.softmax(Z), rtol=tol(dtype) * 10, atol=1e-7)
    np.testing.assert_allclose(P.sum(axis=1, dtype=np.float64), 1.0, rtol=0, atol=k * tol(dtype))
    assert (P >= 0).all()
    np.testing.assert_array_equal(np.argmax(P, axis=1), np.argmax(Z, axis=1))


def test_softmax_layouts_are_read_in_place_or_converted(dtype, layout, arrange):
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((40, 6)).astype(dtype)
    got = fastsgd.softmax(arrange(Z, layout))
    np.testing.assert_array_equal(got, fastsgd.softmax(Z))
    assert np.isfinite(got).all()  # never read the NaN padding around a view
    # reversed rows (a negative row stride) give the reversed result
    np.testing.assert_array_equal(fastsgd.softmax(Z[::-1]), fastsgd.softmax(Z)[::-1])


def test_softmax_of_extreme_scores(dtype):
    Z = np.array(
        [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [3e4, 0.0, -3e4]], dtype=dtype
    )
    P = fastsgd.softmax(Z)
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(P, [[1, 0, 0], [1 / 3] * 3, [0.5, 0.5, 0], [1, 0, 0]], atol=1e-7)
    np.testing.assert_allclose(P, reference.softmax(Z), atol=1e-7)
    L = fastsgd.log_softmax(Z)
    assert np.isfinite(L).all()
    np.testing.assert_allclose(L[0], [0.0, -2e4, -1e4], rtol=1e-6)
    np.testing.assert_allclose(L, reference.log_softmax(Z), rtol=1e-6, atol=1e-6)


def test_softmax_is_shift_invariant_and_1d_input_works():
    z = np.array([0.5, -1.0, 2.0, 0.0])
    p = fastsgd.softmax(z)
    assert p.shape == (4,)
    e = np.exp(z)
    np.testing.assert_allclose(p, e / e.sum(), rtol=1e-15)
    np.testing.assert_allclose(fastsgd.softmax(z + 1000.0), p, rtol=1e-12)
    np.testing.assert_allclose(fastsgd.log_softmax(z), np.log(p), rtol=1e-14)
    assert fastsgd.softmax([1, 2, 3]).dtype == np.float64  # integer scores become float64
    np.testing.assert_array_equal(fastsgd.softmax(np.zeros((0, 3))), np.zeros((0, 3)))


def test_log_softmax_matches_reference(dtype):
    rng = np.random.default_rng(2)
    Z = (10 * rng.standard_normal((60, 5))).astype(dtype)
    L = fastsgd.log_softmax(Z)
    assert L.dtype == Z.dtype
    np.testing.assert_allclose(L, reference.log_softmax(Z), rtol=tol(dtype) * 10, atol=1e-5)
    np.testing.assert_allclose(np.exp(L.astype(np.float64)), fastsgd.softmax(Z), atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
        elements=st.floats(-1e4, 1e4),
    )
)
def test_softmax_properties(Z):
    P = fastsgd.softmax(Z)
    assert np.isfinite(P).all()
    assert ((P >= 0) & (P <= 1)).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(P, reference.softmax(Z), rtol=1e-12, atol=1e-300)
    # the largest score gets the largest probability
    rows = np.arange(Z.shape[0])
    assert (P[rows, np.argmax(Z, axis=1)] == P.max(axis=1)).all()


# --- softmax cross-entropy ------------------------------------------------------------------


@pytest.mark.parametrize(("n", "d", "k"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("with_b", [False, True], ids=["no-b", "b"])
def test_softmax_xent_matches_reference(dtype, n, d, k, with_b):
    X, y, W, b = problem(n, d, k, dtype, seed=n + d + k)
    b = b if with_b else None
    loss, gW, gb = fastsgd.softmax_xent_grad(X, y, W, b)
    rloss, rgW, rgb = reference.softmax_xent_grad(X, y, W, b)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, rloss, rtol=tol(dtype))
    assert fastsgd.softmax_xent(X, y, W, b) == loss
    np.testing.assert_allclose(reference.softmax_xent(X, y, W, b), rloss, rtol=tol(dtype))
    assert_grad_close(gW, rgW, X, dtype)
    assert gW.shape == W.shape
    if with_b:
        assert_grad_close(gb, rgb, X, dtype)
        assert gb.shape == (k,)
    else:
        assert gb is None
        assert rgb is None


def _softmax_xent_grad64(X, y, W, b):
    """The loss and gradients in float64 from X's own values (the kernel sums in float64,
    so this is the oracle its rounding is measured against)."""
    X64, W64 = X.astype(np.float64), W.astype(np.float64)
    Z = X64 @ W64 + (0.0 if b is None else b.astype(np.float64))
    Z -= Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    s = E.sum(axis=1)
    rows = np.arange(X.shape[0])
    loss = float(np.mean(np.log(s) - Z[rows, y]))
    R = E / s[:, None]
    R[rows, y] -= 1.0
    return loss, X64.T @ R / X.shape[0], R.sum(axis=0) / X.shape[0]


# The fused kernel's blocks: d = 100 ends in a part of a vector, k = 2, 3, 10, 11 take
# tiles of two classes and one class alone, 1003 rows are many float32 gradient flushes
# (every 64 rows) and a tail of rows that fill no block of 8.
@pytest.mark.parametrize("k", [2, 3, 10, 11])
@pytest.mark.parametrize("d", [5, 37, 100])
def test_softmax_xent_blocks_match_float64(dtype, d, k):
    X, y, W, b = problem(1003, d, k, dtype, seed=d * k, scale=0.3)
    if dtype == np.float32:  # the kernel multiplies float32 rows by W rounded to float32
        W = W.astype(np.float32)
    loss, gW, gb = fastsgd.softmax_xent_grad(X, y, W, b)
    rloss, rgW, rgb = _softmax_xent_grad64(X, y, W, b)
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, rloss, rtol=rtol)
    np.testing.assert_allclose(gW, rgW, rtol=rtol * 10, atol=rtol * np.abs(rgW).max())
    np.testing.assert_allclose(gb, rgb, rtol=rtol * 10, atol=rtol * np.abs(rgb).max())


def test_softmax_xent_scores_far_apart(dtype):
    """Scores hundreds apart within a row: the exponentials of most classes underflow (to 0
    in float32 lanes below e^-86.5, in float64 far below), and the loss and gradient still
    match the float64 oracle."""
    X, y, W, b = problem(517, 20, 10, dtype, seed=5, scale=30.0)
    loss, gW, gb = fastsgd.softmax_xent_grad(X, y, W, b)
    rloss, rgW, rgb = _softmax_xent_grad64(X, y, W.astype(X.dtype), b)
    assert rloss > 10.0  # many rows are wrong by a wide margin
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, rloss, rtol=rtol)
    np.testing.assert_allclose(gW, rgW, rtol=rtol * 10, atol=rtol * np.abs(rgW).max())
    np.testing.assert_allclose(gb, rgb, rtol=rtol * 10, atol=rtol * np.abs(rgb).max())


def test_softmax_xent_layouts(dtype, layout, arrange):
    X, y, W, b = problem(64, 5, 4, dtype, seed=3)
    want = fastsgd.softmax_xent_grad(X, y, W, b)
    y_strided = np.repeat(y, 2)[::2]  # labels with a stride of two elements
    got = fastsgd.softmax_xent_grad(arrange(X, layout), y_strided, W, b)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    # and the same numbers from a Fortran-ordered W
    got_f = fastsgd.softmax_xent_grad(X, y, np.asfortranarray(W), b)
    np.testing.assert_array_equal(got_f[1], want[1])


@pytest.mark.parametrize("with_b", [False, True], ids=["no-b", "b"])
def test_softmax_xent_extreme_scores(dtype, with_b):
    X, y, W = extreme_problem(200, 5, dtype)
    b = np.array([0.0, 1e4, -1e4, 0.5, 0.0], dtype=dtype) if with_b else None
    loss, gW, gb = fastsgd.softmax_xent_grad(X, y, W, b)
    rloss, rgW, rgb = reference.softmax_xent_grad(X, y, W, b)
    assert np.isfinite(loss)
    assert loss > 1e3  # many rows put their label's score far below the best one
    np.testing.assert_allclose(loss, rloss, rtol=1e-6)
    assert np.isfinite(gW).all()
    np.testing.assert_allclose(gW, rgW, atol=1e-6)
    if with_b:
        np.testing.assert_allclose(gb, rgb, atol=1e-6)
    Z = fastsgd.dot(X, W, b)
    P = fastsgd.softmax(Z)
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(np.argmax(P, axis=1), np.argmax(Z, axis=1))


def test_softmax_xent_is_mean_of_minus_log_softmax():
    X, y, W, b = problem(40, 3, 4, np.float64, seed=4)
    logp = fastsgd.log_softmax(fastsgd.dot(X, W, b))
    want = -np.mean(logp[np.arange(40), y])
    np.testing.assert_allclose(fastsgd.softmax_xent(X, y, W, b), want, rtol=1e-13)
    # zero weights: every class equally likely, loss log k
    np.testing.assert_allclose(fastsgd.softmax_xent(X, y, np.zeros((3, 4))), np.log(4), rtol=1e-15)


def central_differences(f, p, eps=1e-6):
    g = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        old = p[idx]
        p[idx] = old + eps
        up = f()
        p[idx] = old - eps
        down = f()
        p[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize(("n", "d", "k"), [(1, 1, 2), (20, 3, 4), (50, 6, 3)])
def test_softmax_xent_grad_matches_finite_differences(n, d, k):
    X, y, W, b = problem(n, d, k, np.float64, seed=5, scale=2.0)
    _, gW, gb = fastsgd.softmax_xent_grad(X, y, W, b)
    fdW = central_differences(lambda: fastsgd.softmax_xent(X, y, W, b), W)
    fdb = central_differences(lambda: fastsgd.softmax_xent(X, y, W, b), b)
    np.testing.assert_allclose(gW, fdW, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, fdb, rtol=1e-6, atol=1e-8)
    assert np.abs(gW).max() > 1e-3  # a real gradient, not one that vanishes


# --- logistic loss ---------------------------------------------------------------------------


def logistic_problem(n, d, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    w = (scale * rng.standard_normal(d)).astype(dtype)
    y = rng.integers(0, 2, size=n)
    return X, y, w


@pytest.mark.parametrize(("n", "d"), [(1, 1), (7, 3), (300, 17), (1001, 4)])
@pytest.mark.parametrize("b", [None, 0.75, np.array([-0.5])], ids=["no-b", "scalar-b", "vector-b"])
def test_logistic_xent_matches_reference(dtype, n, d, b):
    X, y, w = logistic_problem(n, d, dtype, seed=n + d)
    b = None if b is None else np.asarray(b, dtype=dtype)
    loss, gw, gb = fastsgd.logistic_xent_grad(X, y, w, b)
    rloss, rgw, rgb = reference.logistic_xent_grad(X, y, w, b)
    np.testing.assert_allclose(loss, rloss, rtol=tol(dtype))
    assert fastsgd.logistic_xent(X, y, w, b) == loss
    np.testing.assert_allclose(reference.logistic_xent(X, y, w, b), rloss, rtol=tol(dtype))
    assert_grad_close(gw, rgw, X, dtype)
    if b is None:
        assert gb is None
    else:
        assert np.shape(gb) == np.shape(b)
        np.testing.assert_allclose(gb, rgb, rtol=tol(dtype), atol=tol(dtype))


# d = 1, 2, 4: several rows to a vector; 5 and 100: blocks of 8 rows. Scores up to about ±60
# (weights scaled), both signs, where e^-|z| is tiny and log1p(e^-|z|) needs its correction.
@pytest.mark.parametrize("d", [1, 2, 4, 5, 100])
@pytest.mark.parametrize("scale", [0.3, 10.0])
def test_logistic_xent_paths_match_float64(dtype, d, scale):
    rng = np.random.default_rng(d)
    n = 1037
    X = rng.standard_normal((n, d)).astype(dtype)
    w = (scale * rng.standard_normal(d) / np.sqrt(d)).astype(dtype)
    y = rng.integers(0, 2, size=n)
    loss, gw, gb = fastsgd.logistic_xent_grad(X, y, w, 0.25)
    s = X.astype(np.float64) @ w.astype(np.float64) + 0.25
    want_loss = np.mean(np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s))) - y * s)
    r = np.where(s >= 0, 1 / (1 + np.exp(-s)), np.exp(s) / (1 + np.exp(s))) - y
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, want_loss, rtol=rtol)
    want_gw = X.astype(np.float64).T @ r / n
    np.testing.assert_allclose(gw, want_gw, rtol=rtol * 10, atol=rtol * np.abs(want_gw).max())
    np.testing.assert_allclose(gb, r.mean(), rtol=rtol * 10, atol=rtol * np.abs(r).mean())


@pytest.mark.parametrize("d", [1, 2, 4])
def test_logistic_float32_few_features_every_isa(d):
    # float32 rows of 1, 2 or 4 features: several rows a vector, the rows' features taken
    # apart in an order of their own; the labels, the same 0/1 as real targets, and a
    # strided copy of X must give the same bits, close to float64 NumPy, on every
    # instruction set this CPU runs
    rng = np.random.default_rng(d)
    n = 1037
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, 2, n)
    W = rng.standard_normal((1, d)) / np.sqrt(d)
    b = np.array([0.25])
    spec = _core.LossSpec("logistic", [])
    s = X.astype(np.float64) @ W[0] + 0.25
    r = np.where(s >= 0, 1 / (1 + np.exp(-s)), np.exp(s) / (1 + np.exp(s))) - y
    want = np.concatenate(
        [[np.sum(np.maximum(s, 0) + np.log1p(np.exp(-np.abs(s))) - y * s), r.sum()], X.T @ r]
    )
    strided = np.repeat(X, 3, axis=0)[::3]
    before = _core.active_isa()
    ran = []
    try:
        for isa in _core.build_info()["isas_compiled"]:
            if not _core.set_isa(isa):
                continue
            ran.append(isa)
            got = []
            for Xv, tg in [
                (X, _core.Targets(labels=y)),
                (X, _core.Targets(Y=y.astype(np.float32).reshape(-1, 1))),
                (strided, _core.Targets(labels=y)),
            ]:
                loss, _, gW, gb = _core.loss_grad(Xv, tg, W, b, spec, True, None, 1)
                got.append(np.concatenate([[loss], np.ravel(gb), np.ravel(gW)]))
            np.testing.assert_array_equal(got[1], got[0])
            np.testing.assert_array_equal(got[2], got[0])
            np.testing.assert_allclose(got[0], want, rtol=2e-6, atol=2e-6 * np.abs(want).max())
    finally:
        assert _core.set_isa(before)
    assert before in ran


def test_logistic_xent_layouts(dtype, layout, arrange):
    X, y, w = logistic_problem(50, 4, dtype, seed=6)
    want = fastsgd.logistic_xent_grad(X, y, w, 0.25)
    y_strided = np.repeat(y, 3)[::3]
    got = fastsgd.logistic_xent_grad(arrange(X, layout), y_strided, arrange(w, layout), 0.25)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    assert got[2] == want[2]


def test_logistic_xent_extreme_scores(dtype):
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]], dtype=dtype)
    y = np.array([1, 0, 0, 1])
    w = np.array([1e4], dtype=dtype)
    loss, gw, gb = fastsgd.logistic_xent_grad(X, y, w, 0.0)
    # scores ±1e4: two rows right with certainty (loss 0), two wrong by 1e4 each
    np.testing.assert_allclose(loss, 0.5e4, rtol=1e-12)
    # σ(s) − y is 0, 0, 1, −1 for the rows; Σ (σ − y) x / n = (1 + 1) / 4
    np.testing.assert_allclose(gw, [0.5], rtol=1e-12)
    assert gb == 0.0
    np.testing.assert_allclose(loss, reference.logistic_xent(X, y, w, 0.0), rtol=1e-7)
    np.testing.assert_allclose(gw, reference.logistic_xent_grad(X, y, w, 0.0)[1], atol=1e-7)


def test_logistic_is_softmax_with_scores_zero_and_s():
    X, y, w = logistic_problem(80, 3, np.float64, seed=7)
    W2 = np.stack([np.zeros(3), w], axis=1)  # class 0 scores 0, class 1 scores x·w
    np.testing.assert_allclose(
        fastsgd.logistic_xent(X, y, w), fastsgd.softmax_xent(X, y, W2), rtol=1e-13
    )
    _, gw, _ = fastsgd.logistic_xent_grad(X, y, w)
    _, gW2, _ = fastsgd.softmax_xent_grad(X, y, W2)
    np.testing.assert_allclose(gw, gW2[:, 1], rtol=1e-12, atol=1e-15)


def test_logistic_xent_grad_matches_finite_differences():
    X, y, w = logistic_problem(30, 4, np.float64, seed=8, scale=2.0)
    b = np.array([0.3])
    _, gw, gb = fastsgd.logistic_xent_grad(X, y, w, b)
    fdw = central_differences(lambda: fastsgd.logistic_xent(X, y, w, b), w)
    fdb = central_differences(lambda: fastsgd.logistic_xent(X, y, w, b), b)
    np.testing.assert_allclose(gw, fdw, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, fdb, rtol=1e-6, atol=1e-8)
    assert np.abs(gw).max() > 1e-3


# --- threads and memory ------------------------------------------------------------------------


def test_same_bits_for_one_and_two_threads(restore_threads):
    # several row chunks (about 2^18 elements of X each), so both threads get work
    X, y, W, b = problem(60_000, 20, 10, np.float32, seed=9)
    Z = np.random.default_rng(10).standard_normal((60_000, 10)) * 30
    results = []
    for threads in (1, 2):
        fastsgd.set_num_threads(threads)
        assert fastsgd.get_num_threads() == threads
        results.append(
            (
                fastsgd.softmax_xent_grad(X, y, W, b),
                fastsgd.logistic_xent_grad(X, y % 2, W[:, 0], b[0]),
                fastsgd.softmax(Z),
                fastsgd.log_softmax(Z),
            )
        )
    (s1, l1, p1, lp1), (s2, l2, p2, lp2) = results
    assert s1[0] == s2[0]
    assert l1[0] == l2[0]
    for a, c in [(s1[1], s2[1]), (s1[2], s2[2]), (l1[1], l2[1]), (p1, p2), (lp1, lp2)]:
        np.testing.assert_array_equal(a, c)
    assert l1[2] == l2[2]


def test_no_copy_of_x():
    X, y, W, b = problem(100_000, 20, 3, np.float32, seed=11)  # X is 8 MB
    fastsgd.softmax_xent_grad(X[:10], y[:10], W, b)  # warm up
    tracemalloc.start()
    try:
        fastsgd.softmax_xent_grad(X, y, W, b)
        fastsgd.logistic_xent_grad(X, y % 2, W[:, 0])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the int64 labels (0.8 MB) may be converted; X (8 MB) must not be
    assert peak < X.nbytes / 4


# --- bad input -------------------------------------------------------------------------------


def test_labels_must_be_integers():
    X, y, W, b = problem(10, 3, 4, np.float64)
    for bad in (y.astype(np.float64), y.astype(bool), [0.0, 1.0] * 5, y.astype(complex)):
        with pytest.raises(TypeError, match="y"):
            fastsgd.softmax_xent(X, bad, W, b)
        with pytest.raises(TypeError, match="y"):
            reference.softmax_xent_grad(X, bad, W, b)
    for bad in ((y % 2).astype(np.float32), (y % 2).astype(bool), ["0", "1"] * 5):
        with pytest.raises(TypeError, match="y"):
            fastsgd.logistic_xent_grad(X, bad, W[:, 0])
    # any integer dtype is fine
    for dt in (np.int8, np.uint16, np.int32, np.uint64):
        assert fastsgd.softmax_xent(X, y.astype(dt), W) == fastsgd.softmax_xent(X, y, W)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.array([-1, 0, 1, 2, 3, 0, 1, 2, 3, 0]), r"y must hold class indices in \[0, 4\)"),
        (
            np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 0]),
            r"y must hold class indices in \[0, 4\).*0\.\.4",
        ),
        (np.zeros(9, dtype=int), r"y must have shape \(10,\)"),
        (np.zeros((10, 1), dtype=int), r"y must have shape \(10,\)"),
    ],
)
def test_bad_softmax_labels(bad, match):
    X, _, W, _ = problem(10, 3, 4, np.float64)
    with pytest.raises(ValueError, match=match):
        fastsgd.softmax_xent_grad(X, bad, W)
    with pytest.raises(ValueError, match="y"):  # the oracle refuses it too, in its own words
        reference.softmax_xent_grad(X, bad, W)


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint64])
def test_labels_checked_to_the_class_count(dtype):
    # k = 3, not a power of two: the or of the labels 1 and 2 is 3, so the check must take
    # their minimum and maximum: 0..2 accepted, 3 refused
    X, _, W, _ = problem(6, 3, 3, np.float64)
    good = np.array([0, 1, 2, 2, 1, 0], dtype=dtype)
    want = reference.softmax_xent_grad(X, good, W)[0]
    assert fastsgd.softmax_xent_grad(X, good, W)[0] == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match=r"in \[0, 3\), found values 0\.\.3"):
        fastsgd.softmax_xent_grad(X, np.array([0, 1, 3, 2, 1, 0], dtype=dtype), W)


def test_bad_logistic_labels():
    X, _, w = logistic_problem(6, 2, np.float64)
    for bad in ([0, 1, 2, 0, 1, 0], [0, 1, -1, 0, 1, 0]):
        with pytest.raises(ValueError, match=r"y must hold labels 0 or 1"):
            fastsgd.logistic_xent(X, np.array(bad), w)
        with pytest.raises(ValueError, match="y"):
            reference.logistic_xent(X, np.array(bad), w)


def test_bad_weights_and_intercepts():
    X, y, W, b = problem(10, 3, 4, np.float64)
    with pytest.raises(ValueError, match="W must be 2-d"):
        fastsgd.softmax_xent(X, y, W[:, 0])
    with pytest.raises(ValueError, match="k >= 2"):
        fastsgd.softmax_xent_grad(X, np.zeros(10, dtype=int), W[:, :1])
    with pytest.raises(ValueError, match=r"W has shape \(2, 4\) but X has shape \(10, 3\)"):
        fastsgd.softmax_xent(X, y, W[:2])
    with pytest.raises(ValueError, match=r"b must be None or have shape \(4,\)"):
        fastsgd.softmax_xent(X, y, W, b[:3])
    with pytest.raises(ValueError, match=r"b must be None or have shape \(4,\)"):
        fastsgd.softmax_xent(X, y, W, 0.5)  # a shared intercept cancels in the softmax
    with pytest.raises(ValueError, match="w must have shape"):
        fastsgd.logistic_xent(X, y % 2, W)
    with pytest.raises(ValueError, match="b must be a scalar"):
        fastsgd.logistic_xent(X, y % 2, W[:, 0], b)
    with pytest.raises(TypeError, match="W"):
        fastsgd.softmax_xent(X, y, "weights")


def test_bad_data():
    X, y, W, _ = problem(10, 3, 4, np.float64)
    with pytest.raises(TypeError, match="X"):
        fastsgd.softmax_xent(X.astype(complex), y, W)
    with pytest.raises(ValueError, match="X must be 2-d"):
        fastsgd.softmax_xent(X[:, 0], y, W)
    with pytest.raises(ValueError, match="X has no rows"):
        fastsgd.softmax_xent_grad(X[:0], y[:0], W)
    with pytest.raises(ValueError, match="X has no rows"):
        fastsgd.logistic_xent(X[:0], y[:0], W[:, 0])
    with pytest.raises(ValueError, match="Z must be 1-d"):
        fastsgd.softmax(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="at least one score"):
        fastsgd.softmax(np.zeros((3, 0)))
    with pytest.raises(TypeError, match="Z"):
        fastsgd.log_softmax(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="Z"):
        fastsgd._core.softmax(np.zeros((2, 2), dtype=np.int64))


# --- the curvature bound of cross-entropy on a real problem -------------------------------------


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1e-12)
    return X, y


@pytest.mark.parametrize("loss", ["softmax", "logistic"])
def test_full_batch_just_below_the_bound_descends(digits, loss):
    X, y = digits
    y = y if loss == "softmax" else (y % 2)  # logistic: odd or even digit
    bound = fastsgd.suggest_learning_rate(X, loss, fit_intercept=True)
    assert bound > 0
    r = fastsgd.fit(
        X, y, loss=loss, learning_rate=0.95 * bound, batch_size=None, epochs=40,
        shuffle=False, fit_intercept=True,
    )  # fmt: skip
    h = r.loss_history
    assert np.isfinite(h).all()
    # below 2/L every gradient step lowers the loss (the descent lemma)
    assert (np.diff(h) <= 1e-12 * h[:-1]).all()
    assert h[-1] < 0.5 * h[0]
