"""Declared parameter constraints: every option is checked in one place against what it
may be, with an error that names it (in the spirit of scikit-learn's
``_parameter_constraints``).

A constraint is one of

- ``Interval(kind, low, high, closed=...)``: a number of ``kind`` (``Integral`` or ``Real``,
  never a bool) in a range;
- ``Options({...})``: one of a set of strings;
- ``Boolean()``: ``True`` or ``False`` (also NumPy's bools);
- ``IsCallable()``: anything callable;
- ``None``: the value ``None``.

``check(name, value, constraints)`` returns the value (ints as ``int``, reals as
``float``, NumPy scalars unwrapped) when one constraint accepts it, and otherwise raises a
``TypeError`` (no constraint takes its type) or ``ValueError`` (the right type, a wrong
value) listing what the parameter accepts.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Boolean", "Interval", "IsCallable", "IsString", "Options", "check", "check_all"]


@dataclass(frozen=True)
class Interval:
    kind: type  # numbers.Integral or numbers.Real
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right" or "neither"
    allow_inf: bool = False  # infinity is a value (otherwise only finite numbers are)

    def takes_type(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is numbers.Integral:
            return isinstance(value, numbers.Integral)
        return True

    def contains(self, value: float) -> bool:
        if math.isnan(value) or (math.isinf(value) and not self.allow_inf):
            return False
        lo_open = self.closed in ("right", "neither")
        hi_open = self.closed in ("left", "neither")
        below = self.low is not None and (value < self.low or (value == self.low and lo_open))
        above = self.high is not None and (value > self.high or (value == self.high and hi_open))
        return not (below or above)

    def convert(self, value: Any) -> Any:
        return int(value) if self.kind is numbers.Integral else float(value)

    def describe(self) -> str:
        return "an integer" if self.kind is numbers.Integral else "a real number"

    def describe_range(self) -> str:
        """ ">= 0", "> 0", "<= 1" or "in [0, 1)"."""
        lo_open = self.closed in ("right", "neither")
        hi_open = self.closed in ("left", "neither")
        if self.high is None and self.low is not None:
            return f"{'>' if lo_open else '>='} {self.low:g}"
        if self.low is None and self.high is not None:
            return f"{'<' if hi_open else '<='} {self.high:g}"
        if self.low is None:
            return "finite"
        lo, hi = "(" if lo_open else "[", ")" if hi_open else "]"
        return f"in {lo}{self.low:g}, {self.high:g}{hi}"


@dataclass(frozen=True)
class Options:
    values: frozenset[str]

    def __init__(self, values: Iterable[str]) -> None:
        object.__setattr__(self, "values", frozenset(values))

    def describe(self) -> str:
        values = sorted(self.values)
        if len(values) == 1:
            return repr(values[0])
        return "one of " + ", ".join(repr(v) for v in values)


@dataclass(frozen=True)
class Boolean:
    def describe(self) -> str:
        return "True or False"


@dataclass(frozen=True)
class IsString:
    def describe(self) -> str:
        return "a string"


@dataclass(frozen=True)
class IsCallable:
    def describe(self) -> str:
        return "a callable"


Constraint = Interval | Options | Boolean | IsString | IsCallable | None


def _describe(constraints: Iterable[Constraint], ranges: bool = False) -> str:
    parts = []
    for c in constraints:
        if c is None:
            parts.append("None")
        elif ranges and isinstance(c, Interval):
            parts.append(f"{c.describe()} {c.describe_range()}")
        else:
            parts.append(c.describe())
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def check(name: str, value: Any, constraints: Iterable[Constraint]) -> Any:
    """``value`` if one of the constraints accepts it (normalised), else a clear error:
    ``ValueError`` ("epochs must be >= 0, got -1") when a constraint takes its type but
    not its value, ``TypeError`` ("epochs must be an integer, got 'ten'") otherwise."""
    constraints = list(constraints)
    near: list[str] = []  # what the numeric constraints that take its type want
    options_miss = False
    for c in constraints:
        if c is None:
            if value is None:
                return None
        elif isinstance(c, Interval):
            if c.takes_type(value):
                if c.contains(value):
                    return c.convert(value)
                finite = math.isfinite(value) or c.allow_inf
                near.append(c.describe_range() if finite else "finite")
        elif isinstance(c, Options):
            if isinstance(value, str):
                if value in c.values:
                    return value
                options_miss = True
        elif isinstance(c, Boolean):
            if isinstance(value, bool) or type(value).__name__ == "bool_":
                return bool(value)
        elif isinstance(c, IsString):
            if isinstance(value, str):
                return value
        elif isinstance(c, IsCallable) and callable(value) and not isinstance(value, str):
            return value
    if options_miss:  # a string, not one of the names: say everything it may be
        raise ValueError(f"{name} must be {_describe(constraints, ranges=True)}, got {value!r}")
    if near:
        raise ValueError(f"{name} must be {' or '.join(near)}, got {value!r}")
    raise TypeError(f"{name} must be {_describe(constraints)}, got {value!r}")


def check_all(
    values: Mapping[str, Any], constraints: Mapping[str, list[Constraint]]
) -> dict[str, Any]:
    """``check`` every entry of ``values`` that has constraints."""
    return {k: check(k, v, constraints[k]) if k in constraints else v for k, v in values.items()}
