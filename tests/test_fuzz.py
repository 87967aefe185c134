"""Fuzzing the public API: whatever is passed, the right answer or a clear exception.

Every public function gets arrays of every dtype NumPy has (bool, signed and unsigned
integers, float16/32/64, longdouble, complex, object, str, bytes, datetime, timedelta,
structured), of 0 to 3 dimensions, with zero rows or zero columns, mismatched lengths,
huge, tiny, NaN and infinite values, in every container and layout (C and Fortran
order, negative strides, every other row and column of a bigger array, read-only,
memory-mapped files, Python lists and scalars, pandas DataFrames and Series), and
wrong keyword values. Each input must either

- give the answer of ``fastsgd.reference`` (NumPy) on the same numbers, within a
  rounding bound that scales with the size of the terms, or
- raise a TypeError or ValueError whose message names the argument at fault.

Anything else (another exception, a warning, a crash, a wrong number) fails. The
examples come from hypothesis: the "ci" profile (the default, see conftest.py) is
derandomised with a fixed budget; ``HYPOTHESIS_PROFILE=fuzz`` (``nox -s fuzz``) draws
many more. The number of inputs tried per function is printed in pytest's terminal
summary.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import fastsgd
from fastsgd import reference as ref

# --- the tally of inputs tried, printed at the end of the run --------------------------------


class _Tally:
    """Counts fuzzed calls per public function; a pytest plugin for the summary line."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()  # inputs tried
        self.answered: Counter[str] = Counter()  # of which gave a value (not an error)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        total = sum(self.counts.values())
        if not total:
            return
        answered = sum(self.answered.values())
        terminalreporter.write_sep(
            "-", f"fuzz: {total} inputs tried, {answered} answered, {total - answered} refused"
        )
        parts = [f"{n} {c} ({self.answered[n]} answered)" for n, c in sorted(self.counts.items())]
        terminalreporter.write_line(", ".join(parts))


TALLY = _Tally()


@pytest.fixture(scope="module", autouse=True)
def _register_tally(pytestconfig: pytest.Config) -> Iterator[None]:
    if not pytestconfig.pluginmanager.is_registered(TALLY):
        pytestconfig.pluginmanager.register(TALLY, "fastsgd-fuzz-tally")
    return


@pytest.fixture(scope="module")
def mmap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-memmap")


_file_ids = itertools.count()

# --- calling a function on a fuzzed input ------------------------------------------------------

# The one warning a call may give: NumPy's, when a value does not fit the dtype it is
# converted to (a float64 1e300 given with float32 X, a longdouble 1e4000). The result
# then holds infinities, as the reference's does.
_ALLOWED_WARNING = "overflow encountered in cast"


class Outcome:
    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error


def attempt(name: str, call: Callable[[], Any], allowed: tuple[str, ...] = ()) -> Outcome:
    """Call a public function on a fuzzed input: its value, or the TypeError/ValueError raised.

    Any other exception propagates (and fails the test); a warning other than NumPy's
    cast overflow (or one of ``allowed``) fails the test.
    """
    TALLY.counts[name] += 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = Outcome(value=call())
            TALLY.answered[name] += 1
        except (TypeError, ValueError) as exc:
            out = Outcome(error=exc)
    for w in caught:
        message = str(w.message)
        assert issubclass(w.category, RuntimeWarning), f"{name} warned: {w}"
        assert any(a in message for a in (_ALLOWED_WARNING, *allowed)), f"{name} warned: {message}"
    return out


def quietly(call: Callable[[], Any]) -> Any:
    """The oracle's computation, which may warn about NaN and overflow as NumPy does."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return call()


def names_one_of(exc: BaseException, names: set[str]) -> bool:
    msg = str(exc)
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", msg) for n in names)


def expect_error(out: Outcome, culprits: dict[str, type[Exception]], what: str) -> None:
    """The call must have raised the exception of one of the culprits, naming it."""
    assert out.error is not None, f"{what}: expected an error about {sorted(culprits)}, got a value"
    ok = {n for n, t in culprits.items() if isinstance(out.error, t)}
    assert ok, (
        f"{what}: {type(out.error).__name__}({out.error}) is not the "
        f"{ {n: t.__name__ for n, t in culprits.items()} } expected"
    )
    assert names_one_of(out.error, ok), (
        f"{what}: the message does not name {sorted(ok)}: {out.error}"
    )


def expect_value(out: Outcome, what: str) -> Any:
    if out.error is not None:
        raise AssertionError(f"{what}: valid input raised {type(out.error).__name__}: {out.error}")
    return out.value


# --- dtypes, values and containers -------------------------------------------------------------

REAL_KINDS = "biuf"  # what the kernels accept (converted to float64 unless float32/float64)
STRUCTURED = np.dtype([("a", np.float64)])
DTYPES: list[np.dtype[Any]] = [
    np.dtype(t)
    for t in (
        np.bool_,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
        np.longdouble,
        np.complex64,
        np.complex128,
        np.clongdouble,
        object,
        "U12",
        "S12",
        "datetime64[s]",
        "timedelta64[ns]",
    )
] + [STRUCTURED]
FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]
# the real dtypes, float32 and float64 (used in place) more often than the rest (converted)
NUMERIC = [dt for dt in DTYPES if dt.kind in "biuf"] + FLOATS * 4

# Values: moderate numbers, exact zeros, and the extremes (huge, tiny, subnormal, NaN, ±inf).
MODERATE = st.floats(-8.0, 8.0, allow_nan=False, allow_infinity=False)
EXTREME = st.sampled_from(
    [0.0, -0.0, 1e30, -1e30, 1e200, -1e300, 1e-30, 1e-300, 5e-324, math.nan, math.inf, -math.inf]
)
VALUE = st.one_of(MODERATE, MODERATE, MODERATE, MODERATE, EXTREME)

CONTAINERS = [
    "C",
    "F",
    "reversed",
    "strided",
    "readonly",
    "memmap",
    "unaligned",
    "list",
    "pandas",
    "scalar",
]


def cast(values: np.ndarray[Any, Any], dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """float64 values as an array of dtype (integers rounded and clipped, NaN as 0)."""
    with np.errstate(all="ignore"):
        if dtype.kind == "b":
            return values != 0
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            v = np.clip(np.nan_to_num(np.round(values)), float(info.min), float(info.max))
            return np.where(v >= float(info.max), info.max, v.astype(np.float64)).astype(dtype)
        if dtype.kind in "fc":
            return values.astype(dtype)
        if dtype.kind == "O":
            return values.astype(object)
        if dtype.kind in "US":
            return values.astype(dtype)
        if dtype.kind in "Mm":
            return np.clip(np.nan_to_num(values), -1e9, 1e9).astype(np.int64).astype(dtype)
        out = np.zeros(values.shape, dtype=dtype)
        out["a"] = values
        return out


def contain(a: np.ndarray[Any, Any], how: str, mmap_dir: Path) -> Any:
    """a (its values) in the container or memory layout named ``how``."""
    if how == "scalar":
        return a.item() if a.ndim == 0 else a.tolist()
    if how == "list":
        return a.tolist()
    if how == "pandas" and a.ndim in (1, 2) and a.dtype != STRUCTURED:
        return pd.Series(a) if a.ndim == 1 else pd.DataFrame(a)
    if how == "F":
        return np.asfortranarray(a)
    if how == "reversed" and a.ndim > 0:  # negative strides along every axis
        flip = (slice(None, None, -1),) * a.ndim
        return a[flip].copy()[flip]
    if how == "strided" and a.ndim > 0:  # every other element of a bigger array, padded
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), dtype=a.dtype)
        view = big[tuple(slice(1, 1 + 2 * s, 2) for s in a.shape)]
        view[...] = a
        return view
    if how == "unaligned" and a.dtype.itemsize > 1 and a.dtype.kind != "O":
        buf = bytearray(a.nbytes + 1)  # one byte in: an address no float can sit at
        u = np.frombuffer(buf, dtype=a.dtype, offset=1, count=a.size).reshape(a.shape)
        u[...] = a
        return u
    if how == "readonly":
        c = a.copy()
        c.flags.writeable = False
        return c
    if how == "memmap" and a.size > 0 and a.dtype.kind != "O":
        path = mmap_dir / f"a{next(_file_ids)}.dat"
        m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
        m[...] = a
        m.flush()
        del m
        return np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape)
    return np.ascontiguousarray(a) if a.ndim else a.copy()


@st.composite
def arrays(
    draw: Any,
    shape: tuple[int, ...],
    *,
    dtypes: list[np.dtype[Any]] | None = None,
    values: Any = VALUE,
    containers: list[str] | None = None,
    mmap_dir: Path,
) -> tuple[Any, np.ndarray[Any, Any]]:
    """(what is passed, what NumPy sees in it): an array of the shape in some dtype and container.

    With the default values, one array in three holds extremes (huge, tiny, NaN, ±inf).
    """
    dtype = draw(st.sampled_from(dtypes if dtypes is not None else DTYPES))
    size = int(np.prod(shape))
    if values is VALUE and draw(st.integers(0, 2)) != 0:
        values = MODERATE
    vals = np.array(draw(st.lists(values, min_size=size, max_size=size)), dtype=np.float64)
    a = np.asarray(cast(vals.reshape(shape), dtype))
    how = draw(st.sampled_from(containers if containers is not None else CONTAINERS))
    obj = contain(a, how, mmap_dir)
    note(f"{dtype} {shape} as {how}")
    return obj, seen(obj)


def seen(obj: Any) -> np.ndarray[Any, Any]:
    """What the library reads from obj: np.asarray's view, copied."""
    return np.array(np.asarray(obj), copy=True)


