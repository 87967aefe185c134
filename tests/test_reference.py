"""fastsgd.reference, the oracle of the other tests, against textbook NumPy; its permutation
against the core's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fastsgd
from fastsgd import reference as ref
from fastsgd._ext import _core

RNG_SEED = 20


def _problem(k: int | None, bkind: str, dtype: Any = np.float64) -> tuple[Any, ...]:
    rng = np.random.default_rng(RNG_SEED)
    n, d = 13, 4
    X = rng.standard_normal((n, d)).astype(dtype)
    w = rng.standard_normal(d if k is None else (d, k)).astype(dtype)
    y = rng.standard_normal(n if k is None else (n, k)).astype(dtype)
    kk = 1 if k is None else k
    b = {"nob": None, "bscalar": dtype(0.75), "bvec": rng.standard_normal(kk).astype(dtype)}[bkind]
    return X, y, w, b


WB = pytest.mark.parametrize(
    ("k", "bkind"),
    [(None, "nob"), (None, "bscalar"), (3, "nob"), (3, "bscalar"), (3, "bvec"), (1, "bvec")],
    ids=["wvec-nob", "wvec-bscalar", "w3-nob", "w3-bscalar", "w3-bvec", "w1-bvec"],
)


@WB
def test_dot_is_X_at_w_plus_b(k: int | None, bkind: str) -> None:
    X, _, w, b = _problem(k, bkind)
    expected = X @ w if b is None else X @ w + b
    np.testing.assert_allclose(ref.dot(X, w, b), expected, rtol=1e-15, atol=1e-15)


@WB
def test_mse_is_the_mean_of_squared_residuals(k: int | None, bkind: str) -> None:
    X, y, w, b = _problem(k, bkind)
    z = X @ w + (0.0 if b is None else b)
    expected = sum(float(e) ** 2 for e in (z - y).ravel()) / y.size
    assert ref.mse(X, y, w, b) == pytest.approx(expected, rel=1e-14)


@WB
def test_mse_grad_is_the_textbook_gradient(k: int | None, bkind: str) -> None:
    X, y, w, b = _problem(k, bkind)
    n, d = X.shape
    W = w.reshape(d, -1)
    Y = y.reshape(n, -1)
    B = np.zeros(W.shape[1]) if b is None else np.broadcast_to(b, (W.shape[1],))
    # loss = 1/m Σ_ic (Σ_j X_ij W_jc + B_c − Y_ic)², m = n·k; its derivatives by the chain rule
    m = Y.size
    gW = np.zeros_like(W)
    gB = np.zeros(W.shape[1])
    loss = 0.0
    for i in range(n):
        for c in range(W.shape[1]):
            r = sum(X[i, j] * W[j, c] for j in range(d)) + B[c] - Y[i, c]
            loss += r * r / m
            gB[c] += 2 * r / m
            for j in range(d):
                gW[j, c] += 2 * r * X[i, j] / m
    rloss, rgw, rgb = ref.mse_grad(X, y, w, b)
    assert rloss == pytest.approx(loss, rel=1e-13)
    assert rgw.shape == w.shape
    np.testing.assert_allclose(rgw, gW.reshape(w.shape), rtol=1e-12, atol=1e-14)
    if b is None:
        assert rgb is None
    elif np.ndim(b) == 0:
        assert np.shape(rgb) == ()
        assert float(rgb) == pytest.approx(gB.sum(), rel=1e-12)
    else:
        assert np.shape(rgb) == np.shape(b)
        np.testing.assert_allclose(rgb, gB, rtol=1e-12, atol=1e-14)


def test_mse_grad_grad_b_has_b_shape_for_a_vector_w() -> None:
    X, y, w, _ = _problem(None, "nob")
    b = np.array([0.5])
    _, _, gb = ref.mse_grad(X, y, w, b)
    assert np.shape(gb) == (1,)


def test_fastsgd_grad_b_has_b_shape_for_a_vector_w() -> None:
    X, y, w, _ = _problem(None, "nob")
    _, _, gb = fastsgd.mse_grad(X, y, w, np.array([0.5]))
    assert np.shape(gb) == (1,)


def test_reference_keeps_float32(dtype: Any) -> None:
    X, y, w, b = _problem(3, "bvec", dtype.type)
    assert ref.dot(X, w, b).dtype == dtype
    loss, gw, gb = ref.mse_grad(X, y, w, b)
    assert type(loss) is float
    assert gw.dtype == dtype
    assert gb.dtype == dtype
    _, _, gs = ref.mse_grad(X, y, w, dtype.type(0.5))
    assert isinstance(gs, dtype.type)


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        pytest.param(
            lambda f: f.mse(np.ones((4, 3)), np.ones(4), np.ones(2)), ValueError, id="w-vs-X"
        ),
        pytest.param(
            lambda f: f.mse(np.ones((4, 3)), np.ones(5), np.ones(3)), ValueError, id="y-shape"
        ),
        pytest.param(
            lambda f: f.mse(np.ones((0, 3)), np.ones(0), np.ones(3)), ValueError, id="empty-X"
        ),
        pytest.param(
            lambda f: f.dot(np.ones((4, 3)), np.ones(3), np.ones(2)), ValueError, id="b-shape"
        ),
        pytest.param(
            lambda f: f.dot(np.ones((4, 3), complex), np.ones(3)), TypeError, id="complex-X"
        ),
    ],
)
def test_reference_rejects_bad_input_like_fastsgd(call: Any, exc: type[Exception]) -> None:
    """The oracle has its own checks (it shares no code with fastsgd): the same input is
    refused by both, with the same kind of exception."""
    with pytest.raises(exc):
        call(fastsgd)
    with pytest.raises(exc):
        call(ref)


def test_reference_loads_without_fastsgd(tmp_path: Any) -> None:
    """reference.py imports only the standard library and NumPy: loaded by path in a process
    where importing fastsgd fails, it still computes."""
    import subprocess
    import sys

    code = (
        "import importlib.util, sys\n"
        "sys.modules['fastsgd'] = None  # importing fastsgd (or its extension) now fails\n"
        f"spec = importlib.util.spec_from_file_location('reference', {ref.__file__!r})\n"
        "reference = importlib.util.module_from_spec(spec)\n"
        "sys.modules['reference'] = reference\n"
        "spec.loader.exec_module(reference)\n"
        "import numpy as np\n"
        "X = np.array([[0.5, 1.0], [-1.0, 1.0]])\n"
        "print(reference.mse(X, [3.5, -2.0], [3.0, 2.0]))\n"
        "r = reference.fit(X, [3.5, -2.0], learning_rate=0.1, epochs=3, shuffle=False)\n"
        "print(r.n_steps)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0.5", "3"]


def test_reference_imports_only_the_standard_library_and_numpy() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(ref.__file__).read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    import sys

    assert modules - set(sys.stdlib_module_names) == {"numpy"}, modules


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
def test_reference_sgd_step_is_torch_rule(nesterov: bool) -> None:
    mu, lr, wd = 0.9, 0.1, 0.01
    w, v = np.array([1.0, -2.0]), np.zeros(2)
    grads = [np.array([0.5, 0.25]), np.array([-1.0, 2.0]), np.array([0.0, 1.0])]
    theta, buf = w.copy(), np.zeros(2)
    for g in grads:
        ref.sgd_step(w, g, lr, momentum=mu, nesterov=nesterov, weight_decay=wd, velocity=v)
        gg = g + wd * theta
        buf = mu * buf + gg
        theta = theta - lr * (gg + mu * buf if nesterov else buf)
    np.testing.assert_allclose(w, theta, rtol=1e-15)
    np.testing.assert_allclose(v, buf, rtol=1e-15)


# --- permutation --------------------------------------------------------------------------

PERM_NS = [
    2,
    3,
    4,
    5,
    7,
    8,
    9,
    15,
    16,
    17,
    31,
    32,
    33,
    100,
    127,
    128,
    129,
    1000,
    1023,
    1024,
    1025,
    65537,
]
SEEDS = [0, 1, 7, 12345, 2**32 + 5, 2**64 - 1]


@pytest.mark.parametrize("n", PERM_NS)
def test_permutation_equals_the_core(n: int) -> None:
    for seed in SEEDS:
        for epoch in (0, 1, 2, 99, 2**40):
            p = ref.permutation(n, seed, epoch)
            q = _core.permutation(n, seed, epoch)
            assert p.dtype == np.int64
            assert q.dtype == np.int64
            np.testing.assert_array_equal(p, q, err_msg=f"n={n} seed={seed} epoch={epoch}")


@pytest.mark.parametrize("n", [*PERM_NS, 1_000_003])
def test_permutation_is_a_permutation(n: int) -> None:
    p = ref.permutation(n, 3, 1)
    assert p.shape == (n,)
    np.testing.assert_array_equal(np.sort(p), np.arange(n))
    q = _core.permutation(n, 3, 1)
    np.testing.assert_array_equal(np.sort(q), np.arange(n))


def test_permutation_changes_with_epoch_and_seed() -> None:
    n = 1000
    base = ref.permutation(n, 0, 0)
    others = [ref.permutation(n, 0, e) for e in range(1, 6)]
    others += [ref.permutation(n, s, 0) for s in range(1, 6)]
    for other in others:
        assert not np.array_equal(base, other)
        # not just a rotation or a small change: most positions move
        assert np.mean(base == other) < 0.05
    # and the order itself is shuffled: not close to the identity or its reverse
    assert abs(np.corrcoef(base, np.arange(n))[0, 1]) < 0.2


def test_permutation_is_reproducible() -> None:
    np.testing.assert_array_equal(ref.permutation(500, 42, 3), ref.permutation(500, 42, 3))
    np.testing.assert_array_equal(_core.permutation(500, 42, 3), _core.permutation(500, 42, 3))


def test_permutation_of_zero_and_one_rows() -> None:
    for f in (ref.permutation, _core.permutation):
        empty = f(0, 5, 0)
        assert empty.shape == (0,)
        assert empty.dtype == np.int64
        for seed in (0, 9):
            for epoch in (0, 3):
                np.testing.assert_array_equal(f(1, seed, epoch), [0])


def test_permutation_of_two_rows_takes_both_orders() -> None:
    orders = {tuple(ref.permutation(2, s, 0)) for s in range(32)}
    assert orders == {(0, 1), (1, 0)}
