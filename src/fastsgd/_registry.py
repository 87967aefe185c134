"""The parts a fit is made of, one entry each: losses, penalties, update rules and
learning-rate schedules.

Every layer reads them from here: the functional kernels, :func:`fastsgd.fit`, the
estimators, the scikit-learn drop-in, :mod:`fastsgd.dask` and the documentation's tables.
An entry holds what Python needs to know of a part (its public name and aliases, what
targets it takes, its parameters and their checks); the math is one C++ type in the
core (``cpp/include/fastsgd/losses.hpp`` for losses, ``updates.hpp`` for update rules),
which the entry names.

To add a loss: write its type in ``losses.hpp`` (and its line in ``FASTSGD_LOSSES``), add a
``Loss`` entry to ``LOSSES`` below, and its NumPy twin to ``fastsgd/reference.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastsgd._ext import _core

__all__ = ["LOSSES", "PENALTIES", "SCHEDULES", "UPDATES", "Loss", "Penalty", "Schedule", "Update"]

E = TypeVar("E", bound="_Entry")


@dataclass(frozen=True)
class _Entry:
    name: str
    summary: str
    aliases: tuple[str, ...] = field(default=(), kw_only=True)


class Registry(Generic[E]):
    """Entries by name and alias; unknown names are a ValueError listing the choices."""

    def __init__(self, kind: str, entries: Iterable[E]) -> None:
        self.kind = kind
        self._entries = list(entries)
        self._by_name: dict[str, E] = {}
        for e in self._entries:
            for name in (e.name, *e.aliases):
                if name in self._by_name:
                    raise ValueError(f"{kind} name {name!r} is registered twice")
                self._by_name[name] = e

    def __getitem__(self, name: str) -> E:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} must be a string, got {type(name).__name__}")
        try:
            return self._by_name[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}: choose one of {', '.join(self.names())}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[E]:
        return iter(self._entries)

    def names(self, aliases: bool = False) -> list[str]:
        """The entries' names (with their aliases when asked)."""
        if aliases:
            return sorted(self._by_name)
        return [e.name for e in self._entries]


# --- losses -------------------------------------------------------------------------------


def _no_params(value: float | None, k: int) -> tuple[float, ...]:
    return ()


def _one_param(value: float | None, k: int) -> tuple[float, ...]:
    assert value is not None
    return (value,)


@dataclass(frozen=True)
class Loss(_Entry):
    """A loss: its core type and how it reads targets.

    ``target`` is ``"real"`` (regression targets, one per output), ``"binary"`` (class
    labels: one score per class against the rest, or a single score for two classes,
    each label mapped to the core type's ``label_pos`` or ``label_neg``) or ``"class"``
    (a joint loss of one score per class, read with the class index: softmax).
    ``parameter`` names the loss's one parameter (``epsilon``) and ``default`` its
    value; ``core_params(value, n_outputs)`` gives the core type's parameters.
    """

    core: str
    target: str
    parameter: str | None = None
    default: float | None = None
    core_params: Callable[[float | None, int], tuple[float, ...]] = _no_params

    def spec(self, value: float | None = None, n_outputs: int = 1) -> _core.LossSpec:
        """The core's LossSpec for a parameter value (the default when None) and k outputs."""
        v = self.default if value is None else value
        if self.parameter is not None and not (v is not None and math.isfinite(v) and v >= 0):
            raise ValueError(f"{self.parameter} must be a finite number >= 0, got {v!r}")
        return _core.LossSpec(self.core, list(self.core_params(v, n_outputs)))

    @property
    def formula(self) -> str:
        return str(_core.loss_info(self.core)["formula"])

    @property
    def label_values(self) -> tuple[float, float]:
        """The (positive, negative) target a class label maps to (binary losses)."""
        info = _core.loss_info(self.core)
        return float(info["label_pos"]), float(info["label_neg"])

    def curvature(self, value: float | None = None, n_outputs: int = 1) -> float:
        """A bound on the loss's second derivative in one score (the automatic rate's c)."""
        return float(self.spec(value, n_outputs).curvature)


LOSSES: Registry[Loss] = Registry(
    "loss",
    [
        Loss(
            "mse",
            "mean squared error: the mean over outputs of (z − y)² (the lesson's loss)",
            core="squared",
            target="real",
            core_params=lambda v, k: (1.0 / k,),
            aliases=("mean_squared_error",),
        ),
        Loss(
            "squared_error",
            "half the squared error, ½(z − y)² per output (scikit-learn's squared_error)",
            core="squared",
            target="real",
            core_params=lambda v, k: (0.5,),
        ),
        Loss(
            "logistic",
            "binary log loss of P(y = 1) = σ(z) (logistic regression)",
            core="logistic",
            target="binary",
            aliases=("log_loss",),
        ),
        Loss(
            "softmax",
            "cross-entropy of the softmax of one score per class (multinomial)",
            core="softmax",
            target="class",
            aliases=("multinomial", "cross_entropy"),
        ),
        Loss(
            "huber",
            "squared error within epsilon of the target, linear beyond (robust to outliers)",
            core="huber",
            target="real",
            parameter="epsilon",
            default=1.0,
            core_params=_one_param,
        ),
        Loss(
            "hinge",
            "max(0, 1 − y·z): the linear support vector machine's",
            core="hinge",
            target="binary",
            core_params=lambda v, k: (1.0,),
        ),
        Loss(
            "perceptron",
            "max(0, −y·z): the perceptron's (the hinge at threshold 0)",
            core="hinge",
            target="binary",
            core_params=lambda v, k: (0.0,),
        ),
        Loss(
            "squared_hinge",
            "max(0, 1 − y·z)²: the hinge, squared (smooth)",
            core="squared_hinge",
            target="binary",
            core_params=lambda v, k: (1.0,),
        ),
        Loss(
            "modified_huber",
            "Zhang's smoothed hinge: quadratic near the margin, linear far from it; "
            "gives probabilities",
            core="modified_huber",
            target="binary",
        ),
        Loss(
            "epsilon_insensitive",
            "max(0, |y − z| − epsilon): errors within epsilon cost nothing (SVR's)",
            core="epsilon_insensitive",
            target="real",
            parameter="epsilon",
            default=0.1,
            core_params=_one_param,
        ),
        Loss(
            "squared_epsilon_insensitive",
            "max(0, |y − z| − epsilon)²",
            core="squared_epsilon_insensitive",
            target="real",
            parameter="epsilon",
            default=0.1,
            core_params=_one_param,
        ),
    ],
)