def real(a: np.ndarray[Any, Any] | None) -> bool:
    return a is None or a.dtype.kind in REAL_KINDS


def lib_dtype(X: np.ndarray[Any, Any]) -> np.dtype[Any]:
    """The dtype the kernels compute in: float32 stays, all other real input is float64."""
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def finite_abs(a: Any) -> np.ndarray[Any, Any]:
    """|a| in float64 with NaN and ±inf as 0: the size of the terms, for rounding bounds."""
    with np.errstate(all="ignore"):
        return np.abs(
            np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        )


def as64(a: Any, dt: np.dtype[Any]) -> Any:
    """a rounded to the kernels' dtype dt, then widened to float64 (None stays None)."""
    if a is None:
        return None
    with np.errstate(all="ignore"):
        return np.asarray(a).astype(dt).astype(np.float64)


def agree(actual: Any, oracles: list[Any], tol: Any, what: str) -> None:
    """Every element of actual equals one of the oracles' within tol (NaN matching NaN).

    Where tol is not finite the terms overflowed and any value is accepted; where every
    oracle is NaN (or the same infinity), so must actual be. Two of actual's smallest
    subnormals are always allowed: float32 arithmetic and double arithmetic rounded to
    float32 may round an underflowing result to neighbouring subnormals.
    """
    a_dtype = np.asarray(actual).dtype
    floor = 2.0 * float(np.finfo(a_dtype).smallest_subnormal) if a_dtype.kind == "f" else 0.0
    a = np.asarray(actual, dtype=np.float64)
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64) + floor, a.shape)
    ok = ~np.isfinite(tol)
    for o in oracles:
        e = np.broadcast_to(np.asarray(o, dtype=np.float64), a.shape)
        with np.errstate(all="ignore"):
            ok |= (np.isnan(a) & np.isnan(e)) | (a == e) | (np.abs(a - e) <= tol)
    assert ok.all(), (
        f"{what}: {a[~ok][:5]} where the reference gives "
        f"{[np.broadcast_to(np.asarray(o, dtype=np.float64), a.shape)[~ok][:5] for o in oracles]}"
        f" (tolerance {tol[~ok][:5]})"
    )


def rounding(dt: np.dtype[Any], d: int) -> float:
    """Relative rounding allowance of a d-term dot product computed in dt."""
    return 4.0 * (d + 4) * float(np.finfo(dt).eps)


# --- the linear-model kernels: dot, mse, mse_grad --------------------------------------------------

MSE_FUNCS = ["dot", "mse", "mse_grad"]


@st.composite
def linear_inputs(draw: Any, mmap_dir: Path) -> dict[str, Any]:
    """X, w, b (and y): half the time of matching shapes and real dtypes, half the time of
    random (often mismatching) shapes and any dtype."""
    if draw(st.booleans()):
        return draw(valid_linear_inputs(mmap_dir))
    n = draw(st.integers(0, 6))
    d = draw(st.integers(0, 4))
    x_shape = draw(st.sampled_from([(n, d), (n, d), (n, d), (n,), (), (n, d, 2)]))
    k = draw(st.integers(0, 3))
    d_w = draw(st.sampled_from([d, d, d, d + 1]))
    w_shape = draw(st.sampled_from([(d_w,), (d_w, k), (d_w, k), (), (d_w, k, 1)]))
    kw = 1 if len(w_shape) < 2 else w_shape[1]
    b_shape = draw(st.sampled_from([None, (), (kw,), (kw,), (kw + 1,), (1, kw)]))
    m = draw(st.sampled_from([n, n, n, n + 1]))
    y_shape = draw(st.sampled_from([(m,), (m, kw), (m, kw), (m, kw, 1), ()]))
    main = {"mmap_dir": mmap_dir}
    X = draw(arrays(x_shape, **main))
    w = draw(arrays(w_shape, dtypes=draw(st.sampled_from([DTYPES, FLOATS, FLOATS])), **main))
    b = (
        None
        if b_shape is None
        else draw(arrays(b_shape, dtypes=draw(st.sampled_from([DTYPES, FLOATS])), **main))
    )
    y = draw(arrays(y_shape, dtypes=draw(st.sampled_from([DTYPES, FLOATS, FLOATS])), **main))
    return {"X": X, "w": w, "b": b, "y": y}


