"""Shared fixtures: dtypes, memory layouts, shapes, and the thread count.

Large cases are marked ``@pytest.mark.slow`` and skipped unless ``-m slow`` is
given (as ``nox -s tests_slow`` does) or ``FASTSGD_SLOW=1`` is set, so the
default run stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fastsgd

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["float32", "float64"]

# How an (n, d) array is laid out in memory. All give the same values.
#   C        C-contiguous (used in place by the kernels)
#   F        Fortran order (converted once)
#   strided  a block of a bigger C array: rows padded, columns contiguous (used in place)
#   rowslice every other row of a bigger array, X[::2] (used in place)
#   colstep  every other column of a bigger array, X[:, ::2] (converted once)
LAYOUTS = ["C", "F", "strided", "rowslice", "colstep"]

SHAPES = [(1, 1), (7, 3), (100, 2), (1000, 17), (257, 100)]
SHAPE_IDS = [f"n{n}-d{d}" for n, d in SHAPES]


def with_layout(a: np.ndarray[Any, Any], layout: str) -> np.ndarray[Any, Any]:
    """A copy of ``a`` (1-d or 2-d) in the given memory layout, with the same values.

    The padding around strided views is NaN, so a kernel that reads past the
    view gives NaN instead of a plausible number.
    """
    a = np.asarray(a)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    if layout in ("C", "F"):
        return np.array(a, order=layout)  # type: ignore[call-overload]
    if a.ndim == 1:  # 1-d: every second or third element of a bigger array
        step = 3 if layout == "strided" else 2
        big = np.full(step * a.shape[0] + 1, np.nan, dtype=a.dtype)
        view = big[1 : 1 + step * a.shape[0] : step]
        view[...] = a
        return view
    n, d = a.shape
    if layout == "strided":
        big = np.full((n + 2, d + 3), np.nan, dtype=a.dtype)
        view = big[1 : 1 + n, 2 : 2 + d]
    elif layout == "rowslice":
        big = np.full((2 * n, d), np.nan, dtype=a.dtype)
        view = big[::2]
    else:  # colstep
        big = np.full((n, 2 * d), np.nan, dtype=a.dtype)
        view = big[:, ::2]
    view[...] = a
    return view


@pytest.fixture(params=DTYPES, ids=DTYPE_IDS)
def dtype(request: pytest.FixtureRequest) -> np.dtype[Any]:
    """float32 and float64, the two dtypes the kernels use as they are."""
    return np.dtype(request.param)


@pytest.fixture(params=LAYOUTS, ids=LAYOUTS)
def layout(request: pytest.FixtureRequest) -> str:
    """Memory layouts of X; see ``with_layout``."""
    return str(request.param)


@pytest.fixture(params=SHAPES, ids=SHAPE_IDS)
def shape(request: pytest.FixtureRequest) -> tuple[int, int]:
    """Small (n, d) shapes, from a single element to d = 100."""
    return tuple(request.param)  # type: ignore[return-value]


@pytest.fixture
def arrange() -> Callable[[np.ndarray[Any, Any], str], np.ndarray[Any, Any]]:
    """``arrange(a, layout)``: a copy of ``a`` in the named memory layout."""
    return with_layout


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt for the test, as in a terminal: a process started in
    the background by a shell (``pytest &``) inherits SIGINT ignored, and Python then keeps
    it ignored. The previous handler is restored afterwards."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def restore_threads() -> Iterator[None]:
    """Give back fastsgd's thread setting after a test that changes it."""
    before = fastsgd.get_num_threads()
    yield
    fastsgd.set_num_threads(None)
    if fastsgd.get_num_threads() != before:
        fastsgd.set_num_threads(before)


def pytest_configure(config: pytest.Config) -> None:
    # hypothesis formats a failing example with libcst, whose import warns under
    # filterwarnings=error and would hide the failure behind an internal error
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )


def _slow_requested(config: pytest.Config) -> bool:
    if os.environ.get("FASTSGD_SLOW", "") == "1":
        return True
    markexpr = str(config.getoption("markexpr", "") or "")
    return "slow" in markexpr.replace("not slow", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless ``-m slow`` was given or FASTSGD_SLOW=1."""
    if _slow_requested(config):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or FASTSGD_SLOW=1")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


# --- hypothesis profiles (the fuzz suite, tests/test_fuzz.py) ------------------------------------
# "ci": derandomised (the same examples on every run) with a fixed budget that keeps the fuzz
# tests under about a minute; the default. "fuzz": many random examples, for `nox -s fuzz`.
# Pick one with HYPOTHESIS_PROFILE=ci|fuzz.

_FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=_FUZZ_HEALTH,
)
settings.register_profile(
    "fuzz",
    max_examples=3000,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_FUZZ_HEALTH,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --- threads in every test ------------------------------------------------------------------
# By default the kernels stay on one thread for calls under 2^22 element operations (waking
# a thread team costs more there). The tests use small arrays, so they lower that threshold
# to 0: every call with two or more row chunks then runs on the thread team, and the
# determinism and threading tests exercise it. test_threads checks the default threshold.


@pytest.fixture(autouse=True, scope="session")
def _threads_for_every_chunked_call() -> Iterator[None]:
    from fastsgd._ext import _core

    before = _core.get_parallel_min_work()
    _core.set_parallel_min_work(0)
    yield
    _core.set_parallel_min_work(before)
