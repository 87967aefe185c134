"""Types of the compiled core, fastsgd._core (cpp/bindings/*.cpp).

Kept in step with the bindings by tests/test_typing.py, which compares every
function, method and parameter here with the signatures pybind11 writes into
the real module's docstrings.

Arrays are float32 or float64 with contiguous rows unless a parameter says
otherwise; the model's parameters are float64 and transposed (Wt is (k, d)).
Integer ``loss`` codes: 0 mean squared error, 1 softmax cross-entropy,
2 logistic cross-entropy.
"""

from typing import Any, Literal, TypeAlias, TypedDict, overload

import numpy as np
import numpy.typing as npt

# The bindings check dtypes at run time (float64 for Wt, b and the momentum buffers);
# statically any floating array is accepted, and results are float64 where _F64 says so.
_Floats: TypeAlias = npt.NDArray[np.floating[Any]]
_F64: TypeAlias = npt.NDArray[np.float64]

__version__: str

class _BuildInfo(TypedDict):
    isas_compiled: list[str]
    openmp: int | None
    compiler: str
    native: bool
    sanitize: str

@overload
def loss_grad(
    X: _Floats,
    Y: npt.NDArray[Any] | None,
    Wt: _Floats,
    b: _Floats | None = None,
    loss: int = 0,
    grad: Literal[True] = True,
    threads: int = 0,
) -> tuple[float, _F64, _F64 | None]: ...
@overload
def loss_grad(
    X: _Floats,
    Y: npt.NDArray[Any] | None,
    Wt: _Floats,
    b: _Floats | None,
    loss: int,
    grad: Literal[False],
    threads: int = 0,
) -> tuple[float, None, None]: ...
@overload
def loss_grad(
    X: _Floats,
    Y: npt.NDArray[Any] | None,
    Wt: _Floats,
    b: _Floats | None = None,
    loss: int = 0,
    *,
    grad: Literal[False],
    threads: int = 0,
) -> tuple[float, None, None]: ...
@overload
def loss_grad(
    X: _Floats,
    Y: npt.NDArray[Any] | None,
    Wt: _Floats,
    b: _Floats | None = None,
    loss: int = 0,
    grad: bool = True,
    threads: int = 0,
) -> tuple[float, _F64 | None, _F64 | None]: ...
def curvature(
    X: _Floats, intercept: bool, max_iter: int = 100, tol: float = 1e-06
) -> tuple[float, float, int]: ...
def predict(X: _Floats, Wt: _Floats, b: _Floats | None = None, threads: int = 0) -> _Floats: ...
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
def permutation(n: int, seed: int, epoch: int) -> npt.NDArray[np.int64]: ...
def first_nonfinite_row(X: _Floats, threads: int = 0) -> int: ...
def stream_read(X: _Floats, threads: int = 0) -> float: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def get_parallel_min_work() -> int: ...
def set_parallel_min_work(work: int) -> None: ...
def active_isa() -> str: ...
def set_isa(name: str) -> bool: ...
def build_info() -> _BuildInfo: ...
def softmax(Z: _Floats, log: bool = False, threads: int = 0) -> _Floats: ...

class Trainer:
    def __init__(self) -> None: ...
    def epoch(
        self,
        X: _Floats,
        Y: npt.NDArray[Any],
        Wt: _Floats,
        b: _Floats | None,
        vW: _Floats | None,
        vb: _Floats | None,
        loss: int,
        batch_size: int,
        shuffle: int,
        seed: int,
        epoch: int,
        lr: float,
        momentum: float,
        dampening: float,
        nesterov: bool,
        weight_decay: float,
        fit_intercept: bool,
        poll: bool,
        threads: int = 0,
    ) -> tuple[int, float]: ...