@st.composite
def valid_linear_inputs(draw: Any, mmap_dir: Path) -> dict[str, Any]:
    n = draw(st.integers(1, 7))
    d = draw(st.integers(0, 5))
    k = draw(st.one_of(st.none(), st.integers(1, 3)))
    w_shape = (d,) if k is None else (d, k)
    b_shape = draw(st.sampled_from([None, (), (1 if k is None else k,)]))
    main = {"mmap_dir": mmap_dir}
    return {
        "X": draw(arrays((n, d), dtypes=NUMERIC, **main)),
        "w": draw(arrays(w_shape, dtypes=NUMERIC, **main)),
        "b": None if b_shape is None else draw(arrays(b_shape, dtypes=NUMERIC, **main)),
        "y": draw(arrays((n,) if k is None else (n, k), dtypes=NUMERIC, **main)),
    }


def mse_culprits(fn: str, X: Any, w: Any, b: Any, y: Any) -> dict[str, type[Exception]]:
    """Every argument at fault (and the exception it calls for); empty when the input is valid.

    The library stops at the first fault it checks, so its error must be about one of these.
    """
    bad: dict[str, type[Exception]] = {}
    for name, a in (("X", X), ("w", w), ("b", b), ("y", y if fn != "dot" else None)):
        if not real(a):
            bad[name] = TypeError
    X_ok = "X" not in bad and X.ndim == 2
    w_ok = "w" not in bad and w.ndim in (1, 2)
    if "X" not in bad and not X_ok:
        bad["X"] = ValueError
    if "w" not in bad and not w_ok:
        bad["w"] = ValueError
    if X_ok and fn != "dot" and X.shape[0] == 0:
        bad["X"] = ValueError  # a mean over no rows
    if not w_ok:
        return bad
    k = 1 if w.ndim == 1 else w.shape[1]
    if fn != "dot" and k == 0:
        bad["w"] = ValueError  # a mean over no outputs
    if b is not None and "b" not in bad and not (b.ndim == 0 or b.shape == (k,)):
        bad["b"] = ValueError
    if not X_ok:
        return bad
    n, d = X.shape
    if w.shape[0] != d:
        bad["w"] = bad["X"] = ValueError  # either may be the wrong one: the message names both
    pred = (n,) if w.ndim == 1 else (n, k)
    if fn != "dot" and "y" not in bad and y.shape != pred:
        bad["y"] = ValueError
    return bad


def mse_oracles(fn: str, X: Any, w: Any, b: Any, y: Any) -> tuple[list[Any], Any]:
    """The reference's answers (in X's dtype, and in float64 from the same rounded numbers)
    and the rounding tolerance of each output."""
    dt = lib_dtype(X)
    args_dt = [X, y, w, b] if fn != "dot" else [X, w, b]
    args_64 = [as64(a, dt) for a in args_dt]
    f = getattr(ref, fn)
    oracles = [quietly(lambda: f(*args_dt)), quietly(lambda: f(*args_64))]
    # sizes of the terms: |X| |w| + |b| (+ |y|)
    Xa, wa = finite_abs(as64(X, dt)), finite_abs(as64(w, dt))
    ba = 0.0 if b is None else finite_abs(as64(b, dt))
    d = X.shape[1]
    eps = rounding(dt, d)
    with np.errstate(all="ignore"):
        S = Xa @ wa + ba
        if fn == "dot":
            return oracles, eps * S
        R = S + finite_abs(as64(y, dt))
        m = R.size
        loss_tol = eps * 2 * np.mean(R * R)
        gw_tol = eps * (2.0 / m) * (Xa.T @ R)
        gb_tol = eps * (2.0 / m) * (R.sum() if np.ndim(b) == 0 else R.sum(axis=0))
    if fn == "mse":
        return oracles, loss_tol
    return oracles, (loss_tol, gw_tol, gb_tol)


def check_mse_family(fn: str, inp: dict[str, Any]) -> None:
    (Xo, X), (wo, w), (yo, y) = inp["X"], inp["w"], inp["y"]
    bo, b = inp["b"] if inp["b"] is not None else (None, None)
    args = (Xo, wo, bo) if fn == "dot" else (Xo, yo, wo, bo)
    out = attempt(fn, lambda: getattr(fastsgd, fn)(*args))
    culprits = mse_culprits(fn, X, w, b, y)
    if culprits:
        expect_error(out, culprits, fn)
        return
    value = expect_value(out, fn)
    oracles, tol = mse_oracles(fn, X, w, b, y)
    dt = lib_dtype(X)
    if fn == "dot":
        assert value.dtype == dt
        assert value.shape == oracles[0].shape
        # the float64 oracle rounded to the output dtype, as the core rounds its double sums
        agree(value, [oracles[0], quietly(lambda: oracles[1].astype(dt))], tol, "dot")
    elif fn == "mse":
        assert isinstance(value, float)
        agree(value, oracles, tol, "mse")
    else:
        loss, gw, gb = value
        assert isinstance(loss, float)
        assert gw.dtype == dt
        assert gw.shape == w.shape
        agree(loss, [o[0] for o in oracles], tol[0], "mse_grad loss")
        agree(gw, [oracles[0][1], quietly(lambda: oracles[1][1].astype(dt))], tol[1], "grad_w")
        if b is None:
            assert gb is None
        else:
            assert np.shape(gb) == b.shape
            assert np.asarray(gb).dtype == dt
            agree(
                gb,
                [oracles[0][2], quietly(lambda: np.asarray(oracles[1][2]).astype(dt))],
                tol[2],
                "grad_b",
            )


@pytest.mark.parametrize("fn", MSE_FUNCS)
def test_mse_kernels(fn: str, mmap_dir: Path) -> None:
    @given(inp=linear_inputs(mmap_dir))
    def run(inp: dict[str, Any]) -> None:
        check_mse_family(fn, inp)

    run()


# --- classification kernels: softmax_xent(_grad), logistic_xent(_grad) --------------------------

XENT_FUNCS = ["softmax_xent", "softmax_xent_grad", "logistic_xent", "logistic_xent_grad"]
INTS = [np.dtype(t) for t in (np.int8, np.int32, np.int64, np.uint8, np.uint64)]


@st.composite
def xent_inputs(draw: Any, fn: str, mmap_dir: Path) -> dict[str, Any]:
    """X, w or W, b and labels y: half the time valid, half the time anything."""
    if draw(st.booleans()):
        return draw(valid_xent_inputs(fn, mmap_dir))
    n = draw(st.integers(0, 6))
    d = draw(st.integers(0, 4))
    x_shape = draw(st.sampled_from([(n, d), (n, d), (n, d), (n,), (n, d, 1)]))
    softmax = fn.startswith("softmax")
    k = draw(st.integers(0, 4)) if softmax else 1
    d_w = draw(st.sampled_from([d, d, d, d + 1]))
    if softmax:
        w_shape = draw(st.sampled_from([(d_w, k), (d_w, k), (d_w, k), (d_w,), (d_w, k, 1)]))
        b_shape = draw(st.sampled_from([None, (k,), (k,), (), (k + 1,)]))
    else:
        w_shape = draw(st.sampled_from([(d_w,), (d_w,), (d_w, 1), (d_w, 2), ()]))
        b_shape = draw(st.sampled_from([None, (), (1,), (2,)]))
    m = draw(st.sampled_from([n, n, n, n + 1]))
    limit = max(k, 2) if softmax else 2
    y_shape = draw(st.sampled_from([(m,), (m,), (m, 1)]))
    label_values = st.one_of(
        st.integers(0, limit - 1).map(float), st.sampled_from([-1.0, float(limit), 300.0])
    )
    label_dtypes = draw(st.sampled_from([INTS, INTS, DTYPES]))
    main = {"mmap_dir": mmap_dir}
    return {
        "X": draw(arrays(x_shape, **main)),
        "w": draw(arrays(w_shape, dtypes=draw(st.sampled_from([DTYPES, FLOATS, FLOATS])), **main)),
        "b": None if b_shape is None else draw(arrays(b_shape, dtypes=FLOATS, **main)),
        "y": draw(arrays(y_shape, dtypes=label_dtypes, values=label_values, **main)),
    }