# --- penalties ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Penalty(_Entry):
    """A penalty on the weights, α·((1 − ρ)·½‖w‖² + ρ·‖w‖₁): ``mix(alpha, l1_ratio)``
    gives the (α, ρ) it applies (scikit-learn's: l2 is ρ = 0, l1 is ρ = 1)."""

    mix: Callable[[float, float], tuple[float, float]]

    def spec(self, alpha: float, l1_ratio: float) -> _core.PenaltySpec:
        a, r = self.mix(alpha, l1_ratio)
        return _core.PenaltySpec(alpha=a, l1_ratio=r)


PENALTIES: Registry[Penalty] = Registry(
    "penalty",
    [
        Penalty("none", "no penalty", mix=lambda a, r: (0.0, 0.0)),
        Penalty("l2", "alpha·½‖w‖² (weight decay alpha)", mix=lambda a, r: (a, 0.0)),
        Penalty("l1", "alpha·‖w‖₁", mix=lambda a, r: (a, 1.0)),
        Penalty(
            "elasticnet",
            "alpha·((1 − l1_ratio)·½‖w‖² + l1_ratio·‖w‖₁)",
            mix=lambda a, r: (a, r),
        ),
    ],
)


# --- update rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class Update(_Entry):
    """An update rule: its core type and the options it reads."""

    core: str
    options: tuple[str, ...] = ()

    def spec(self, **values: Any) -> _core.UpdateSpec:
        return _core.UpdateSpec(self.core, **{k: v for k, v in values.items() if k in self.options})


UPDATES: Registry[Update] = Registry(
    "update",
    [
        Update(
            "sgd",
            "w ← w − lr·g, with momentum, dampening and Nesterov as torch.optim.SGD",
            core="sgd",
            options=("momentum", "dampening", "nesterov"),
        ),
        Update(
            "adagrad",
            "per-weight rates lr/√(Σ g²) (torch.optim.Adagrad)",
            core="adagrad",
            options=("eps",),
        ),
        Update(
            "adam",
            "Adam's moment estimates (torch.optim.Adam)",
            core="adam",
            options=("beta1", "beta2", "eps"),
        ),
        Update(
            "normalized",
            "lr·g divided by each feature's mean square: scale-invariant (Vowpal Wabbit's idea)",
            core="normalized",
        ),
    ],
)


# --- learning-rate schedules --------------------------------------------------------------


@dataclass(frozen=True)
class Schedule(_Entry):
    """A learning-rate schedule. ``per_step`` names the core's schedule when the rate
    changes every step (``schedule_unit="step"``); ``per_epoch(lr0, e, epochs, power_t,
    step_size, gamma)`` gives epoch e's rate when it changes once per epoch; ``None``
    where the schedule has no such form."""

    per_step: str | None
    per_epoch: Callable[[float, int, int, float, int, float], float] | None


def _invscaling(lr: float, e: int, epochs: int, power_t: float, step: int, gamma: float) -> float:
    return lr / math.pow(e + 1, power_t)


def _step(lr: float, e: int, epochs: int, power_t: float, step: int, gamma: float) -> float:
    return lr * gamma ** (e // step)


def _cosine(lr: float, e: int, epochs: int, power_t: float, step: int, gamma: float) -> float:
    return lr * (1.0 + math.cos(math.pi * e / epochs)) / 2.0


def _constant(lr: float, e: int, epochs: int, power_t: float, step: int, gamma: float) -> float:
    return lr


SCHEDULES: Registry[Schedule] = Registry(
    "schedule",
    [
        Schedule("constant", "lr", per_step="constant", per_epoch=_constant),
        Schedule(
            "invscaling",
            "lr / (e + 1)^power_t per epoch, or lr / t^power_t per step t",
            per_step="invscaling",
            per_epoch=_invscaling,
        ),
        Schedule("step", "lr·gamma^(e // step_size)", per_step=None, per_epoch=_step),
        Schedule("cosine", "lr·(1 + cos(π·e/epochs))/2", per_step=None, per_epoch=_cosine),
        Schedule(
            "adaptive",
            "lr, divided by 5 each time the loss stops improving, while above 1e-6; then training stops",
            per_step="constant",
            per_epoch=_constant,
        ),
        Schedule(
            "optimal",
            "1 / (alpha·(t0 + t − 1)) per step t (Bottou's, as scikit-learn; needs alpha > 0)",
            per_step="optimal",
            per_epoch=None,
        ),
    ],
)
