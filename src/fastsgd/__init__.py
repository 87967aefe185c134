"""fastsgd: linear models trained with stochastic gradient descent.

The math of training as fast.ai's Lesson 2 teaches it — predictions are
batched dot products, the loss is a mean squared error whose gradient says
how to move the parameters, SGD steps on shuffled mini-batches — computed by
a C++ core with OpenMP and used from NumPy and scikit-learn.
"""

from __future__ import annotations

from fastsgd._ext import _core
from fastsgd.kernels import (
    dot,
    get_num_threads,
    log_softmax,
    logistic_xent,
    logistic_xent_grad,
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

__all__ = [
    "DivergenceError",
    "FitResult",
    "__version__",
    "auto_learning_rate",
    "dot",
    "fit",
    "get_num_threads",
    "log_softmax",
    "logistic_xent",
    "logistic_xent_grad",
    "mse",
    "mse_grad",
    "set_num_threads",
    "sgd_step",
    "softmax",
    "softmax_xent",
    "softmax_xent_grad",
    "suggest_learning_rate",
]