@st.composite
def valid_xent_inputs(draw: Any, fn: str, mmap_dir: Path) -> dict[str, Any]:
    n = draw(st.integers(1, 7))
    d = draw(st.integers(0, 5))
    main = {"mmap_dir": mmap_dir}
    if fn.startswith("softmax"):
        k = draw(st.integers(2, 4))
        w_shape, b_shape = (d, k), draw(st.sampled_from([None, (k,)]))
    else:
        k = 2
        w_shape = draw(st.sampled_from([(d,), (d, 1)]))
        b_shape = draw(st.sampled_from([None, (), (1,)]))
    labels = st.integers(0, k - 1).map(float)
    return {
        "X": draw(arrays((n, d), dtypes=NUMERIC, **main)),
        "w": draw(arrays(w_shape, dtypes=NUMERIC, **main)),
        "b": None if b_shape is None else draw(arrays(b_shape, dtypes=NUMERIC, **main)),
        "y": draw(arrays((n,), dtypes=INTS, values=labels, **main)),
    }


def xent_culprits(fn: str, X: Any, w: Any, b: Any, y: Any) -> dict[str, type[Exception]]:
    """Every argument at fault, as for the mse family; labels must be integer class indices."""
    softmax = fn.startswith("softmax")
    wname = "W" if softmax else "w"
    bad: dict[str, type[Exception]] = {}
    for name, a in (("X", X), (wname, w), ("b", b), ("y", y)):
        if not real(a):
            bad[name] = TypeError
    if "y" not in bad and y.dtype.kind not in "iu":
        bad["y"] = TypeError  # labels are class indices: an integer dtype
    X_ok = "X" not in bad and X.ndim == 2
    if "X" not in bad and not X_ok:
        bad["X"] = ValueError
    if X_ok and X.shape[0] == 0:
        bad["X"] = ValueError
    w_ok = wname not in bad and (
        (w.ndim == 2 and w.shape[1] >= 2)
        if softmax
        else (w.ndim == 1 or (w.ndim == 2 and w.shape[1] == 1))
    )
    if wname not in bad and not w_ok:
        bad[wname] = ValueError
    if not w_ok:
        return bad
    k = w.shape[1] if softmax else 1
    b_shapes = [(k,)] if softmax else [(), (1,)]
    if b is not None and "b" not in bad and b.shape not in b_shapes:
        bad["b"] = ValueError
    if not X_ok:
        return bad
    n, d = X.shape
    if w.shape[0] != d:
        bad[wname] = bad["X"] = ValueError
    limit = k if softmax else 2
    if "y" not in bad and not (
        y.shape == (n,) and (n == 0 or (int(y.min()) >= 0 and int(y.max()) < limit))
    ):
        bad["y"] = ValueError
    return bad


def xent_oracles(fn: str, X: Any, w: Any, b: Any, y: Any) -> tuple[list[Any], Any]:
    dt = lib_dtype(X)
    f = getattr(ref, fn)
    oracles = [
        quietly(lambda: f(X, y, w, b)),
        quietly(lambda: f(as64(X, dt), y, as64(w, dt), as64(b, dt))),
    ]
    Xa = finite_abs(as64(X, dt))
    wa = finite_abs(as64(w, dt)).reshape(X.shape[1], w.shape[1] if w.ndim == 2 else 1)
    ba = 0.0 if b is None else finite_abs(as64(b, dt))
    n, d = X.shape
    eps = rounding(dt, d)
    with np.errstate(all="ignore"):
        Z = (Xa @ wa + ba).max(axis=1)  # the largest score of each row
        loss_tol = eps * (2 * np.mean(Z) + 4)
        # a score off by δ moves every probability by at most δ
        row = 2 * Z + 2
        gw_tol = eps * (Xa.T @ row)[:, None] / n
        gb_tol = eps * row.sum() / n
    if fn.endswith("_grad"):
        return oracles, (loss_tol, gw_tol, gb_tol)
    return oracles, loss_tol


def check_xent(fn: str, inp: dict[str, Any]) -> None:
    (Xo, X), (wo, w), (yo, y) = inp["X"], inp["w"], inp["y"]
    bo, b = inp["b"] if inp["b"] is not None else (None, None)
    out = attempt(fn, lambda: getattr(fastsgd, fn)(Xo, yo, wo, bo))
    culprits = xent_culprits(fn, X, w, b, y)
    if culprits:
        expect_error(out, culprits, fn)
        return
    value = expect_value(out, fn)
    oracles, tol = xent_oracles(fn, X, w, b, y)
    dt = lib_dtype(X)
    if not fn.endswith("_grad"):
        assert isinstance(value, float)
        agree(value, oracles, tol, fn)
        return
    loss, gw, gb = value
    assert isinstance(loss, float)
    assert gw.dtype == dt
    assert gw.shape == w.shape
    agree(loss, [o[0] for o in oracles], tol[0], fn + " loss")
    gw_tol = np.broadcast_to(tol[1], (X.shape[1], w.shape[1] if w.ndim == 2 else 1))
    agree(
        gw,
        [oracles[0][1], quietly(lambda: oracles[1][1].astype(dt))],
        gw_tol.reshape(w.shape),
        fn + " grad_w",
    )
    if b is None:
        assert gb is None
    else:
        assert np.shape(gb) == b.shape
        agree(
            gb,
            [oracles[0][2], quietly(lambda: np.asarray(oracles[1][2]).astype(dt))],
            tol[2],
            fn + " grad_b",
        )


@pytest.mark.parametrize("fn", XENT_FUNCS)
def test_classification_kernels(fn: str, mmap_dir: Path) -> None:
    @given(inp=xent_inputs(fn, mmap_dir))
    def run(inp: dict[str, Any]) -> None:
        check_xent(fn, inp)

    run()


