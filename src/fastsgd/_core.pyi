"""Types of the compiled core, fastsgd._core (cpp/bindings/*.cpp).

Kept in step with the bindings by tests/test_typing.py, which compares every
function, method and parameter here with the signatures pybind11 writes into
the real module's docstrings.

Arrays are float32 or float64 with contiguous rows unless a parameter says
otherwise; the model's parameters are float64, W is (k, d). Losses, update rules
and schedules are named by strings the core checks (``loss_names()``,
``update_names()``), and travel as the bound specs below.
"""

from collections.abc import Sequence
from typing import Any, TypeAlias, TypedDict

import numpy as np
import numpy.typing as npt

# The bindings check dtypes at run time (float64 for W, b and weights); statically any
# floating array is accepted, and results are float64 where _F64 says so.
_Floats: TypeAlias = npt.NDArray[np.floating[Any]]
_F64: TypeAlias = npt.NDArray[np.float64]

__version__: str

class _BuildInfo(TypedDict):
    isas_compiled: list[str]
    openmp: int | None
    compiler: str
    native: bool
    sanitize: str

class _LossInfo(TypedDict):
    name: str
    formula: str
    joint: bool
    params: list[str]
    label_pos: float
    label_neg: float

# --- the parts of a fit (bindings/specs.cpp) ---------------------------------------------

class LossSpec:
    def __init__(self, name: str, params: Sequence[float] = []) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def params(self) -> tuple[float, ...]: ...
    @property
    def joint(self) -> bool: ...
    @property
    def curvature(self) -> float: ...
    def value_deriv(self, z: float, y: float) -> tuple[float, float]: ...

def loss_names() -> list[str]: ...
def loss_info(name: str) -> _LossInfo: ...

