"""``FitConfig``: every option of a fit, validated once, immutable.

:func:`fastsgd.fit` builds one from its keyword arguments; the estimators build one from
their parameters; :mod:`fastsgd.dask` and the scikit-learn drop-in take the same. Each
field is checked against a declared constraint (``CONSTRAINTS``) and the parts named
by strings (the loss, penalty, update rule and schedule) are looked up in the registry,
so a wrong value is a clear ``TypeError`` or ``ValueError`` naming the option, raised
before any work.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastsgd._params import Boolean, Interval, IsCallable, IsString, Options, check
from fastsgd._registry import LOSSES, PENALTIES, SCHEDULES, UPDATES

__all__ = ["CONSTRAINTS", "FitConfig", "make_config"]

_Real, _Int = numbers.Real, numbers.Integral
_UINT64_MAX = 2**64 - 1
_INT_MAX = 2**31 - 1

# What each option may be. The parts named by strings (loss, update, penalty, schedule) are
# looked up in the registry, whose errors list the names it knows.
CONSTRAINTS: dict[str, list[Any]] = {
    "epsilon": [Interval(_Real, 0, None, closed="left"), None],
    "learning_rate": [Interval(_Real, 0, None, closed="neither"), Options({"auto"})],
    "schedule": [IsString(), IsCallable()],
    "schedule_unit": [Options({"epoch", "step"})],
    "power_t": [Interval(_Real, None, None)],
    "step_size": [Interval(_Int, 1, None)],
    "gamma": [Interval(_Real, 0, None, closed="neither")],
    "batch_size": [Interval(_Int, 1, None), None],
    "epochs": [Interval(_Int, 0, None)],
    "shuffle": [Boolean(), Options({"blocks", "sklearn"})],
    "seed": [Interval(_Int, 0, _UINT64_MAX), None],
    "momentum": [Interval(_Real, 0, 1, closed="left")],
    "dampening": [Interval(_Real, 0, 1)],
    "nesterov": [Boolean()],
    "beta1": [Interval(_Real, 0, 1, closed="left")],
    "beta2": [Interval(_Real, 0, 1, closed="left")],
    "eps": [Interval(_Real, 0, None, closed="neither")],
    "penalty": [IsString(), None],
    "alpha": [Interval(_Real, 0, None)],
    "l1_ratio": [Interval(_Real, 0, 1)],
    "average": [Boolean(), Interval(_Int, 1, None), Options({"auto"})],
    "fit_intercept": [Boolean()],
    "intercept_decay": [Interval(_Real, 0, 1, closed="right")],
    "tol": [Interval(_Real, 0, None), None],
    "n_iter_no_change": [Interval(_Int, 1, None)],
    "early_stopping": [Boolean()],
    "stop_on": [Options({"loss", "objective", "validation_loss", "validation_score"})],
    "loss_record": [Options({"exact", "progressive", "none"})],
    "sklearn_arithmetic": [Boolean()],
    "progress": [Boolean()],
    "record_path": [Boolean()],
    "n_classes": [Interval(_Int, 2, None), None],
    "epoch_offset": [Interval(_Int, 0, _UINT64_MAX)],
    "n_threads": [Interval(_Int, 1, _INT_MAX), None],
    "clip": [Interval(_Real, 0, None, closed="neither", allow_inf=True)],
}


@dataclass(frozen=True)
class FitConfig:
    """Every option of a fit (see :func:`fastsgd.fit` for what each does).

    Build one with keyword arguments; ``replace(**changes)`` returns a checked copy.
    Names of parts may be aliases (``loss="log_loss"``); they are stored by their
    registry name.

    Examples
    --------
    >>> from fastsgd import FitConfig
    >>> cfg = FitConfig(loss="log_loss", learning_rate=0.5, epochs=3)
    >>> cfg.loss, cfg.learning_rate, cfg.batch_size
    ('logistic', 0.5, None)
    >>> FitConfig(momentum=1.5)
    Traceback (most recent call last):
    ...
    ValueError: momentum must be in [0, 1), got 1.5
    """

    loss: str = "mse"
    epsilon: float | None = None
    learning_rate: float | str = 0.1
    schedule: str | Callable[[int], float] = "constant"
    schedule_unit: str = "epoch"
    power_t: float = 0.25
    step_size: int = 10
    gamma: float = 0.1
    batch_size: int | None = None
    epochs: int = 10
    shuffle: bool | str = True
    seed: int | None = 0
    update: str = "sgd"
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    penalty: str | None = None
    alpha: float = 0.0
    l1_ratio: float = 0.15
    average: bool | int | str = False
    fit_intercept: bool = False
    intercept_decay: float = 1.0
    tol: float | None = None
    n_iter_no_change: int = 5
    early_stopping: bool = False
    stop_on: str = "loss"
    loss_record: str = "progressive"
    sklearn_arithmetic: bool = False
    progress: bool = False
    record_path: bool = False
    n_classes: int | None = None
    epoch_offset: int = 0
    n_threads: int | None = None
    clip: float = math.inf

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "seed":
                value = _seed(value)
            elif f.name in CONSTRAINTS:
                value = check(f.name, value, CONSTRAINTS[f.name])
            object.__setattr__(self, f.name, value)
        # parts named by a string: stored by their registry name
        object.__setattr__(self, "loss", LOSSES[self.loss].name)
        object.__setattr__(self, "update", UPDATES[self.update].name)
        object.__setattr__(self, "penalty", PENALTIES[self.penalty or "none"].name)
        if isinstance(self.schedule, str):
            object.__setattr__(self, "schedule", SCHEDULES[self.schedule].name)
        self._check_together()

    def _check_together(self) -> None:
        """Checks that involve several options."""
        if self.batch_size is not None and self.batch_size >= 2**63:
            raise ValueError(f"batch_size must be < 2**63, got {self.batch_size}")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")
        if self.update != "sgd" and (self.momentum or self.nesterov or self.dampening):
            raise ValueError(
                f"momentum, dampening and nesterov belong to update='sgd', not {self.update!r}"
            )
        if isinstance(self.schedule, str):
            sched = SCHEDULES[self.schedule]
            if self.schedule_unit == "step" and sched.per_step is None:
                raise ValueError(f"schedule={self.schedule!r} changes the rate per epoch only")
            if self.schedule_unit == "epoch" and sched.per_epoch is None:
                raise ValueError(
                    f"schedule={self.schedule!r} changes the rate every step: pass "
                    "schedule_unit='step'"
                )
            if self.schedule == "optimal" and self.alpha <= 0:
                raise ValueError(
                    "schedule='optimal' needs alpha > 0 (it sets the rate 1/(alpha·t))"
                )
        elif self.schedule_unit == "step":
            raise ValueError("a callable schedule gives the rate per epoch: schedule_unit='epoch'")
        if self.early_stopping and self.stop_on not in ("validation_loss", "validation_score"):
            object.__setattr__(self, "stop_on", "validation_loss")
        watching = self.tol is not None or self.schedule == "adaptive"
        if self.loss_record == "none" and self.stop_on == "loss" and watching:
            raise ValueError(
                "loss_record='none' records no loss to stop on: use stop_on='objective', or "
                "loss_record='progressive' or 'exact'"
            )
        entry = LOSSES[self.loss]
        if self.epsilon is not None and entry.parameter is None:
            raise ValueError(f"loss={self.loss!r} takes no parameter, got epsilon={self.epsilon}")

    def replace(self, **changes: Any) -> FitConfig:
        """A copy with some options changed, checked like a new one."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown fit options: {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> FitConfig:
        """``FitConfig(**options)``, with a TypeError that names unknown options."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                "see fastsgd.FitConfig for the options of a fit"
            )
        return cls(**options)

    # --- derived values ------------------------------------------------------------------

    @property
    def shuffle_mode(self) -> str:
        """ "rows", "blocks", "sklearn" or "none"."""
        if self.shuffle in ("blocks", "sklearn"):
            return str(self.shuffle)
        return "rows" if self.shuffle else "none"

    def average_start(self, n: int) -> int:
        """The step from which the weights are averaged (0: no averaging), on n rows:
        ``average="auto"`` starts with the second epoch, leaving out the first one's
        transient (tail averaging), and does not average full batches (which have no
        gradient noise to average out)."""
        if self.average == "auto":  # full batch: no gradient noise to average out
            B = n if self.batch_size is None else min(self.batch_size, n)
            return 0 if n <= B else 1 + -(-n // max(B, 1))
        if self.average is True:
            return 1
        if self.average is False:
            return 0
        return int(self.average)


def _seed(seed: Any) -> int | None:
    """A seed as an int in [0, 2**64): RandomState and Generator draw one."""
    if seed is None:
        return None
    if isinstance(seed, np.random.RandomState):
        return int(seed.randint(np.iinfo(np.int32).max))
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(1 << 62))
    value: int = check("seed", seed, CONSTRAINTS["seed"])
    return value


def make_config(config: FitConfig | None, options: dict[str, Any]) -> FitConfig:
    """A FitConfig from a given one and keyword options (``weight_decay`` is an L2 penalty)."""
    options = dict(options)
    if "weight_decay" in options:
        wd = check("weight_decay", options.pop("weight_decay"), [Interval(_Real, 0, None)])
        if wd:
            if options.get("penalty", "l2") not in ("l2", None):
                raise ValueError("weight_decay is the L2 penalty: pass penalty='l2' or no penalty")
            options["penalty"] = "l2"
            options["alpha"] = wd
    if config is None:
        return FitConfig.from_options(options)
    if not isinstance(config, FitConfig):
        raise TypeError(f"config must be a fastsgd.FitConfig, got {type(config).__name__}")
    return config.replace(**options) if options else config
