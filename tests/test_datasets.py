"""fastsgd.datasets: the lesson's line and random regression problems."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fastsgd.datasets import make_line, make_regression


def test_make_line_defaults_are_the_lesson() -> None:
    X, y = make_line()
    assert X.shape == (100, 2)
    assert y.shape == (100,)
    assert X.dtype == np.float64
    assert y.dtype == np.float64
    np.testing.assert_array_equal(X[:, 1], 1.0)  # the column of ones: X @ a = a1·x + a2
    assert X[:, 0].min() >= -1.0
    assert X[:, 0].max() <= 1.0
    assert X[:, 0].min() < -0.9
    assert X[:, 0].max() > 0.9
    noise = y - X @ np.array([3.0, 2.0])
    assert noise.min() >= 0.0
    assert noise.max() < 1.0


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_make_line_shapes(n: int, dtype: Any) -> None:
    X, y = make_line(n=n, dtype=dtype)
    assert X.shape == (n, 2)
    assert y.shape == (n,)
    assert X.dtype == dtype
    assert y.dtype == dtype
    assert X.flags.c_contiguous  # ready for the kernels without a copy
    np.testing.assert_array_equal(X[:, 1], np.ones(n, dtype))


def test_uniform_noise_moves_the_intercept_to_two_and_a_half() -> None:
    X, y = make_line(n=200_000, seed=1)
    a = np.linalg.lstsq(X, y, rcond=None)[0]
    # U[0, 1) has mean 1/2: least squares finds the line shifted up by 1/2
    assert a[0] == pytest.approx(3.0, abs=0.01)
    assert a[1] == pytest.approx(2.5, abs=0.01)


def test_normal_noise_keeps_the_intercept() -> None:
    X, y = make_line(n=200_000, noise="normal", seed=1)
    a = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(a, [3.0, 2.0], atol=0.01)
    assert np.std(y - X @ [3.0, 2.0]) == pytest.approx(1.0, rel=0.01)


def test_no_noise_is_the_line_itself() -> None:
    X, y = make_line(n=50, a=(-1.5, 0.25), noise="none")
    np.testing.assert_allclose(y, -1.5 * X[:, 0] + 0.25, rtol=1e-15)


def test_scale_scales_the_noise() -> None:
    X, y1 = make_line(n=1000, scale=1.0, seed=4)
    X2, y3 = make_line(n=1000, scale=3.0, seed=4)
    np.testing.assert_array_equal(X, X2)
    line = X @ [3.0, 2.0]
    np.testing.assert_allclose(y3 - line, 3.0 * (y1 - line), rtol=1e-12)


def test_seeds_are_reproducible_and_different() -> None:
    X1, y1 = make_line(seed=5)
    X2, y2 = make_line(seed=5)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, y3 = make_line(seed=6)
    assert not np.array_equal(X1, X3)
    assert not np.array_equal(y1, y3)
    # a Generator is accepted too; None gives fresh data
    X4, _ = make_line(seed=np.random.default_rng(5))
    np.testing.assert_array_equal(X4, X1)
    assert not np.array_equal(make_line(seed=None)[0], make_line(seed=None)[0])


def test_float32_line_is_the_float64_line_rounded() -> None:
    X64, y64 = make_line(seed=2)
    X32, y32 = make_line(seed=2, dtype=np.float32)
    np.testing.assert_array_equal(X32, X64.astype(np.float32))
    np.testing.assert_array_equal(y32, y64.astype(np.float32))


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        pytest.param({"n": -1}, ValueError, ["n", ">= 0", "-1"], id="n-negative"),
        pytest.param({"n": 2.5}, TypeError, ["n", "integer", "float"], id="n-float"),
        pytest.param({"n": "100"}, TypeError, ["n", "integer", "str"], id="n-str"),
        pytest.param(
            {"a": (1.0, 2.0, 3.0)}, ValueError, ["a", "two numbers", "(3,)"], id="a-three"
        ),
        pytest.param({"a": 3.0}, ValueError, ["a", "two numbers"], id="a-scalar"),
        pytest.param({"a": "ab"}, TypeError, ["a"], id="a-str"),
        pytest.param({"a": (1j, 2.0)}, TypeError, ["a", "complex"], id="a-complex"),
        pytest.param({"a": (np.nan, 2.0)}, ValueError, ["a", "finite"], id="a-nan"),
        pytest.param({"noise": "gauss"}, ValueError, ["noise", "'gauss'", "uniform"], id="noise"),
        pytest.param({"scale": -1.0}, ValueError, ["scale", ">= 0"], id="scale-negative"),
        pytest.param({"scale": float("inf")}, ValueError, ["scale", "finite"], id="scale-inf"),
        pytest.param({"seed": "x"}, TypeError, ["seed", "'x'"], id="seed-str"),
        pytest.param({"seed": -1}, ValueError, ["seed", "-1"], id="seed-negative"),
        pytest.param({"dtype": np.int64}, TypeError, ["dtype", "float32", "int64"], id="dtype-int"),
        pytest.param({"dtype": complex}, TypeError, ["dtype", "complex128"], id="dtype-complex"),
        pytest.param({"dtype": "bogus"}, TypeError, ["dtype", "bogus"], id="dtype-bogus"),
    ],
)
def test_make_line_rejects_bad_arguments(
    kwargs: dict[str, Any], exc: type[Exception], words: list[str]
) -> None:
    with pytest.raises(exc) as info:
        make_line(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


# --- make_regression ----------------------------------------------------------------------


@pytest.mark.parametrize("k", [None, 3], ids=["vector", "k3"])
def test_make_regression_shapes_and_truth(k: int | None, dtype: Any) -> None:
    X, y, w = make_regression(n=5000, d=4, k=k, noise=0.1, seed=3, dtype=dtype)
    assert X.shape == (5000, 4)
    assert X.dtype == dtype
    assert y.shape == ((5000,) if k is None else (5000, k))
    assert y.dtype == dtype
    assert w.shape == ((4,) if k is None else (4, k))
    residual = y.astype(np.float64) - X.astype(np.float64) @ w
    assert np.std(residual) == pytest.approx(0.1, rel=0.05)
    fitted = np.linalg.lstsq(X.astype(np.float64), y.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(fitted, w, atol=0.01)


def test_make_regression_is_reproducible() -> None:
    a = make_regression(n=10, d=2, seed=1)
    b = make_regression(n=10, d=2, seed=1)
    c = make_regression(n=10, d=2, seed=2)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        pytest.param({"n": -1}, ValueError, "n", id="n"),
        pytest.param({"d": 0}, ValueError, "d", id="d"),
        pytest.param({"k": 0}, ValueError, "k", id="k"),
        pytest.param({"noise": -0.1}, ValueError, "noise", id="noise"),
        pytest.param({"seed": "x"}, TypeError, "seed", id="seed"),
        pytest.param({"dtype": np.int32}, TypeError, "dtype", id="dtype"),
    ],
)
def test_make_regression_rejects_bad_arguments(kwargs: dict[str, Any], exc: Any, word: str) -> None:
    with pytest.raises(exc, match=word):
        make_regression(**kwargs)