# --- softmax and log_softmax ---------------------------------------------------------------------


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax(fn: str, mmap_dir: Path) -> None:
    shapes = st.sampled_from([(), (0,), (3,), (1, 1), (4, 3), (0, 2), (2, 0), (5,), (2, 3, 2)])

    @given(data=st.data(), shape=shapes)
    def run(data: Any, shape: tuple[int, ...]) -> None:
        Zo, Z = data.draw(arrays(shape, mmap_dir=mmap_dir))
        out = attempt(fn, lambda: getattr(fastsgd, fn)(Zo))
        if not real(Z):
            expect_error(out, {"Z": TypeError}, fn)
            return
        if Z.ndim not in (1, 2) or Z.shape[-1] == 0:
            expect_error(out, {"Z": ValueError}, fn)
            return
        value = expect_value(out, fn)
        dt = lib_dtype(Z)
        assert value.dtype == dt
        assert value.shape == Z.shape
        f = getattr(ref, fn)
        oracles = [quietly(lambda: f(Z)), quietly(lambda: f(as64(Z, dt)).astype(dt))]
        # a score off by one rounding moves a probability (or a log-probability) by at most that
        Za = finite_abs(as64(Z, dt))
        big = Za.max(axis=-1, keepdims=True) if Z.size else 0.0
        agree(value, oracles, 16 * float(np.finfo(dt).eps) * (2 * big + 2), fn)

    run()


# --- sgd_step -------------------------------------------------------------------------------------