class UpdateSpec:
    def __init__(
        self,
        name: str = "sgd",
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-08,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def momentum(self) -> float: ...
    @property
    def dampening(self) -> float: ...
    @property
    def nesterov(self) -> bool: ...
    @property
    def beta1(self) -> float: ...
    @property
    def beta2(self) -> float: ...
    @property
    def eps(self) -> float: ...
    @property
    def lazy(self) -> bool: ...

def update_names() -> list[str]: ...

class PenaltySpec:
    def __init__(self, alpha: float = 0.0, l1_ratio: float = 0.0) -> None: ...
    @property
    def l2(self) -> float: ...
    @property
    def l1(self) -> float: ...
    @property
    def alpha(self) -> float: ...
    @property
    def l1_ratio(self) -> float: ...

class ScheduleSpec:
    def __init__(
        self,
        name: str = "constant",
        eta0: float = 0.1,
        alpha: float = 0.0,
        power_t: float = 0.5,
        t0: float = 1.0,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def eta0(self) -> float: ...
    @property
    def alpha(self) -> float: ...
    @property
    def power_t(self) -> float: ...
    @property
    def t0(self) -> float: ...
    def rate(self, t: float) -> float: ...

def optimal_t0(loss: LossSpec, alpha: float) -> float: ...

# --- the functional kernels (bindings/kernels.cpp) ----------------------------------------

class Targets:
    def __init__(
        self,
        Y: npt.NDArray[Any] | None = None,
        labels: npt.NDArray[np.int64] | None = None,
        positive: int = 1,
        sample_weight: _Floats | None = None,
        class_weight: _Floats | None = None,
        pos_weight: float = 1.0,
        neg_weight: float = 1.0,
    ) -> None: ...
    @property
    def Y(self) -> Any: ...
    @property
    def labels(self) -> Any: ...
    @property
    def positive(self) -> int: ...
    @property
    def sample_weight(self) -> Any: ...
    @property
    def class_weight(self) -> Any: ...
    @property
    def pos_weight(self) -> float: ...
    @property
    def neg_weight(self) -> float: ...

def loss_grad(
    X: _Floats,
    targets: Targets,
    W: _Floats,
    b: _Floats | None,
    loss: LossSpec,
    grad: bool = True,
    rows: npt.NDArray[np.int64] | None = None,
    threads: int = 0,
) -> tuple[float, float, Any, Any]: ...
def predict(
    X: _Floats,
    W: _Floats,
    b: _Floats | None = None,
    scale: float = 1.0,
    rows: npt.NDArray[np.int64] | None = None,
    threads: int = 0,
) -> _Floats: ...
def curvature(
    X: _Floats,
    intercept: bool,
    max_iter: int = 100,
    tol: float = 1e-06,
    threads: int = 0,
    weights: _Floats | None = None,
) -> tuple[float, float, int]: ...
def sgd_step(
    w: _Floats,
    grad: _Floats,
    velocity: _Floats | None,
    lr: float,
    momentum: float,
    dampening: float,
    nesterov: bool,
    weight_decay: float,
) -> None: ...
def softmax(Z: _Floats, log: bool = False, threads: int = 0) -> _Floats: ...

# --- training (bindings/train.cpp) --------------------------------------------------------

class EpochOptions:
    def __init__(
        self,
        loss: LossSpec,
        update: UpdateSpec | None = None,
        penalty: PenaltySpec | None = None,
        schedule: ScheduleSpec | None = None,
        batch_size: int = 0,
        shuffle: int = 1,
        seed: int = 0,
        clip: float | None = None,
        intercept_decay: float = 1.0,
        track_objective: bool = False,
        skip: npt.NDArray[np.uint8] | None = None,
        sklearn_arithmetic: bool = False,
        sum_loss: bool = True,
    ) -> None: ...
    loss: LossSpec
    update: UpdateSpec
    penalty: PenaltySpec
    schedule: ScheduleSpec
    epoch: int
    seed: int
    batch_size: int
    shuffle: int
    skip: Any
    order: Any
    @property
    def clip(self) -> float: ...
    @property
    def sklearn_arithmetic(self) -> bool: ...
    @property
    def intercept_decay(self) -> float: ...
    @property
    def track_objective(self) -> bool: ...

class EpochStats:
    @property
    def steps(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def loss_sum(self) -> float: ...
    @property
    def weighted_loss_sum(self) -> float: ...
    @property
    def objective_sum(self) -> float: ...
    @property
    def stopped(self) -> bool: ...

class Model:
    def __init__(self, k: int, d: int, intercept: bool) -> None: ...
    @property
    def k(self) -> int: ...
    @property
    def d(self) -> int: ...
    @property
    def intercept(self) -> bool: ...
    t: float
    average_start: float
    @property
    def scale(self) -> float: ...
    def coef(self) -> _F64: ...
    def bias(self) -> _F64: ...
    def average_coef(self) -> _F64: ...
    def average_bias(self) -> _F64: ...
    def set_params(self, W: Any, b: Any = None) -> None: ...
    def fold(self) -> None: ...
    def compute_norms(self) -> None: ...
    def clear_state(self) -> None: ...
    def step(
        self, G: _Floats, gb: _Floats, rows: float, lr: float, options: EpochOptions
    ) -> None: ...
    def copy(self) -> Model: ...
    def assign(self, other: Model) -> None: ...
    def state(self) -> dict[str, Any]: ...
    @staticmethod
    def from_state(state: dict[str, Any]) -> Model: ...

class Trainer:
    def __init__(self, X: _Floats, targets: Targets) -> None: ...
    def epoch(
        self, model: Model, options: EpochOptions, poll: bool = False, threads: int = 0
    ) -> EpochStats: ...

# --- the machinery (bindings/system.cpp) ----------------------------------------------------

def permutation(n: int, seed: int, epoch: int) -> npt.NDArray[np.int64]: ...
def xorshift_shuffle(order: npt.NDArray[np.int64], seed: int) -> None: ...
def first_nonfinite_row(X: _Floats, threads: int = 0) -> int: ...
def stream_read(X: _Floats, threads: int = 0) -> float: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def get_parallel_min_work() -> int: ...
def set_parallel_min_work(work: int) -> None: ...
def active_isa() -> str: ...
def set_isa(name: str) -> bool: ...
def build_info() -> _BuildInfo: ...
