"""fastsgd: linear models trained with stochastic gradient descent.

The math of training as fast.ai's Lesson 2 teaches it — predictions are
batched dot products, the loss is a mean squared error whose gradient says
how to move the parameters, SGD steps on shuffled mini-batches — computed by
a C++ core with OpenMP and used from NumPy and scikit-learn.
"""

from __future__ import annotations

from typing import Any

from fastsgd._buildinfo import show_config
from fastsgd._ext import _core
from fastsgd.config import FitConfig
from fastsgd.kernels import (
    dot,
    get_num_threads,
    log_softmax,
    logistic_xent,
    logistic_xent_grad,
    loss_grad,
    loss_value,
    mse,
    mse_grad,
    set_num_threads,
    sgd_step,
    softmax,
    softmax_xent,
    softmax_xent_grad,
)
from fastsgd.training import (
    DivergenceError,
    FitResult,
    auto_learning_rate,
    fit,
    suggest_learning_rate,
)

__version__: str = _core.__version__

_ESTIMATORS = ("SGDClassifier", "SGDRegressor")


def __getattr__(name: str) -> Any:
    # The scikit-learn estimators are imported on first use, so that fastsgd itself
    # works without scikit-learn (fastsgd.estimators raises a clear ImportError).
    if name in _ESTIMATORS:
        from fastsgd import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'fastsgd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ESTIMATORS))


__all__ = [
    "DivergenceError",
    "FitConfig",
    "FitResult",
    "SGDClassifier",
    "SGDRegressor",
    "__version__",
    "auto_learning_rate",
    "dot",
    "fit",
    "get_num_threads",
    "log_softmax",
    "logistic_xent",
    "logistic_xent_grad",
    "loss_grad",
    "loss_value",
    "mse",
    "mse_grad",
    "set_num_threads",
    "sgd_step",
    "show_config",
    "softmax",
    "softmax_xent",
    "softmax_xent_grad",
    "suggest_learning_rate",
]