@given(data=st.data())
def test_sgd_step(data: Any, mmap_dir: Path) -> None:
    valid = data.draw(st.booleans())  # half the time only valid choices

    def pick(good: list[Any], bad: list[Any]) -> Any:
        return data.draw(st.sampled_from(good if valid else good + bad))

    shape = data.draw(st.sampled_from([(3,), (2, 3), (), (0,), (4,)]))
    w_dtype = pick(FLOATS, [np.dtype(np.float16), np.dtype(np.int64)])
    w_how = pick(["C", "memmap-rw"], ["F", "reversed", "strided", "readonly", "unaligned", "list"])
    w_vals = np.array(
        data.draw(st.lists(MODERATE, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
        dtype=np.float64,
    )
    w_init = np.asarray(cast(w_vals.reshape(shape), w_dtype))
    if w_how == "memmap-rw":  # a writable memory map is a fine target for the update
        w_obj: Any = (
            np.memmap(mmap_dir / f"w{next(_file_ids)}.dat", dtype=w_dtype, mode="w+", shape=shape)
            if w_init.size
            else w_init.copy()
        )
        w_obj[...] = w_init
    else:
        w_obj = contain(w_init, w_how, mmap_dir)
    g_shape = pick([shape], [(7,)])
    go, g = data.draw(
        arrays(g_shape, dtypes=[w_dtype] * 3 + NUMERIC if valid else None, mmap_dir=mmap_dir)
    )
    lr = pick([0.1, 1e-3, 2.0], [0.0, -1.0, math.nan, math.inf, "0.1", True])
    momentum = pick([0.0, 0.9], [-0.5, math.nan])
    dampening = pick([0.0, 0.5], [2.0])
    nesterov = data.draw(st.booleans()) and (not valid or (momentum > 0 and dampening == 0))
    weight_decay = pick([0.0, 0.01], [-1.0, math.inf])
    v_kind = pick(["zeros"], ["none", "wrong-shape", "readonly", "alias"])

    w_arr = w_obj if isinstance(w_obj, np.ndarray) else None
    velocity: Any = None
    if w_arr is not None and v_kind != "none":
        if v_kind == "alias":
            velocity = w_arr
        else:
            velocity = np.zeros((9,) if v_kind == "wrong-shape" else w_arr.shape, dtype=w_arr.dtype)
            velocity.flags.writeable = v_kind != "readonly"
    w_before = None if w_arr is None else w_arr.copy()
    v_before = None if velocity is None else velocity.copy()
    kw = {
        "momentum": momentum,
        "dampening": dampening,
        "nesterov": nesterov,
        "weight_decay": weight_decay,
        "velocity": velocity,
    }
    out = attempt("sgd_step", lambda: fastsgd.sgd_step(w_obj, go, lr, **kw))

    bad: dict[str, type[Exception]] = {}
    if w_arr is None or w_arr.dtype not in FLOATS:
        bad["w"] = TypeError
    elif not (w_arr.flags.writeable and w_arr.flags.c_contiguous and w_arr.flags.aligned):
        bad["w"] = ValueError  # updated in place: a copy would hide the update
    if not real(g):
        bad["grad"] = TypeError
    elif w_arr is not None and g.shape != w_arr.shape:
        bad["grad"] = ValueError
    elif (
        w_arr is not None
        and g.dtype.kind == "f"
        and g.dtype != w_arr.dtype
        and isinstance(go, np.ndarray)
    ):
        bad["grad"] = TypeError  # a float grad of another precision is a mistake, not converted
    for name, value, strict in (
        ("lr", lr, True),
        ("momentum", momentum, False),
        ("dampening", dampening, False),
        ("weight_decay", weight_decay, False),
    ):
        if isinstance(value, bool) or not isinstance(value, float | int):
            bad[name] = TypeError
        elif not math.isfinite(value) or value < 0 or (strict and value == 0):
            bad[name] = ValueError
    if "dampening" not in bad and dampening > 1:
        bad["dampening"] = ValueError
    mom_ok = "momentum" not in bad
    if nesterov and mom_ok and (momentum <= 0 or dampening != 0):
        bad["nesterov"] = ValueError
    needs_velocity = mom_ok and momentum > 0 and "w" not in bad and w_arr is not None
    if needs_velocity and (velocity is None or v_kind in ("wrong-shape", "readonly", "alias")):
        bad["velocity"] = ValueError
    if bad:
        expect_error(out, bad, "sgd_step")
        if w_arr is not None and w_before is not None:  # nothing was written
            np.testing.assert_array_equal(w_arr, w_before)
        return
    value = expect_value(out, "sgd_step")
    assert value is w_arr
    # the reference on copies of the same numbers
    w_ref = w_before.copy()
    v_ref = None if v_before is None else v_before.copy()
    ref.sgd_step(
        w_ref,
        quietly(lambda: np.asarray(g).astype(w_ref.dtype)),
        float(lr),
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
        weight_decay=weight_decay,
        velocity=v_ref,
    )
    eps = 8 * float(np.finfo(w_arr.dtype).eps)
    scale = np.abs(w_before) + float(lr) * (finite_abs(g) + weight_decay * np.abs(w_before)) * 3
    agree(w_arr, [w_ref], eps * scale, "sgd_step w")
    if velocity is not None and momentum > 0:
        agree(velocity, [v_ref], eps * (finite_abs(g) + np.abs(w_before)) * 3, "sgd_step velocity")


# --- fit: valid problems with one wrong argument at a time ----------------------------------------

# (keyword, value, the exception, the name the message must hold, the losses it applies to)
ALL, LABELS, MSE = ("mse", "softmax", "logistic"), ("softmax", "logistic"), ("mse",)
FIT_DEFECTS: list[tuple[str, Any, type[Exception], str, tuple[str, ...]]] = [
    ("learning_rate", 0.0, ValueError, "learning_rate", ALL),
    ("learning_rate", -1.0, ValueError, "learning_rate", ALL),
    ("learning_rate", math.nan, ValueError, "learning_rate", ALL),
    ("learning_rate", math.inf, ValueError, "learning_rate", ALL),
    ("learning_rate", "fast", ValueError, "learning_rate", ALL),
    ("learning_rate", None, TypeError, "learning_rate", ALL),
    ("learning_rate", True, TypeError, "learning_rate", ALL),
    ("batch_size", 0, ValueError, "batch_size", ALL),
    ("batch_size", -1, ValueError, "batch_size", ALL),
    ("batch_size", 2.5, TypeError, "batch_size", ALL),
    ("batch_size", "10", TypeError, "batch_size", ALL),
    ("batch_size", 2**70, ValueError, "batch_size", ALL),
    ("epochs", -1, ValueError, "epochs", ALL),
    ("epochs", 1.5, TypeError, "epochs", ALL),
    ("epochs", None, TypeError, "epochs", ALL),
    ("schedule", "bogus", ValueError, "schedule", ALL),
    ("schedule", 3, ValueError, "schedule", ALL),
    ("loss", "no-such-loss", ValueError, "loss", ALL),
    ("momentum", -1.0, ValueError, "momentum", ALL),
    ("momentum", math.nan, ValueError, "momentum", ALL),
    ("dampening", 2.0, ValueError, "dampening", ALL),
    ("weight_decay", -1.0, ValueError, "weight_decay", ALL),
    ("weight_decay", math.inf, ValueError, "weight_decay", ALL),
    ("power_t", math.nan, ValueError, "power_t", ALL),
    ("step_size", 0, ValueError, "step_size", ALL),
    ("gamma", 0.0, ValueError, "gamma", ALL),
    ("tol", -1.0, ValueError, "tol", ALL),
    ("n_iter_no_change", 0, ValueError, "n_iter_no_change", ALL),
    ("seed", -1, ValueError, "seed", ALL),
    ("seed", 1.5, TypeError, "seed", ALL),
    ("seed", "x", TypeError, "seed", ALL),
    ("seed", 2**64, ValueError, "seed", ALL),
    ("epoch_offset", -1, ValueError, "epoch_offset", ALL),
    ("epoch_offset", 2**64, ValueError, "epoch_offset", ALL),
    ("n_threads", 0, ValueError, "n_threads", ALL),
    ("n_threads", 2**40, ValueError, "n_threads", ALL),
    ("n_threads", 1.5, TypeError, "n_threads", ALL),
    ("callback", "print", TypeError, "callback", ALL),
    ("early_stopping", True, ValueError, "early_stopping", ALL),  # without validation_data
    ("validation_data", "xy", TypeError, "validation_data", ALL),
    ("validation_data", "wrong-width", ValueError, "validation_data", ALL),
    ("b0", 1.0, ValueError, "b0", ALL),  # without fit_intercept
    ("w0", "wrong-shape", ValueError, "w0", ALL),
    ("w0", "nan", ValueError, "w0", ALL),
    ("w0", "str", TypeError, "w0", ALL),
    ("X", "nan", ValueError, "X", ALL),
    ("X", "inf", ValueError, "X", ALL),
    ("X", "3-d", ValueError, "X", ALL),
    ("X", "1-d", ValueError, "X", ALL),
    ("X", "no-rows", ValueError, "X", ALL),
    ("X", "complex", TypeError, "X", ALL),
    ("X", "datetime", TypeError, "X", ALL),
    ("X", "object", TypeError, "X", ALL),
    ("y", "length", ValueError, "y", ALL),
    ("y", "3-d", ValueError, "y", ALL),
    ("y", "str", TypeError, "y", ALL),
    ("y", "nan", ValueError, "y", MSE),
    ("y", "no-outputs", ValueError, "y", MSE),
    ("y", "float-labels", TypeError, "y", LABELS),
    ("y", "label-negative", ValueError, "y", LABELS),
    ("y", "label-too-big", ValueError, "y", LABELS),
    ("y", "one-class", ValueError, "y", ("softmax",)),
    ("n_classes", 1, ValueError, "n_classes", ("softmax",)),
    ("n_classes", 2.5, TypeError, "n_classes", ("softmax",)),
]


@st.composite
def fit_problems(draw: Any, mmap_dir: Path) -> dict[str, Any]:
    """A valid problem for fit, in some dtype and container, and at most one defect."""
    loss = draw(st.sampled_from(["mse", "mse", "softmax", "logistic"]))
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 4))
    x_dtypes = [np.dtype(t) for t in (np.float32, np.float64, np.int16, np.bool_, np.float16)]
    X = draw(arrays((n, d), dtypes=x_dtypes, values=MODERATE, mmap_dir=mmap_dir))
    y_containers = ["C", "list", "pandas", "reversed", "readonly", "memmap"]
    if loss == "mse":
        k = draw(st.sampled_from([None, 1, 2]))
        y = draw(
            arrays(
                (n,) if k is None else (n, k),
                dtypes=FLOATS,
                values=MODERATE,
                containers=y_containers,
                mmap_dir=mmap_dir,
            )
        )
    else:
        top = 2 if loss == "logistic" else draw(st.integers(2, 4))
        y = draw(
            arrays(
                (n,),
                dtypes=INTS,
                values=st.integers(0, top - 1).map(float),
                containers=y_containers,
                mmap_dir=mmap_dir,
            )
        )
    kw: dict[str, Any] = {
        "loss": loss,
        "learning_rate": draw(st.sampled_from(["auto", 1e-3, 0.01, 0.05])),
        "batch_size": draw(st.sampled_from([None, 1, 3, n, n + 5])),
        "epochs": draw(st.sampled_from([0, 1, 3])),
        "shuffle": draw(st.booleans()),
        "seed": draw(st.sampled_from([0, 7, 2**63 + 1])),
        "momentum": draw(st.sampled_from([0.0, 0.5])),
        "weight_decay": draw(st.sampled_from([0.0, 0.01])),
        "schedule": draw(st.sampled_from(["constant", "invscaling", "step", "cosine", "adaptive"])),
        "fit_intercept": draw(st.booleans()),
        "tol": draw(st.sampled_from([None, 0.0])),
        "n_threads": draw(st.sampled_from([None, 1, 2])),
    }
    kw["nesterov"] = kw["momentum"] > 0 and draw(st.booleans())
    labels_top = int(np.max(y[1])) if loss == "softmax" else 0
    # without n_classes, labels must be indices 0..k-1 with every class present
    gaps = loss == "softmax" and np.unique(np.asarray(y[1])).size < labels_top + 1
    if loss == "softmax" and (labels_top == 0 or gaps or draw(st.booleans())):
        kw["n_classes"] = max(labels_top + 1, 2) + draw(st.integers(0, 2))
    defects = [f for f in FIT_DEFECTS if loss in f[4]]
    defect = draw(st.one_of(st.none(), st.sampled_from(defects)))
    return {"X": X, "y": y, "kw": kw, "defect": defect}


def w_shape_of(loss: str, d: int, y: np.ndarray[Any, Any], kw: dict[str, Any]) -> tuple[int, ...]:
    if loss == "softmax":
        return (d, kw.get("n_classes") or int(np.max(y)) + 1)
    if loss == "logistic" or y.ndim == 1:
        return (d,)
    return (d, y.shape[1])


