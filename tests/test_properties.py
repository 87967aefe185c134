"""Property-based tests: shapes, dtypes, memory layouts and values drawn by hypothesis.

Derandomized (the same examples on every run) with a bounded number of examples, so they are
fast and reproducible; the float64 reference on the same numbers is the oracle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from conftest import LAYOUTS, with_layout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastsgd
from fastsgd import reference as ref

SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Values: moderate magnitudes with some exact zeros and tiny numbers; no overflow in squares.
VALUES = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([0.0, 1.0, -1.0, 1e-20]),
)


@st.composite
def problems(draw: Any) -> dict[str, Any]:
    """X (n, d) in some dtype and layout; y, w, b to match; k None means a vector w."""
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 9))
    k = draw(st.one_of(st.none(), st.integers(1, 4)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    layout = draw(st.sampled_from(LAYOUTS))
    kk = 1 if k is None else k

    def arr(shape: Any) -> np.ndarray[Any, Any]:
        return draw(hnp.arrays(np.float64, shape, elements=VALUES)).astype(dtype)

    X = with_layout(arr((n, d)), layout)
    w = arr(d if k is None else (d, k))
    y = with_layout(arr(n if k is None else (n, k)), layout)
    bkind = draw(st.sampled_from(["none", "scalar", "vector"]))
    b: Any = None
    if bkind == "scalar":
        b = dtype(draw(VALUES))
    elif bkind == "vector":
        b = arr((kk,))
    return {"X": X, "y": y, "w": w, "b": b, "dtype": np.dtype(dtype), "k": k}


def _up(a: Any) -> Any:
    if a is None:
        return None
    return np.float64(a) if np.ndim(a) == 0 else np.asarray(a, dtype=np.float64)


def _exact(p: dict[str, Any]) -> tuple[Any, ...]:
    X, y, w, b = _up(p["X"]), _up(p["y"]), _up(p["w"]), _up(p["b"])
    z = ref.dot(X, w, b)
    mag_z = np.abs(X) @ np.abs(w) + (0.0 if b is None else np.abs(b))
    return X, y, w, b, z, mag_z


def _tol(dtype: np.dtype[Any]) -> float:
    """float32: float32 precision of the terms; float64: float64 sums."""
    return 1e-6 if dtype == np.float32 else 1e-12


def _floor(dtype: np.dtype[Any]) -> float:
    """Results below the smallest normal number of the dtype may underflow."""
    return 2.0 * float(np.finfo(dtype).tiny)


@SETTINGS
@given(problems())
def test_dot_equals_the_reference(p: dict[str, Any]) -> None:
    out = fastsgd.dot(p["X"], p["w"], p["b"])
    _, _, _, _, z, mag_z = _exact(p)
    assert out.dtype == p["dtype"]
    assert out.shape == z.shape
    tol = _tol(p["dtype"])
    assert np.all(np.abs(out - z) <= tol * (np.abs(z) + mag_z) + _floor(p["dtype"]))


@SETTINGS
@given(problems())
def test_mse_equals_the_reference_and_is_not_negative(p: dict[str, Any]) -> None:
    loss = fastsgd.mse(p["X"], p["y"], p["w"], p["b"])
    X, y, w, b, z, mag_z = _exact(p)
    exact = ref.mse(X, y, w, b)
    r = np.abs(z - y)
    assert loss >= 0.0
    assert (
        abs(loss - exact) <= _tol(p["dtype"]) * float(np.mean(r * (r + mag_z + np.abs(y)))) + 1e-300
    )


@SETTINGS
@given(problems())
def test_mse_grad_equals_the_reference(p: dict[str, Any]) -> None:
    loss, gw, gb = fastsgd.mse_grad(p["X"], p["y"], p["w"], p["b"])
    X, y, w, b, z, mag_z = _exact(p)
    eloss, egw, egb = ref.mse_grad(X, y, w, b)
    tol = _tol(p["dtype"])
    r = np.abs(z - y)
    assert abs(loss - eloss) <= tol * float(np.mean(r * (r + mag_z + np.abs(y)))) + 1e-300
    # the loss of mse_grad is mse's, to the bit: the same pass over X
    assert loss == fastsgd.mse(p["X"], p["y"], p["w"], p["b"])
    assert gw.shape == np.shape(p["w"])
    assert gw.dtype == p["dtype"]
    spread = r + mag_z + np.abs(y)  # how far each residual may be off, in units of tol
    m = r.size
    mag_w = 2.0 / m * (np.abs(X).T @ spread)
    assert np.all(np.abs(gw - egw) <= tol * (np.abs(egw) + mag_w) + _floor(p["dtype"]))
    if b is None:
        assert gb is None
    else:
        assert np.shape(gb) == np.shape(b)
        egb = np.reshape(egb, np.shape(b))
        mag_b = 2.0 / m * (spread.sum() if np.ndim(b) == 0 else spread.reshape(len(z), -1).sum(0))
        assert np.all(np.abs(gb - egb) <= tol * (np.abs(egb) + mag_b) + _floor(p["dtype"]))


@SETTINGS
@given(problems())
def test_mse_is_zero_at_the_predictions(p: dict[str, Any]) -> None:
    """With y set to the kernel's own predictions (float64 data), the loss is (almost) zero."""
    X = np.asarray(p["X"], dtype=np.float64)
    w = np.asarray(p["w"], dtype=np.float64)
    y = fastsgd.dot(X, w, p["b"])
    loss, gw, _ = fastsgd.mse_grad(X, y, w, p["b"])
    _, _, _, _, _, mag_z = _exact({**p, "X": X, "w": w})
    assert 0.0 <= loss <= (1e-14 * float(np.max(mag_z))) ** 2
    assert np.all(np.isfinite(gw))


@SETTINGS
@given(
    w=hnp.arrays(np.float64, st.integers(1, 20), elements=VALUES),
    g=st.data(),
    lr=st.floats(1e-4, 10.0),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    nesterov=st.booleans(),
    weight_decay=st.sampled_from([0.0, 0.01]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_sgd_step_equals_the_reference(
    w: Any, g: Any, lr: float, momentum: float, nesterov: bool, weight_decay: float, dtype: Any
) -> None:
    nesterov = nesterov and momentum > 0
    w = w.astype(dtype)
    grads = [
        g.draw(hnp.arrays(np.float64, w.shape, elements=VALUES)).astype(dtype) for _ in range(3)
    ]
    w1, w2 = w.copy(), w.copy()
    v1, v2 = np.zeros_like(w), np.zeros_like(w)
    opts = {"momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay}
    for grad in grads:
        fastsgd.sgd_step(w1, grad, lr, velocity=v1, **opts)
        ref.sgd_step(w2, grad, lr, velocity=v2, **opts)
    scale = 1.0 + float(np.abs(w2).max()) + 10 * lr * sum(float(np.abs(gr).max()) for gr in grads)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(w1, w2, rtol=tol, atol=tol * scale)


def test_settings_are_reproducible() -> None:
    assert SETTINGS.derandomize
    assert SETTINGS.max_examples <= 100
