"""fastsgd.fit against its NumPy twin fastsgd.reference.fit, the lesson, and the guards."""

from __future__ import annotations

import math
import os
import signal
import threading
import time

import numpy as np
import pytest

import fastsgd
from fastsgd import reference
from fastsgd.datasets import make_line, make_regression

N = 103  # not a multiple of any batch size below, so the last batch is short


# --- data ----------------------------------------------------------------------------------


def regression_data(dtype=np.float64, k=None, n=N, d=4, seed=1):
    X, y, _ = make_regression(n=n, d=d, k=k, noise=0.3, seed=seed, dtype=dtype)
    return X, y + 0.5  # a non-zero mean, so the intercept has something to learn


def softmax_data(dtype=np.float64, n=N, d=4, k=3, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    scores = X.astype(np.float64) @ rng.standard_normal((d, k)) + rng.standard_normal((n, k))
    return X, np.argmax(scores, axis=1).astype(np.int64)


def logistic_data(dtype=np.float64, n=N, d=4, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    s = X.astype(np.float64) @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    return X, (s > 0).astype(np.int64)


# --- the lesson ----------------------------------------------------------------------------


def test_lesson_follows_the_full_batch_loop_over_reference_kernels():
    X, y = make_line()
    r = fastsgd.fit(
        X, y, w0=(-1, 1), learning_rate=0.1, batch_size=None, epochs=100, shuffle=False,
        loss_record="exact",
    )  # fmt: skip
    # The lesson's loop, written with the NumPy kernels.
    w = np.array([-1.0, 1.0])
    losses = [reference.mse(X, y, w)]
    for _ in range(100):
        _, grad, _ = reference.mse_grad(X, y, w)
        reference.sgd_step(w, grad, 0.1)
        losses.append(reference.mse(X, y, w))
    np.testing.assert_allclose(r.loss_history, losses, rtol=1e-6, atol=0)
    np.testing.assert_allclose(r.w, w, rtol=1e-9)
    assert r.n_epochs == 100
    assert r.n_steps == 100  # one step per epoch: the full batch
    assert r.b is None


# --- fit against reference.fit for every option --------------------------------------------

OPTIONS = {
    "full-batch": {"batch_size": None},
    "batch-1": {"batch_size": 1, "epochs": 3},
    "batch-7": {"batch_size": 7},
    "batch-64": {"batch_size": 64},
    "batch-n-1": {"batch_size": N - 1},
    "batch-over-n": {"batch_size": N + 5},
    "no-shuffle": {"batch_size": 7, "shuffle": False},
    "momentum": {"batch_size": 7, "momentum": 0.9},
    "nesterov": {"batch_size": 7, "momentum": 0.9, "nesterov": True},
    "dampening": {"batch_size": 7, "momentum": 0.8, "dampening": 0.5},
    "weight-decay": {"batch_size": 7, "weight_decay": 0.05},
    "intercept": {"batch_size": 7, "fit_intercept": True},
    "intercept-momentum-decay": {
        "batch_size": 16,
        "fit_intercept": True,
        "momentum": 0.5,
        "weight_decay": 0.01,
    },
    "invscaling": {"batch_size": 7, "schedule": "invscaling", "power_t": 0.5},
    "step": {"batch_size": 7, "schedule": "step", "step_size": 3, "gamma": 0.5},
    "cosine": {"batch_size": 7, "schedule": "cosine"},
    "adaptive": {"batch_size": 7, "schedule": "adaptive", "tol": 1e-2, "n_iter_no_change": 2},
    "callable": {"batch_size": 7, "schedule": lambda e: 0.05 / (1 + e)},
    "tol": {"batch_size": None, "tol": 1e-3, "n_iter_no_change": 3, "epochs": 200},
    "seed": {"batch_size": 7, "seed": 12345},
}


def assert_same_result(r, ref, rtol):
    np.testing.assert_allclose(r.w, ref.w, rtol=rtol, atol=rtol)
    if ref.b is None:
        assert r.b is None
    else:
        np.testing.assert_allclose(r.b, ref.b, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(r.loss_history, ref.loss_history, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(r.lr_history, ref.lr_history, rtol=1e-15)
    if ref.val_loss_history is not None:
        np.testing.assert_allclose(r.val_loss_history, ref.val_loss_history, rtol=rtol)
    assert (r.n_epochs, r.n_steps, r.stop_reason, r.converged, r.best_epoch) == (
        ref.n_epochs,
        ref.n_steps,
        ref.stop_reason,
        ref.converged,
        ref.best_epoch,
    )


def run_both(X, y, **kw):
    return fastsgd.fit(X, y, **kw), reference.fit(X, y, **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("k", [None, 3], ids=["y-n", "y-nk"])
@pytest.mark.parametrize("opts", OPTIONS.values(), ids=OPTIONS.keys())
def test_fit_matches_reference_mse(opts, k, dtype):
    X, y = regression_data(dtype, k=k)
    kw = {"learning_rate": 0.05, "epochs": 12, **opts}
    r, ref = run_both(X, y, **kw)
    # float32 rows may take the float32-product path (sums over rows stay in float64)
    assert_same_result(r, ref, rtol=1e-9 if dtype == np.float64 else 1e-6)
    assert r.w.shape == ((4,) if k is None else (4, 3))
    assert r.w.dtype == np.float64
    steps_per_epoch = 1 if opts["batch_size"] is None else math.ceil(N / min(opts["batch_size"], N))
    assert r.n_steps == r.n_epochs * steps_per_epoch
    assert r.loss < r.loss_history[0]  # it learned something


CLASSIFY_OPTIONS = {
    k: OPTIONS[k]
    for k in (
        "full-batch",
        "batch-1",
        "batch-7",
        "batch-over-n",
        "no-shuffle",
        "nesterov",
        "weight-decay",
        "intercept-momentum-decay",
        "cosine",
        "tol",
    )
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("loss", ["softmax", "logistic"])
@pytest.mark.parametrize("opts", CLASSIFY_OPTIONS.values(), ids=CLASSIFY_OPTIONS.keys())
def test_fit_matches_reference_classification(opts, loss, dtype):
    X, y = softmax_data(dtype) if loss == "softmax" else logistic_data(dtype)
    kw = {"loss": loss, "learning_rate": 0.2, "epochs": 12, **opts}
    r, ref = run_both(X, y, **kw)
    # float32 rows may take float32 lanes for the logistic loss's exp and log (and its
    # products); the sums over rows stay in float64
    assert_same_result(r, ref, rtol=1e-9 if dtype == np.float64 else 1e-6)
    assert r.w.shape == ((4, 3) if loss == "softmax" else (4,))
    assert r.loss < r.loss_history[0]


def test_softmax_n_classes_beyond_the_labels_present():
    X, y = softmax_data(k=3)
    r, ref = run_both(X, y, loss="softmax", n_classes=5, learning_rate=0.2, epochs=5)
    assert r.w.shape == (4, 5)
    assert_same_result(r, ref, rtol=1e-9)


def test_float32_and_float64_agree_to_float32_precision():
    X, y = regression_data(np.float64)
    r64 = fastsgd.fit(X, y, learning_rate=0.05, batch_size=7, epochs=10, fit_intercept=True)
    r32 = fastsgd.fit(
        X.astype(np.float32), y.astype(np.float32), learning_rate=0.05, batch_size=7,
        epochs=10, fit_intercept=True,
    )  # fmt: skip
    np.testing.assert_allclose(r32.w, r64.w, rtol=1e-5, atol=1e-5)
    assert not np.array_equal(r32.w, r64.w)  # the float32 data really was used as float32


def test_validation_and_early_stopping_match_reference():
    X, y = regression_data(n=40, d=30, seed=5)
    Xv, yv = regression_data(n=40, d=30, seed=6)
    kw = {"learning_rate": 0.02, "epochs": 300, "validation_data": (Xv, yv)}
    assert_same_result(*run_both(X, y, early_stopping=True, **kw), rtol=1e-9)
    assert_same_result(*run_both(X, y, **kw), rtol=1e-9)


# --- schedules against their formulas ------------------------------------------------------


def lr_of(schedule, epochs=20, **kw):
    X, y = regression_data()
    r = fastsgd.fit(X, y, learning_rate=0.08, batch_size=16, epochs=epochs, schedule=schedule, **kw)
    assert len(r.lr_history) == r.n_epochs == epochs
    return r.lr_history


def test_schedule_constant():
    np.testing.assert_array_equal(lr_of("constant"), np.full(20, 0.08))


@pytest.mark.parametrize("power_t", [0.25, 0.5, 1.0])
def test_schedule_invscaling(power_t):
    e = np.arange(20)
    np.testing.assert_allclose(lr_of("invscaling", power_t=power_t), 0.08 / (e + 1) ** power_t)


@pytest.mark.parametrize(("step_size", "gamma"), [(1, 0.9), (3, 0.5), (10, 0.1)])
def test_schedule_step(step_size, gamma):
    e = np.arange(20)
    expected = 0.08 * gamma ** (e // step_size)
    np.testing.assert_allclose(lr_of("step", step_size=step_size, gamma=gamma), expected)


@pytest.mark.parametrize("epochs", [1, 7, 20])
def test_schedule_cosine(epochs):
    e = np.arange(epochs)
    expected = 0.08 * (1 + np.cos(np.pi * e / epochs)) / 2
    np.testing.assert_allclose(lr_of("cosine", epochs=epochs), expected)
    assert lr_of("cosine", epochs=epochs)[0] == 0.08


def test_schedule_callable_gets_the_epoch():
    seen = []

    def schedule(e):
        seen.append(e)
        return 0.1 / (1 + e) ** 2

    np.testing.assert_allclose(lr_of(schedule, epochs=6), 0.1 / (np.arange(6) + 1) ** 2)
    assert seen == list(range(6))


@pytest.mark.parametrize("bad", [0.0, -0.1, math.nan, "fast"])
def test_schedule_callable_returning_a_bad_rate(bad):
    X, y = regression_data()
    err = TypeError if isinstance(bad, str) else ValueError
    with pytest.raises(err, match=r"schedule\(0\)"):
        fastsgd.fit(X, y, schedule=lambda e: bad)


# --- the loss record ------------------------------------------------------------------------


def test_progressive_loss_of_full_batches_is_the_exact_loss_one_epoch_behind():
    # one full batch per epoch: the loss of the batch before its step is the full-data loss
    # of the model the previous epoch left
    X, y = make_line()
    kw = {"w0": (-1, 1), "learning_rate": 0.1, "epochs": 20, "shuffle": False}
    exact = fastsgd.fit(X, y, loss_record="exact", **kw)
    prog = fastsgd.fit(X, y, **kw)  # the default
    assert prog.loss_history.shape == (20,)
    assert exact.loss_history.shape == (21,)
    np.testing.assert_allclose(prog.loss_history, exact.loss_history[:-1], rtol=1e-12)
    np.testing.assert_array_equal(prog.w, exact.w)  # the record does not change the steps
    assert len(fastsgd.fit(X, y, loss_record="none", **kw).loss_history) == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("loss", "data"),
    [("mse", regression_data), ("logistic", logistic_data), ("softmax", softmax_data)],
)
def test_progressive_loss_is_the_mean_of_each_batch_before_its_step(dtype, loss, data):
    X, y = data(dtype=dtype, n=301)
    kw = {"loss": loss, "batch_size": 16, "epochs": 4, "learning_rate": 0.05, "seed": 3,
          "fit_intercept": True}  # fmt: skip
    r = fastsgd.fit(X, y, **kw)
    # the NumPy loop: each epoch's batches in its order, each loss at the parameters
    # before the batch's step, summed over the epoch and divided by the rows
    ref = reference.fit(X, y, **kw)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(r.loss_history, ref.loss_history, rtol=tol)
    assert r.loss_history.shape == (4,)


def test_schedule_adaptive_divides_by_five_when_the_loss_stalls():
    # A large constant rate on noisy mini-batches plateaus, so the rate has to come down.
    X, y = regression_data(n=400, d=4)
    tol, patience = 1e-3, 2
    r = fastsgd.fit(
        X, y, learning_rate=0.2, batch_size=4, epochs=60, schedule="adaptive", tol=tol,
        n_iter_no_change=patience, loss_record="exact",
    )  # fmt: skip
    # Replay the documented rule on the recorded losses.
    expected, cur, best, stall = [], 0.2, r.loss_history[0], 0
    stopped = False
    for e in range(60):
        expected.append(cur)
        current = r.loss_history[e + 1]
        stall = 0 if current < best - tol else stall + 1
        best = min(best, current)
        if stall >= patience:
            if cur > 1e-6:  # scikit-learn's rule: divide while the rate is above 1e-6
                cur, stall = cur / 5, 0
            else:
                stopped = True
                break
    np.testing.assert_allclose(r.lr_history, expected, rtol=1e-15)
    assert len(set(r.lr_history)) >= 2  # the rate did come down at least once
    assert r.stop_reason == ("adaptive" if stopped else "epochs")


# --- stopping rules ------------------------------------------------------------------------


def test_tol_stops_when_the_loss_stops_improving():
    X, y = make_line()
    tol, patience = 1e-4, 3
    r = fastsgd.fit(X, y, learning_rate=0.1, epochs=1000, tol=tol, n_iter_no_change=patience)
    assert r.converged
    assert r.stop_reason == "tol"
    assert r.n_epochs < 1000
    h = r.loss_history
    # each of the last `patience` epochs fell short of the best loss before it by tol ...
    last = len(h) - 1
    for j in range(last - patience + 1, last + 1):
        assert h[j] >= h[:j].min() - tol
    # ... and the epoch before them still improved by tol (scikit-learn's rule)
    j = last - patience
    assert h[j] < h[:j].min() - tol


def test_no_tol_runs_every_epoch():
    X, y = make_line()
    r = fastsgd.fit(X, y, learning_rate=0.1, epochs=300)
    assert (r.n_epochs, r.stop_reason, r.converged) == (300, "epochs", False)


def overfitting_problem():
    # Few noisy rows, many features: training keeps improving, validation turns around.
    rng = np.random.default_rng(7)
    d = 30
    w_true = np.zeros(d)
    w_true[:3] = (1.0, -2.0, 0.5)
    X = rng.standard_normal((35, d))
    Xv = rng.standard_normal((200, d))
    y = X @ w_true + 1.0 * rng.standard_normal(35)
    yv = Xv @ w_true + 1.0 * rng.standard_normal(200)
    return X, y, Xv, yv


def test_early_stopping_restores_the_best_parameters():
    X, y, Xv, yv = overfitting_problem()
    kw = {"learning_rate": 0.01, "epochs": 3000, "n_iter_no_change": 20, "record_path": True}
    full = fastsgd.fit(X, y, validation_data=(Xv, yv), **kw)
    assert full.stop_reason == "epochs"
    assert full.val_loss_history.shape == (3001,)
    best = int(np.argmin(full.val_loss_history))
    assert 0 < best < 3000 - 20  # the validation loss turns around: it overfits

    r = fastsgd.fit(X, y, validation_data=(Xv, yv), early_stopping=True, **kw)
    assert r.stop_reason == "early_stopping"
    assert r.converged
    assert r.best_epoch == best
    assert r.n_epochs == best + 20
    np.testing.assert_array_equal(r.w, r.path_w[best])  # the best parameters, restored
    assert not np.array_equal(r.w, r.path_w[-1])
    np.testing.assert_allclose(fastsgd.mse(Xv, yv, r.w), full.val_loss_history[best], rtol=1e-9)
    np.testing.assert_allclose(r.val_loss_history, full.val_loss_history[: r.n_epochs + 1])
    assert r.loss_history[-1] < fastsgd.mse(X, y, r.w)  # training went on past the best


def test_early_stopping_with_intercept_restores_b():
    X, y, Xv, yv = overfitting_problem()
    r = fastsgd.fit(
        X, y + 3.0, validation_data=(Xv, yv + 3.0), early_stopping=True, fit_intercept=True,
        learning_rate=0.01, epochs=3000, n_iter_no_change=20, record_path=True,
    )  # fmt: skip
    assert r.stop_reason == "early_stopping"
    assert r.path_b[r.best_epoch] == r.b
    assert r.path_b[-1] != r.b


def test_validation_loss_history_without_early_stopping():
    X, y = regression_data()
    Xv, yv = regression_data(seed=9)
    r = fastsgd.fit(X, y, validation_data=(Xv, yv), record_path=True, epochs=5)
    expected = [fastsgd.mse(Xv, yv, w) for w in r.path_w]
    np.testing.assert_allclose(r.val_loss_history, expected, rtol=1e-12)
    assert r.best_epoch is None


# --- callbacks, record_path, progress -------------------------------------------------------


def test_callback_gets_epoch_loss_and_weights():
    X, y = regression_data()
    calls = []
    r = fastsgd.fit(
        X, y, batch_size=8, epochs=6, record_path=True,
        callback=lambda epoch, loss, w: calls.append((epoch, loss, np.array(w))),
    )  # fmt: skip
    assert [c[0] for c in calls] == [1, 2, 3, 4, 5, 6]
    # the loss it gets is the one recorded: by default the epoch's progressive loss
    np.testing.assert_array_equal([c[1] for c in calls], r.loss_history)
    np.testing.assert_array_equal(np.stack([c[2] for c in calls]), r.path_w[1:])


def test_callback_returning_false_stops_training():
    X, y = regression_data()
    seen = []

    def stop_at_three(epoch, loss, w):
        seen.append(epoch)
        return epoch < 3 and None  # None keeps going; False stops

    r = fastsgd.fit(X, y, batch_size=8, epochs=50, callback=stop_at_three)
    assert seen == [1, 2, 3]
    assert (r.n_epochs, r.stop_reason) == (3, "callback")
    assert len(r.loss_history) == 3  # one progressive loss per epoch run


def test_callback_exception_propagates():
    X, y = regression_data()

    def boom(epoch, loss, w):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        fastsgd.fit(X, y, callback=boom)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("k", [None, 3])
def test_record_path_shapes(k, fit_intercept):
    X, y = regression_data(k=k)
    r = fastsgd.fit(
        X, y, epochs=7, batch_size=10, record_path=True, fit_intercept=fit_intercept,
        loss_record="exact",
    )  # fmt: skip
    w_shape = (4,) if k is None else (4, 3)
    assert r.path_w.shape == (8, *w_shape)
    np.testing.assert_array_equal(r.path_w[0], np.zeros(w_shape))
    np.testing.assert_array_equal(r.path_w[-1], r.w)
    if fit_intercept:
        assert r.path_b.shape == ((8,) if k is None else (8, 3))
        np.testing.assert_array_equal(r.path_b[-1], r.b)
    else:
        assert r.path_b is None
    # each recorded point has the recorded loss
    for w, b, loss in zip(
        r.path_w, r.path_b if fit_intercept else [None] * 8, r.loss_history, strict=True
    ):
        np.testing.assert_allclose(fastsgd.mse(X, y, w, b), loss, rtol=1e-12)


def test_no_path_by_default():
    X, y = regression_data()
    r = fastsgd.fit(X, y, epochs=2)
    assert r.path_w is None
    assert r.path_b is None


def test_progress_bar_on_stderr(capsys):
    X, y = regression_data()
    r = fastsgd.fit(X, y, epochs=4, progress=True)
    err = capsys.readouterr().err
    assert "fastsgd" in err
    assert "epoch" in err
    assert r.n_epochs == 4


def test_zero_epochs_returns_the_start():
    X, y = regression_data()
    r = fastsgd.fit(X, y, w0=np.ones(4), epochs=0, loss_record="exact")
    np.testing.assert_array_equal(r.w, np.ones(4))
    assert r.n_epochs == r.n_steps == 0
    np.testing.assert_allclose(r.loss_history, [fastsgd.mse(X, y, np.ones(4))])


@pytest.mark.parametrize("k", [None, 2])
def test_w0_and_b0_are_not_modified(k):
    X, y = regression_data(k=k)
    w0 = np.ones((4,) if k is None else (4, k))
    b0 = np.full(k, 0.5) if k else np.float64(0.5)
    r = fastsgd.fit(X, y, w0=w0, b0=b0, fit_intercept=True, epochs=3)
    np.testing.assert_array_equal(w0, 1.0)
    np.testing.assert_array_equal(b0, 0.5)
    assert not np.allclose(r.w, 1.0)
    assert not np.allclose(r.b, 0.5)


def test_read_only_w0_and_b0():
    X, y = regression_data(k=2)
    w0, b0 = np.ones((4, 2)), np.zeros(2)
    w0.flags.writeable = b0.flags.writeable = False
    r = fastsgd.fit(X, y, w0=w0, b0=b0, fit_intercept=True, epochs=3)
    ref = reference.fit(X, y, w0=w0, b0=b0, fit_intercept=True, epochs=3)
    assert_same_result(r, ref, rtol=1e-9)


def test_x_is_used_in_place_and_left_unchanged():
    X, y = regression_data(np.float32)
    X.flags.writeable = False  # any write into X would fail
    before = X.copy()
    fastsgd.fit(X, y, epochs=3, batch_size=8)
    np.testing.assert_array_equal(X, before)


# --- learning rates: converge, oscillate, diverge ------------------------------------------


def test_suggest_learning_rate_is_the_stability_bound():
    X, _ = make_line()
    n = len(X)
    lam = np.linalg.eigvalsh(2 * X.T @ X / n).max()
    np.testing.assert_allclose(fastsgd.suggest_learning_rate(X), 2 / lam, rtol=1e-5)
    assert 0.95 < fastsgd.suggest_learning_rate(X) < 1.0  # the lesson's "lr≈1.0"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_suggest_learning_rate_other_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((500, 6)) * rng.uniform(0.1, 10, 6) + rng.uniform(-5, 5, 6)
    n = len(X)
    lam = np.linalg.eigvalsh(2 * X.T @ X / n).max()
    np.testing.assert_allclose(fastsgd.suggest_learning_rate(X), 2 / lam, rtol=1e-5)
    X1 = np.column_stack([X, np.ones(n)])  # the intercept as a column of ones
    lam1 = np.linalg.eigvalsh(2 * X1.T @ X1 / n).max()
    np.testing.assert_allclose(
        fastsgd.suggest_learning_rate(X, fit_intercept=True), 2 / lam1, rtol=1e-5
    )
    lam_soft = np.linalg.eigvalsh(0.5 * X.T @ X / n).max()
    np.testing.assert_allclose(
        fastsgd.suggest_learning_rate(X, loss="softmax"), 2 / lam_soft, rtol=1e-5
    )


def test_lr_0_1_converges_on_the_lesson():
    X, y = make_line()
    r = fastsgd.fit(X, y, w0=(-1, 1), learning_rate=0.1, epochs=500, shuffle=False)
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(r.w, best, rtol=1e-6)
    h = r.loss_history
    assert np.all(np.diff(h) <= 1e-12 * h[1:])  # monotone (up to rounding) below the bound


def test_lr_at_the_bound_oscillates_without_converging():
    X, y = make_line()
    lr = fastsgd.suggest_learning_rate(X)
    r = fastsgd.fit(X, y, w0=(-1, 1), learning_rate=lr, epochs=200, shuffle=False, record_path=True)
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    _, evecs = np.linalg.eigh(2 * X.T @ X / len(X))
    top, low = evecs[:, -1], evecs[:, 0]
    err = r.path_w - best
    amp = err @ top  # along the top eigendirection: multiplied by 1 - lr·λ_max = -1 each step
    assert np.all(np.sign(amp[1:]) == -np.sign(amp[:-1]))  # it flips sign every epoch
    np.testing.assert_allclose(np.abs(amp), abs(amp[0]), rtol=1e-3)  # constant amplitude
    assert abs(amp[0]) > 0.5
    assert abs(err[-1] @ low) < 1e-6  # the other direction converged
    optimum = fastsgd.mse(X, y, best)
    assert r.loss > 10 * optimum  # the loss does not converge ...
    assert r.loss < r.loss_history[0]  # ... nor blow up
    assert r.loss_history[100:].max() / r.loss_history[100:].min() < 1.001
    assert r.stop_reason == "epochs"


def test_lr_1_1_diverges_with_a_clear_error():
    X, y = make_line()
    bound = 2 / np.linalg.eigvalsh(2 * X.T @ X / len(X)).max()
    with pytest.raises(fastsgd.DivergenceError) as info:
        fastsgd.fit(
            X, y, w0=(-1, 1), learning_rate=1.1, epochs=100, shuffle=False, loss_record="exact"
        )
    e = info.value
    assert isinstance(e, FloatingPointError)
    assert 1 <= e.epoch <= 100
    assert e.learning_rate == 1.1
    np.testing.assert_allclose(e.max_stable_learning_rate, bound, rtol=1e-5)
    msg = str(e)
    assert f"epoch {e.epoch}" in msg
    assert "learning_rate=1.1" in msg
    assert f"{bound:.4g}" in msg
    # the guard fired when the loss passed 1000 × its start, not before
    w = np.array([-1.0, 1.0])
    losses = [reference.mse(X, y, w)]
    while losses[-1] <= 1e3 * losses[0]:
        reference.sgd_step(w, reference.mse_grad(X, y, w)[1], 1.1)
        losses.append(reference.mse(X, y, w))
    assert e.epoch == len(losses) - 1


def test_divergence_to_infinity_is_caught():
    X, y = make_line()
    with pytest.raises(fastsgd.DivergenceError, match=r"learning_rate=1e\+06"):
        fastsgd.fit(X * 1e3, y, learning_rate=1e6, epochs=5)


# --- threads, interrupts -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("batch_size", [None, 9000], ids=["full", "batch-9000"])
def test_same_bits_for_one_and_two_threads(batch_size, dtype):
    # d = 64: a chunk holds 4096 rows, so 20_000 rows make five chunks
    X, y = regression_data(dtype, n=20_000, d=64, seed=4)
    kw = {"learning_rate": 0.05, "batch_size": batch_size, "epochs": 3, "fit_intercept": True}
    r1 = fastsgd.fit(X, y, n_threads=1, **kw)
    r2 = fastsgd.fit(X, y, n_threads=2, **kw)
    np.testing.assert_array_equal(r1.w, r2.w)
    assert r1.b == r2.b
    np.testing.assert_array_equal(r1.loss_history, r2.loss_history)


@pytest.mark.timeout(60)
def test_ctrl_c_stops_a_long_fit_promptly(sigint_raises):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2_000_000, 4)).astype(np.float32)  # an epoch of 2 M steps
    y = (X @ np.array([1.0, -1.0, 0.5, 2.0])).astype(np.float32)
    sent = {}
    epochs_done = []

    def interrupt():
        sent["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    def start_timer(epoch, loss, w):
        epochs_done.append(epoch)
        if epoch == 1:  # the signal arrives while the core runs epoch 2
            threading.Timer(0.02, interrupt).start()

    with pytest.raises(KeyboardInterrupt):
        fastsgd.fit(X, y, learning_rate=1e-3, batch_size=1, epochs=10**6, callback=start_timer)
    assert time.perf_counter() - sent["t"] < 2.0
    assert epochs_done[0] == 1
    assert len(epochs_done) <= 2  # stopped inside the C++ loop, not after many epochs
    # the process is healthy: the next fit works and agrees with the reference
    Xs, ys = regression_data()
    assert_same_result(*run_both(Xs, ys, batch_size=7, epochs=3), rtol=1e-9)


# --- bad input -----------------------------------------------------------------------------


def fit_line(**kw):
    X, y = make_line(n=20)
    args = {"X": X, "y": y, **kw}
    return fastsgd.fit(args.pop("X"), args.pop("y"), **args)


BAD = {
    "batch_size-0": ({"batch_size": 0}, ValueError, "batch_size"),
    "batch_size-neg": ({"batch_size": -3}, ValueError, "batch_size"),
    "batch_size-float": ({"batch_size": 2.5}, TypeError, "batch_size"),
    "epochs-neg": ({"epochs": -1}, ValueError, "epochs"),
    "epochs-float": ({"epochs": 1.5}, TypeError, "epochs"),
    "schedule": ({"schedule": "linear"}, ValueError, "schedule"),
    "loss": ({"loss": "no-such-loss"}, ValueError, "loss"),
    "lr-0": ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    "lr-neg": ({"learning_rate": -0.1}, ValueError, "learning_rate"),
    "lr-nan": ({"learning_rate": math.nan}, ValueError, "learning_rate"),
    "lr-inf": ({"learning_rate": math.inf}, ValueError, "learning_rate"),
    "lr-string": ({"learning_rate": "fast"}, ValueError, "learning_rate"),
    "lr-none": ({"learning_rate": None}, TypeError, "learning_rate"),
    "w0-shape": ({"w0": np.zeros(3)}, ValueError, "w0"),
    "w0-nan": ({"w0": np.array([np.nan, 0.0])}, ValueError, "w0"),
    "b0-without-intercept": ({"b0": 1.0}, ValueError, "b0"),
    "momentum-neg": ({"momentum": -0.5}, ValueError, "momentum"),
    "dampening": ({"momentum": 0.5, "dampening": 2.0}, ValueError, "dampening"),
    "nesterov-no-momentum": ({"nesterov": True}, ValueError, "nesterov"),
    "weight_decay-neg": ({"weight_decay": -1.0}, ValueError, "weight_decay"),
    "tol-neg": ({"tol": -1.0}, ValueError, "tol"),
    "n_iter_no_change-0": ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change"),
    "early-stopping-alone": ({"early_stopping": True}, ValueError, "validation_data"),
    "validation-not-pair": ({"validation_data": [1, 2, 3]}, TypeError, "validation_data"),
    "callback-not-callable": ({"callback": 3}, TypeError, "callback"),
    "n_threads-0": ({"n_threads": 0}, ValueError, "n_threads"),
    "y-length": ({"y": np.zeros(19)}, ValueError, "y"),
    "y-3d": ({"y": np.zeros((20, 1, 1))}, ValueError, "y"),
    "y-nan": ({"y": np.r_[np.nan, np.zeros(19)]}, ValueError, "y contains NaN"),
    "y-inf": ({"y": np.r_[np.inf, np.zeros(19)]}, ValueError, "y contains infinity"),
    "X-nan": ({"X": np.r_[[[np.nan, 1.0]], np.ones((19, 2))]}, ValueError, "X contains NaN"),
    "X-1d": ({"X": np.ones(20)}, ValueError, "X must be 2-d"),
    "X-complex": ({"X": np.ones((20, 2), dtype=complex)}, TypeError, "X must be real"),
    "X-strings": ({"X": np.full((20, 2), "a")}, TypeError, "X"),
    "X-empty": ({"X": np.ones((0, 2)), "y": np.ones(0)}, ValueError, "X has no rows"),
    "shuffle-False-string": ({"shuffle": "False"}, ValueError, "shuffle must be True or False"),
    "shuffle-bogus": ({"shuffle": "bogus"}, ValueError, "shuffle"),
    "shuffle-block": ({"shuffle": "block"}, ValueError, "'blocks'"),
    "momentum-1.5": ({"momentum": 1.5}, ValueError, r"momentum must be in \[0, 1\)"),
    "average-word": ({"average": "sometimes"}, ValueError, "average"),
    "update-unknown": ({"update": "rmsprop"}, ValueError, "update"),
}


@pytest.mark.parametrize(("kw", "err", "match"), BAD.values(), ids=BAD.keys())
def test_bad_input_names_the_argument(kw, err, match):
    with pytest.raises(err, match=match):
        fit_line(**kw)


def test_validation_data_checked():
    X, y = make_line(n=20)
    with pytest.raises(ValueError, match="validation_data"):
        fastsgd.fit(X, y, validation_data=(np.ones((5, 3)), np.ones(5)))
    with pytest.raises(ValueError, match="X_val contains NaN"):
        fastsgd.fit(X, y, validation_data=(np.full((5, 2), np.nan), np.ones(5)))
    with pytest.raises(ValueError, match="y_val"):
        fastsgd.fit(X, y, validation_data=(np.ones((5, 2)), np.ones(4)))


CLASS_BAD = {
    "softmax-float-labels": ("softmax", np.array([0.0, 1.0, 2.0] * 5), TypeError, "y"),
    "softmax-negative": ("softmax", np.array([0, 1, -1] * 5), ValueError, "y"),
    "softmax-one-class": ("softmax", np.zeros(15, dtype=int), ValueError, "class"),
    "softmax-2d": ("softmax", np.zeros((15, 2), dtype=int), ValueError, "y"),
    "logistic-float-labels": ("logistic", np.array([0.0, 1.0, 1.0] * 5), TypeError, "y"),
    "logistic-label-2": ("logistic", np.array([0, 1, 2] * 5), ValueError, "y"),
    "logistic-negative": ("logistic", np.array([0, 1, -1] * 5), ValueError, "y"),
}


@pytest.mark.parametrize(("loss", "y", "err", "match"), CLASS_BAD.values(), ids=CLASS_BAD.keys())
def test_bad_labels(loss, y, err, match):
    X = np.random.default_rng(0).standard_normal((15, 3))
    with pytest.raises(err, match=match):
        fastsgd.fit(X, y, loss=loss)


def test_softmax_label_beyond_n_classes():
    X, y = softmax_data(k=3)
    with pytest.raises(ValueError, match=r"outside \[0, 2\)"):
        fastsgd.fit(X, y, loss="softmax", n_classes=2)


def test_softmax_labels_that_are_not_class_indices_are_refused():
    X = np.random.default_rng(0).standard_normal((30, 2))
    y = np.array([0, 1, 100] * 10)
    with pytest.raises(ValueError, match="98 of the classes below it have no rows"):
        fastsgd.fit(X, y, loss="softmax", epochs=1)
    r = fastsgd.fit(X, y, loss="softmax", epochs=1, n_classes=101)  # asked for: trains 101
    assert r.w.shape == (2, 101)
