"""``fit()``: mini-batch SGD on a linear model, the loop running in C++, and the learning
rates the data's curvature allows.

Each epoch is one call into the core, which shuffles, gathers the mini-batches,
computes the fused loss + gradient and steps, all without returning to Python.
Between epochs the driver (fastsgd._driver) records the loss, applies per-epoch
schedules, calls the callback and decides whether to stop. The same driver runs the
estimators' fits and :mod:`fastsgd.dask`'s: only the backend that runs an epoch differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastsgd._data import Dataset, pair
from fastsgd._driver import (
    _ROUGH_TOL,
    CoreBackend,
    DivergenceError,
    FitResult,
    _auto_rate,
    _curvature,
    _stable_rate,
    new_model,
    run,
)
from fastsgd._registry import LOSSES
from fastsgd._validation import FloatArray, as_data, check_finite
from fastsgd.config import FitConfig, make_config

__all__ = [
    "DivergenceError",
    "FitResult",
    "auto_learning_rate",
    "fit",
    "suggest_learning_rate",
]


def _rows_for_rate(X: Any) -> Any:
    Xr = as_data(X, "X")
    check_finite(Xr, "X")
    if Xr.shape[0] == 0:
        raise ValueError("X has no rows")
    return Xr


def suggest_learning_rate(
    X: Any, loss: str = "mse", *, fit_intercept: bool = False, n_outputs: int = 1
) -> float:
    """The largest stable learning rate of full-batch gradient descent on X.

    Gradient descent on a quadratic converges for ``lr < 2 / λ_max(H)``. With
    ``A = X̃ᵀX̃ / n`` (``X̃ = [X, 1]`` with an intercept), the Hessian is at most
    ``c·A`` where ``c`` bounds the loss's second derivative: ``2 / n_outputs`` for the
    mean squared error, 1/2 for softmax cross-entropy, 1/4 for the logistic loss (see
    the losses' table). ``λ_max(A)`` comes from power iteration in C++ (each step one
    fused pass over X).

    Examples
    --------
    >>> import fastsgd
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line()
    >>> round(fastsgd.suggest_learning_rate(X), 2)   # the lesson's line: about 1.0
    0.99
    """
    entry = LOSSES[loss]
    lam, _ = _curvature(_rows_for_rate(X), fit_intercept)
    return _stable_rate(lam, entry.curvature(None, n_outputs))


def auto_learning_rate(
    X: Any,
    loss: str = "mse",
    *,
    batch_size: int | None = None,
    fit_intercept: bool = False,
    n_outputs: int = 1,
) -> float:
    """The learning rate ``learning_rate="auto"`` picks: ``1 / (c·λ_max + c·tr(A)/B)``.

    ``A = X̃ᵀX̃/n`` and ``c`` are those of :func:`suggest_learning_rate`, ``B``
    is the batch size. For the full batch this is half the stability bound
    ``2/(c·λ_max)``; for small batches the trace term, which measures how much
    one batch's curvature can exceed the average, takes over (for B = 1 it is
    about one over the mean squared row norm, the classic per-sample SGD
    bound). It adapts to unscaled data such as features around 100.

    Examples
    --------
    >>> import fastsgd
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line()
    >>> round(fastsgd.auto_learning_rate(X), 2)                 # full batch: half the bound
    0.49
    >>> fastsgd.auto_learning_rate(X, batch_size=1) < fastsgd.auto_learning_rate(X)
    True
    """
    entry = LOSSES[loss]
    Xr = _rows_for_rate(X)
    lam, trace = _curvature(Xr, fit_intercept, tol=_ROUGH_TOL)
    return _auto_rate(lam, trace, entry.curvature(None, n_outputs), Xr.shape[0], batch_size)


# --- fit ------------------------------------------------------------------------------------


def fit(
    X: Any,
    y: Any,
    w0: Any = None,
    *,
    b0: Any = None,
    sample_weight: Any = None,
    class_weight: Any = None,
    validation_data: tuple[Any, Any] | None = None,
    callback: Callable[[int, float, FloatArray], Any] | None = None,
    config: FitConfig | None = None,
    **options: Any,
) -> FitResult:
    """Train a linear model with mini-batch SGD; the whole batch loop runs in C++.

    Each epoch visits every row once in a shuffled order (a seeded permutation,
    the same on every platform and for any thread count), in batches of
    ``batch_size`` rows (the last batch may be smaller and is used), and takes
    one step ``w ← w − lr · ∇loss(batch)`` per batch, with optional momentum,
    Nesterov momentum and weight decay (torch.optim.SGD's rule).

    Parameters
    ----------
    X : array_like (n, d), or a scipy.sparse matrix or array. float32 and float64 are
        used in place; other real input is converted once to float64. Sparse X is never
        densified: CSR is read in place (CSC, COO and the rest are converted to CSR once),
        and a plain-SGD step costs O(non-zeros of its rows): L2 is a scale of w, the
        average is kept lazily, and L1 reaches a weight when a row touches it (as in
        scikit-learn). Momentum, AdaGrad and Adam keep dense per-weight state and update
        every weight each step (O(d) a step).
    y : targets. Regression losses (``"mse"``): (n,) or (n, k). ``"softmax"``: integer
        class indices 0..k-1 (n,). Binary losses (``"logistic"``): integer labels 0/1 (n,),
        or class indices 0..n_classes-1 for one score per class (one-vs-rest).
    w0 : initial weights, (d,) or (d, k); zeros when None.
    b0 : initial intercept (with ``fit_intercept=True``); 0 when None.
    sample_weight : (n,) weights >= 0 multiplying each row's loss and gradient.
    class_weight : one weight per class (classification losses), multiplying the rows
        of that class; for a binary loss with one score, [negative, positive].
    validation_data : ``(X_val, y_val)``; its loss is recorded after every epoch.
    callback : ``callback(epoch, loss, w)`` after every epoch (epoch counts from 1);
        returning False stops training.
    config : a :class:`fastsgd.FitConfig`; keyword options override its fields.
    **options : the options of :class:`fastsgd.FitConfig`, among them

        - ``loss``: ``"mse"`` (mean squared error), ``"softmax"`` (cross-entropy of a
          softmax over k scores), ``"logistic"`` (binary log loss), and the others of
          the losses' table.
        - ``learning_rate``: float > 0, or ``"auto"`` (see :func:`auto_learning_rate`).
        - ``batch_size``: rows per step; None means the full batch (one step per epoch:
          the lesson's gradient descent).
        - ``epochs``: number of passes over the data (>= 0).
        - ``shuffle``, ``seed``: visit rows in a new seeded order each epoch.
          ``shuffle="blocks"`` shuffles blocks of consecutive rows (about 128 bytes of X
          each: 16 rows of two float32 features; single rows once a row is that wide)
          instead of single rows: far fewer cache misses when rows are narrow, at the
          price of batches made of a few runs of neighbouring rows (fine for data in
          random order, not for sorted data). The last ``n mod block`` rows then come
          last, in order.
        - ``update``: ``"sgd"`` (with ``momentum``, ``dampening``, ``nesterov`` as
          ``torch.optim.SGD``), ``"adagrad"``, ``"adam"`` (``beta1``, ``beta2``, ``eps``).
        - ``penalty``, ``alpha``, ``l1_ratio``: ``"l2"``, ``"l1"`` or ``"elasticnet"``
          on the weights (never the intercept); ``weight_decay=λ`` is ``penalty="l2",
          alpha=λ`` (torch's weight decay).
        - ``average``: average the weights over the steps (from step ``average`` on when
          an int, from the second epoch on when ``"auto"``, which leaves full batches
          unaveraged) and return the average
          (Polyak–Ruppert). With a constant rate, the average converges to the optimum
          where the last iterate stalls at the noise floor of its step.
        - ``schedule``: the learning rate of epoch e = 0, 1, ...:

          - ``"constant"``: ``lr``
          - ``"invscaling"``: ``lr / (e + 1) ** power_t``
          - ``"step"``: ``lr · gamma ** (e // step_size)``
          - ``"cosine"``: ``lr · (1 + cos(π e / epochs)) / 2``
          - ``"adaptive"``: ``lr``, divided by 5 each time the loss has not improved by
            ``tol`` (0 when None) for ``n_iter_no_change`` epochs while it is above 1e-6;
            then training stops (scikit-learn's rule)
          - a callable ``f(e) -> lr``;

          with ``schedule_unit="step"`` the rate changes every step t instead:
          ``"invscaling"`` gives ``lr / t ** power_t`` and ``"optimal"``
          ``1 / (alpha·(t0 + t − 1))`` (scikit-learn's).
        - ``fit_intercept``: learn an intercept b (inside the kernel; X is never copied
          to add a column of ones).
        - ``tol``, ``n_iter_no_change``: stop when the epoch loss has not improved by
          ``tol`` for ``n_iter_no_change`` epochs (None: never).
        - ``early_stopping``: with validation_data, stop when the validation loss has not
          improved by ``tol`` (0 when None) for ``n_iter_no_change`` epochs and restore
          the best parameters.
        - ``loss_record``: what ``loss_history`` holds. ``"progressive"`` (the default):
          each epoch's mean loss over its batches, each batch's loss measured before its
          step and summed in the same pass (Vowpal Wabbit's progressive validation: no
          extra pass over X; one entry per epoch); ``"exact"``: the full-data loss before
          training and after every epoch (one entry more; a second pass over X per epoch,
          about as long as the epoch itself on wide rows); ``"none"``: nothing. The
          divergence guard and ``tol`` watch what is recorded.
        - ``progress``: a tqdm progress bar over epochs; ``record_path``: keep the
          parameters at the start and after every epoch; ``n_classes``: the number of
          classes (default: max label + 1); ``epoch_offset``: the first epoch's number
          for the shuffle (continuing a fit); ``n_threads``: threads for this fit.

    Returns
    -------
    FitResult

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or grows past 1000 × its starting value; the
        message gives the epoch, the learning rate and the largest stable one.

    Examples
    --------
    The lesson: 100 steps of gradient descent from a = (-1, 1) with lr = 0.1.

    >>> import fastsgd
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line()
    >>> r = fastsgd.fit(X, y, w0=(-1.0, 1.0), learning_rate=0.1, epochs=100)
    >>> r.w.round(2), round(r.loss, 3)   # the noise's mean 0.5 lifts the intercept
    (array([3.12, 2.52]), 0.084)
    """
    cfg = make_config(config, options)
    entry = LOSSES[cfg.loss]
    data = Dataset.build(
        X, y, entry, n_classes=cfg.n_classes, sample_weight=sample_weight,
        class_weight=class_weight,
    )  # fmt: skip
    validation = None
    if validation_data is not None:
        X_val, y_val = pair(validation_data, "validation_data")
        validation = data.like(X_val, y_val, name_X="X_val", name_y="y_val")
    model = new_model(data.d, data.k, data.w_shape, cfg.fit_intercept, w0, b0)
    backend = CoreBackend(data, validation, cfg.n_threads or 0)
    return run(
        cfg, backend, model, entry, k=data.k, vector=data.vector,
        has_validation=validation is not None, callback=callback,
    )  # fmt: skip