def apply_defect(p: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """The problem's (X, y, keywords) with its defect applied."""
    (Xo, X), (yo, y) = p["X"], p["y"]
    kw = dict(p["kw"])
    if p["defect"] is None:
        return Xo, yo, kw
    key, value = p["defect"][:2]
    n, d = X.shape
    if key == "X":
        Xf = X.astype(np.float64)
        Xo = {
            "nan": np.where(np.arange(n * d).reshape(n, d) == n * d - 1, np.nan, Xf),
            "inf": np.full((n, d), np.inf),
            "3-d": X.reshape(n, d, 1),
            "1-d": Xf.ravel(),
            "no-rows": X[:0],
            "complex": X.astype(complex),
            "datetime": X.astype(np.int64).astype("M8[s]"),
            "object": X.astype(object),
        }[value]
    elif key == "y":
        yi = y.astype(np.int64) if y.dtype.kind in "iu" else y
        first = np.arange(n) == 0
        yo = {  # built lazily: label defects only make sense for 1-d integer labels
            "nan": lambda: np.full(y.shape, np.nan),
            "length": lambda: y[:-1] if n > 1 else np.concatenate([y, y]),
            "3-d": lambda: y.reshape(n, -1, 1),
            "str": lambda: np.full(y.shape, "a"),
            "no-outputs": lambda: np.zeros((n, 0)),
            "float-labels": lambda: y.astype(np.float64),
            "label-negative": lambda: np.where(first, -1, yi),
            "label-too-big": lambda: np.where(first, kw.get("n_classes", 2) + 3, yi),
            "one-class": lambda: np.zeros(n, dtype=np.int64),
        }[value]()
        if value in ("label-too-big", "one-class"):
            kw.pop("n_classes", None)
            if value == "label-too-big" and kw["loss"] == "softmax":
                kw["n_classes"] = int(np.max(yi)) + 1 if np.max(yi) > 0 else 2
                yo = np.where(np.arange(n) == 0, kw["n_classes"] + 3, yi)
    elif key == "w0":
        shape = w_shape_of(kw["loss"], d, y, kw)
        kw["w0"] = {
            "wrong-shape": np.zeros((d + 1, *shape[1:])),
            "nan": np.full(shape, np.nan),
            "str": np.full(shape, "a"),
        }[value]
    elif key == "b0":
        kw["fit_intercept"] = False
        kw["b0"] = value
    elif key == "validation_data":
        y2 = np.concatenate([y, y])[:2]
        kw["validation_data"] = value if value == "xy" else (np.zeros((2, d + 1)), y2)
    else:
        kw[key] = value
    return Xo, yo, kw


def fit_outcome(fit: Callable[..., Any], X: Any, y: Any, kw: dict[str, Any]) -> Any:
    """The FitResult, or the divergence raised (a legitimate answer for too large a rate):
    fastsgd's DivergenceError, the reference's FloatingPointError."""
    try:
        return fit(X, y, **kw)
    except FloatingPointError as exc:
        return exc


def test_fit(mmap_dir: Path) -> None:
    @given(p=fit_problems(mmap_dir))
    def run(p: dict[str, Any]) -> None:
        Xo, yo, kw = apply_defect(p)
        note(f"defect {p['defect']}; options {kw}")
        out = attempt("fit", lambda: fit_outcome(fastsgd.fit, Xo, yo, kw))
        if p["defect"] is not None:
            key, value, exc, name = p["defect"][:4]
            expect_error(out, {name: exc}, f"fit with {key}={value!r}")
            return
        got = expect_value(out, "fit")
        ref_kw = dict(kw)
        if kw["learning_rate"] == "auto" and not isinstance(got, FloatingPointError):
            # the oracle's exact eigenvalue and fastsgd's power iteration (1e-3) agree closely;
            # the trajectories are compared at fastsgd's rate
            rate = quietly(lambda: ref.fit(p["X"][1], p["y"][1], **{**kw, "epochs": 0}))
            assert got.learning_rate == pytest.approx(rate.learning_rate, rel=1e-2)
            ref_kw["learning_rate"] = got.learning_rate
        want = quietly(lambda: fit_outcome(ref.fit, p["X"][1], p["y"][1], ref_kw))
        if isinstance(want, FloatingPointError) or isinstance(got, FloatingPointError):
            assert isinstance(got, fastsgd.DivergenceError), (
                f"fastsgd: {got!r}; the reference: {want!r}"
            )
            assert isinstance(want, FloatingPointError), (
                f"fastsgd: {got!r}; the reference: {want!r}"
            )
            assert got.epoch == want.epoch
            return
        check_same_fit(got, want)

    run()


def check_same_fit(got: Any, want: Any) -> None:
    """fastsgd.fit and reference.fit (NumPy's inner loop) took the same steps."""
    rtol = 1e-9
    assert got.n_epochs == want.n_epochs
    assert got.n_steps == want.n_steps
    assert got.stop_reason == want.stop_reason
    np.testing.assert_allclose(got.lr_history, want.lr_history, rtol=1e-12)
    scale = 1.0 + float(np.max(np.abs(want.w), initial=0.0))
    np.testing.assert_allclose(got.w, want.w, rtol=rtol, atol=rtol * scale)
    if want.b is None:
        assert got.b is None
    else:
        np.testing.assert_allclose(got.b, want.b, rtol=rtol, atol=rtol * scale)
    lscale = 1.0 + float(np.max(np.abs(want.loss_history), initial=0.0))
    np.testing.assert_allclose(got.loss_history, want.loss_history, rtol=rtol, atol=rtol * lscale)


# --- learning-rate helpers ---------------------------------------------------------------------


@pytest.mark.parametrize("fn", ["suggest_learning_rate", "auto_learning_rate"])
def test_learning_rate_helpers(fn: str, mmap_dir: Path) -> None:
    @given(data=st.data())
    def run(data: Any) -> None:
        shape = data.draw(
            st.sampled_from([(5, 2), (1, 1), (8, 3), (0, 2), (4, 0), (3,), (2, 2, 2)])
        )
        Xo, X = data.draw(arrays(shape, mmap_dir=mmap_dir))
        loss = data.draw(st.sampled_from(["mse", "softmax", "logistic", "hinge", "no-such-loss"]))
        fit_intercept = data.draw(st.booleans())
        out = attempt(fn, lambda: getattr(fastsgd, fn)(Xo, loss, fit_intercept=fit_intercept))
        bad: dict[str, type[Exception]] = {}
        if loss == "no-such-loss":
            bad["loss"] = ValueError
        if not real(X):
            bad["X"] = TypeError
        elif X.ndim != 2 or X.shape[0] == 0 or not np.isfinite(X.astype(np.float64)).all():
            bad["X"] = ValueError
        elif np.abs(X.astype(lib_dtype(X)).astype(np.float64)).max(initial=0) > 1e150:
            return  # λ = |x|² overflows: only "no crash" is asked of such X
        if bad:
            expect_error(out, bad, fn)
            return
        value = expect_value(out, fn)
        Xd = X.astype(lib_dtype(X)).astype(np.float64)
        Xt = np.column_stack([Xd, np.ones(len(Xd))]) if fit_intercept else Xd
        lam = float(np.linalg.eigvalsh(Xt.T @ Xt / len(Xt))[-1]) if Xt.shape[1] else 0.0
        c = fastsgd.reference.LOSSES[loss].curvature(None, 1)  # the oracle's bound
        if fn == "suggest_learning_rate":
            want = math.inf if lam <= 1e-300 else 2.0 / (c * lam)
        else:
            trace = float(np.trace(Xt.T @ Xt / len(Xt)))
            denom = c * lam + c * trace / len(Xt)
            want = 1.0 if denom <= 1e-300 else 1.0 / denom
        if math.isinf(want) or lam < 1e-250:
            assert value >= 1e200 or math.isinf(value) or value == want
        else:
            # power iteration stops at a rough tolerance: a few per cent at most
            assert value == pytest.approx(want, rel=0.05)

    run()


# --- set_num_threads ------------------------------------------------------------------------------


@given(
    n=st.one_of(st.integers(-3, 4), st.sampled_from([None, 2**31, 2**70, 1.5, "2", True, math.nan]))
)
def test_set_num_threads(n: Any) -> None:
    before = fastsgd.get_num_threads()
    try:
        out = attempt("set_num_threads", lambda: fastsgd.set_num_threads(n))
        if n is None:
            expect_value(out, "set_num_threads")
        elif isinstance(n, bool) or not isinstance(n, int):
            expect_error(out, {"n": TypeError}, "set_num_threads")
        elif n < 1 or n > 2**31 - 1:
            expect_error(out, {"n": ValueError}, "set_num_threads")
        else:
            expect_value(out, "set_num_threads")
            assert fastsgd.get_num_threads() == n
    finally:
        fastsgd.set_num_threads(None)
        if fastsgd.get_num_threads() != before:
            fastsgd.set_num_threads(before)


# --- the scikit-learn estimators ------------------------------------------------------------------

# scikit-learn's own input checks (validate_data) word some errors without the argument's name
# ("Complex data not supported", "Found array with dim 3"); they are accepted as they are, since
# scikit-learn's estimator checks expect exactly these messages.
_SKLEARN_MESSAGES = re.compile(
    r"Complex data not supported|Found array with|Expected 2D array|could not convert|2-dimensional|"
    r"inconsistent numbers of samples|Unknown label type|float\(\) argument must be"
)


def estimator_error(out: Outcome, names: set[str], what: str) -> None:
    assert out.error is not None, f"{what}: expected an error, got a value"
    assert names_one_of(out.error, names) or _SKLEARN_MESSAGES.search(str(out.error)), (
        f"{what}: the message names none of {sorted(names)}: {out.error}"
    )


def as_float64(X: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """X as scikit-learn's validate_data reads it (None where it refuses)."""
    if X.dtype.kind in "cVMm":  # complex, structured, dates and durations are refused
        return None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        return None


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_estimators(kind: str, mmap_dir: Path) -> None:
    from fastsgd import SGDClassifier, SGDRegressor

    @given(data=st.data())
    def run(data: Any) -> None:
        valid = data.draw(st.booleans())  # half the time: a valid X and y
        n = data.draw(st.integers(2 if valid else 1, 10))
        d = data.draw(st.integers(1, 3))
        x_shape = data.draw(st.sampled_from([(n, d)] if valid else [(n,), (n, d, 1), (0, d)]))
        x_kw = {"dtypes": NUMERIC, "values": MODERATE} if valid else {"dtypes": DTYPES}
        Xo, X = data.draw(arrays(x_shape, **x_kw, mmap_dir=mmap_dir))
        if kind == "regressor":
            y_shape = data.draw(st.sampled_from([(n,), (n, 2)] + ([] if valid else [(n + 1,)])))
            yo, y = data.draw(
                arrays(
                    y_shape,
                    dtypes=FLOATS,
                    values=MODERATE,
                    mmap_dir=mmap_dir,
                    containers=["C", "list", "pandas", "readonly"],
                )
            )
            est: Any = SGDRegressor(epochs=2, batch_size=4, random_state=0)
        else:
            labels = data.draw(st.sampled_from([[0, 1], [3, 7, 9], ["a", "b"], [True, False]]))
            y_idx = np.array(
                data.draw(st.lists(st.integers(0, len(labels) - 1), min_size=n, max_size=n))
            )
            if valid:
                y_idx[:2] = [0, 1]  # at least two classes
            y = np.asarray(labels)[y_idx]
            yo = data.draw(st.sampled_from([y, y.tolist(), pd.Series(y)]))
            est = SGDClassifier(epochs=2, batch_size=4, random_state=0)
        # scikit-learn reads anything np.asarray(X, dtype=float64) can (strings of numbers too),
        # except complex numbers; X must be 2-d, with rows, finite
        X64 = as_float64(X)
        X_ok = X64 is not None and X.ndim == 2 and X.shape[0] > 0 and np.isfinite(X64).all()
        y_ok = y.shape[:1] == X.shape[:1] and (kind == "regressor" or len(np.unique(y)) >= 2)
        if X_ok and np.abs(X64).max(initial=0) > 1e100:
            return  # far beyond float64's squares: only "no crash" is asked (it may diverge)
        name = f"{type(est).__name__}.fit"
        # scikit-learn's finiteness check sums X, which warns for float16 inf + -inf
        out = attempt(name, lambda: est.fit(Xo, yo), allowed=("invalid value encountered",))
        if not (X_ok and y_ok):
            estimator_error(out, {"X", "y"}, name)
            return
        fitted = expect_value(out, name)
        # the reference: the same estimator fitted on the plain array of the same numbers
        X_plain = np.ascontiguousarray(X64, dtype=np.float32 if X.dtype == np.float32 else None)
        twin = type(est)(epochs=2, batch_size=4, random_state=0).fit(X_plain, y)
        np.testing.assert_array_equal(fitted.coef_, twin.coef_)
        np.testing.assert_array_equal(fitted.intercept_, twin.intercept_)
        pred = attempt(f"{type(est).__name__}.predict", lambda: fitted.predict(Xo))
        value = expect_value(pred, "predict")
        if kind == "regressor":
            want = X_plain.astype(np.float64) @ fitted.coef_.T + fitted.intercept_
            np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-5 * (1 + np.abs(want).max()))
        else:
            np.testing.assert_array_equal(value, twin.predict(X_plain))
            proba = attempt("SGDClassifier.predict_proba", lambda: fitted.predict_proba(Xo))
            P = expect_value(proba, "predict_proba")
            np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)

    run()


@pytest.mark.parametrize("dtype", ["datetime64[s]", "timedelta64[ns]"])
def test_estimators_reject_datetime_X(dtype: str) -> None:
    from fastsgd import SGDRegressor

    X = np.arange(12).reshape(6, 2).astype(dtype)
    TALLY.counts["SGDRegressor.fit"] += 1
    with pytest.raises((TypeError, ValueError), match=r"\bX\b"):
        SGDRegressor(epochs=1).fit(X, np.arange(6.0))


def test_classifier_one_class_message_names_y() -> None:
    from fastsgd import SGDClassifier

    TALLY.counts["SGDClassifier.fit"] += 1
    with pytest.raises(ValueError, match=r"\by\b"):
        SGDClassifier(epochs=1).fit(np.ones((4, 2)), np.zeros(4))
