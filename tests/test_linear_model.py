"""fastsgd.linear_model against scikit-learn's SGDClassifier and SGDRegressor.

The drop-in takes scikit-learn's steps in scikit-learn's order of floating-point
operations, so on float64 data its coefficients equal scikit-learn's. The tests ask for
agreement within 1e-6 relative (the issue's bar) and report how close they are; most
cases agree to the last bit.
"""

from __future__ import annotations

import io
import itertools
import pickle
import re
import warnings
from contextlib import redirect_stdout
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn")

import sklearn
from sklearn import linear_model as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastsgd import _core
from fastsgd import linear_model as fs

CLASSIFIER_LOSSES = ["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron",
                     "squared_error", "huber", "epsilon_insensitive",
                     "squared_epsilon_insensitive"]  # fmt: skip
REGRESSOR_LOSSES = ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"]
PENALTIES = ["l2", "l1", "elasticnet", None]
RATES = ["optimal", "constant", "invscaling", "adaptive"]
AVERAGES = [False, True, 7]


def _data(n: int = 60, d: int = 4, classes: int = 2, seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    score = X @ rng.randn(d) + 0.5 * rng.randn(n)
    if classes == 0:
        return X, score
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y


def _both(cls_name: str, X: Any, y: Any, fit: str = "fit", **params: Any) -> tuple[Any, Any]:
    """The same fit with scikit-learn's class and fastsgd's; each error must be the same."""
    out = []
    errors = []
    for module in (sk, fs):
        est = getattr(module, cls_name)(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                getattr(est, fit)(X, y)
            except ValueError as exc:
                errors.append(str(exc))
                est = None
        out.append(est)
    if errors:
        assert len(errors) == 2, errors
        assert errors[0] == errors[1]
    return out[0], out[1]


def _assert_same(a: Any, b: Any, rtol: float = 1e-6) -> None:
    if a is None:
        assert b is None
        return
    scale = max(1.0, float(np.max(np.abs(a.coef_))))
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=rtol, atol=rtol * scale * 1e-6)
    iscale = max(1.0, float(np.max(np.abs(a.intercept_))))
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=rtol, atol=rtol * iscale * 1e-6)
    assert b.n_iter_ == a.n_iter_
    assert b.t_ == a.t_
    assert b.coef_.shape == a.coef_.shape
    assert b.intercept_.shape == a.intercept_.shape
    assert b.coef_.dtype == a.coef_.dtype


# --- trajectory equality: every combination ---------------------------------------------------

WEIGHTS = ["none", "sample", "class", "balanced"]
_X2, _Y2 = _data()
_SW = np.random.RandomState(1).uniform(0.2, 2.0, _X2.shape[0])


@pytest.mark.parametrize("loss", CLASSIFIER_LOSSES)
def test_classifier_equals_sklearn_every_combination(loss):
    """loss × penalty × learning_rate × average × weights, shuffle=False, binary."""
    for penalty, rate, average, weights in itertools.product(PENALTIES, RATES, AVERAGES, WEIGHTS):
        params = {"loss": loss, "penalty": penalty, "learning_rate": rate, "average": average,
                      "shuffle": False, "max_iter": 6, "tol": 1e-3, "n_iter_no_change": 2, "eta0": 0.05,
                      "alpha": 1e-3}  # fmt: skip
        if weights == "class":
            params["class_weight"] = {0: 0.5, 1: 2.0}
        elif weights == "balanced":
            params["class_weight"] = "balanced"
        sw = _SW if weights == "sample" else None
        a, b = (m.SGDClassifier(**params) for m in (sk, fs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a.fit(_X2, _Y2, sample_weight=sw)
            b.fit(_X2, _Y2, sample_weight=sw)
        _assert_same(a, b)


@pytest.mark.parametrize("loss", REGRESSOR_LOSSES)
def test_regressor_equals_sklearn_every_combination(loss):
    X, y = _data(classes=0)
    for penalty, rate, average, weighted in itertools.product(
        PENALTIES, RATES, AVERAGES, [False, True]
    ):
        params = {"loss": loss, "penalty": penalty, "learning_rate": rate, "average": average,
                      "shuffle": False, "max_iter": 6, "tol": 1e-3, "n_iter_no_change": 2, "eta0": 0.02,
                      "alpha": 1e-3}  # fmt: skip
        sw = _SW if weighted else None
        a, b = (m.SGDRegressor(**params) for m in (sk, fs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a.fit(X, y, sample_weight=sw)
            b.fit(X, y, sample_weight=sw)
        _assert_same(a, b)


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "modified_huber", "squared_error"])
@pytest.mark.parametrize("average", [False, True])
def test_multiclass_one_vs_rest_equals_sklearn(loss, average):
    X, y = _data(n=90, classes=3)
    for penalty, rate in itertools.product(["l2", "elasticnet"], RATES):
        a, b = _both("SGDClassifier", X, y, loss=loss, penalty=penalty, learning_rate=rate,
                     average=average, shuffle=False, max_iter=5, tol=1e-3,
                     n_iter_no_change=2, class_weight={0: 2.0}, eta0=0.05)  # fmt: skip
        _assert_same(a, b)


def test_multiclass_n_jobs_gives_the_same_model():
    X, y = _data(n=200, classes=4)
    a, b = _both("SGDClassifier", X, y, n_jobs=1, random_state=3)
    _, c = _both("SGDClassifier", X, y, n_jobs=3, random_state=3)
    _assert_same(a, b)
    _assert_same(a, c)
    assert c.classes_.tolist() == [0, 1, 2, 3]


# --- scikit-learn's defaults, its shuffle, stopping and early stopping -------------------------


@pytest.mark.parametrize("random_state", [0, 7, "instance"])
def test_defaults_with_shuffle_equal_sklearn(random_state):
    """With shuffle=True the rows are visited in scikit-learn's own order."""
    X, y = _data(n=150, classes=2)
    for cls, target in (("SGDClassifier", y), ("SGDRegressor", _data(n=150, classes=0)[1])):
        rs = [np.random.RandomState(5) if random_state == "instance" else random_state
              for _ in range(2)]  # fmt: skip
        a, b = (getattr(m, cls)(random_state=r) for m, r in zip((sk, fs), rs, strict=True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a.fit(X, target)
            b.fit(X, target)
        _assert_same(a, b)
        if random_state == "instance":  # both drew the same numbers from the RandomState
            assert rs[0].randint(1000) == rs[1].randint(1000)


@pytest.mark.parametrize("average", [False, True, 2000])
@pytest.mark.parametrize("tol", [None, 1e-3])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize(
    ("cls", "loss"),
    [("SGDClassifier", "hinge"), ("SGDClassifier", "log_loss"), ("SGDClassifier", "modified_huber"),
     ("SGDRegressor", "squared_error"), ("SGDRegressor", "epsilon_insensitive")],
)  # fmt: skip
def test_float64_dense_fit_is_sklearns_bit_for_bit(cls, loss, shuffle, tol, average):
    """scikit-learn's defaults on float64 rows (the per-row loop, whose next score is summed
    during the update, with the objective's norms when tol stops on it; odd d leaves a
    tail), averaged from the first step or from step 2000 too: the coefficients are
    scikit-learn's to the bit."""
    X, y = _data(n=3000, d=13, classes=2 if cls == "SGDClassifier" else 0, seed=6)
    a, b = _both(cls, X, y, loss=loss, shuffle=shuffle, max_iter=3, tol=tol, random_state=2,
                 average=average)  # fmt: skip
    np.testing.assert_array_equal(b.coef_, a.coef_)
    np.testing.assert_array_equal(b.intercept_, a.intercept_)
    assert b.t_ == a.t_


@pytest.mark.parametrize("isa", list(_core.build_info()["isas_compiled"]))
def test_each_sequential_build_gives_sklearns_bits(isa):
    """The per-row epochs are compiled twice on x86-64 (without instruction-set flags, and
    with AVX2 but no FMA) and follow the active kernels' set; each build gives
    scikit-learn's float64 coefficients to the bit, dense and sparse, averaged or not."""
    before = _core.active_isa()
    if not _core.set_isa(isa):
        pytest.skip(f"this CPU does not run {isa}")
    try:
        assert _core.sequential_set() == ("baseline" if isa == "baseline" else "avx2")
        X, y = _data(n=2000, d=13, classes=2, seed=8)
        for cls, target, loss in (("SGDClassifier", y, "log_loss"),
                                  ("SGDRegressor", X[:, 0] - 2.0 * X[:, 3], "huber")):  # fmt: skip
            for data, average in ((X, False), (X, True), (sp.csr_matrix(X), False)):
                a, b = _both(cls, data, target, loss=loss, max_iter=3, tol=None, random_state=4,
                             average=average)  # fmt: skip
                np.testing.assert_array_equal(b.coef_, a.coef_)
                np.testing.assert_array_equal(b.intercept_, a.intercept_)
    finally:
        assert _core.set_isa(before)


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize(
    ("cls", "classes", "weights"),
    [*(("SGDClassifier", c, w) for c in (2, 3) for w in ("sample", "class", "balanced")),
     ("SGDRegressor", 0, "sample")],
)  # fmt: skip
def test_shuffled_weighted_rows_are_sklearns_bit_for_bit(cls, classes, weights, layout):
    """Shuffled rows with sample or class weights: the per-row loop gathers the targets and
    weights of the next 256 rows ahead of their steps (1000 rows: three whole chunks and a
    part), and the classifiers read each binary problem's labels as a byte mask (sparse
    rows too); the coefficients are still scikit-learn's to the bit."""
    X, y = _data(n=1000, d=5, classes=classes, seed=4)
    if layout == "csr":
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    params: dict[str, Any] = {"max_iter": 3, "tol": None, "random_state": 1}
    if weights == "class":
        params["class_weight"] = {0: 0.5, 1: 2.0}
    elif weights == "balanced":
        params["class_weight"] = "balanced"
    a, b = (getattr(m, cls)(**params) for m in (sk, fs))
    sw = np.random.RandomState(2).uniform(0.2, 2.0, X.shape[0]) if weights == "sample" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(X, y, sample_weight=sw)
        b.fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(b.coef_, a.coef_)
    np.testing.assert_array_equal(b.intercept_, a.intercept_)


def test_positive_mask_goes_with_binary_labels():
    """The core's byte mask of labels == positive: checked against the labels it stands for
    (one binary output), its length and its dtype."""
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    X = np.zeros((4, 2))
    options = _core.EpochOptions(_core.LossSpec("hinge", [1.0]), batch_size=1,
                                 sklearn_arithmetic=True)  # fmt: skip

    def epoch(targets: Any, k: int = 1) -> None:
        _core.Trainer(X, targets).epoch(_core.Model(k, 2, True), options)

    mask = (labels == 1).view(np.uint8)
    epoch(_core.Targets(labels=labels, positive_mask=mask))  # the mask as the drop-in makes it
    with pytest.raises(ValueError, match="positive_mask goes with labels"):
        epoch(_core.Targets(Y=np.zeros((4, 1)), positive_mask=mask))
    with pytest.raises(ValueError, match="positive_mask goes with labels"):
        epoch(_core.Targets(labels=labels, positive_mask=mask), k=2)
    for bad in (mask[:3], labels):
        with pytest.raises((ValueError, TypeError), match="positive_mask"):
            epoch(_core.Targets(labels=labels, positive_mask=bad))


@pytest.mark.parametrize("power_t", [0.25, 0.5, 0.3])
@pytest.mark.parametrize("cls", ["SGDClassifier", "SGDRegressor"])
def test_invscaling_rates_are_sklearns_bit_for_bit(cls, power_t):
    """Invscaling's rates eta0 / t^power_t: at power_t 1/4 and 1/2 the per-row loop computes
    them 64 at a time from square roots, not with a pow a step; the coefficients are still
    scikit-learn's to the bit (40,000 steps)."""
    X, y = _data(n=8000, d=7, classes=2 if cls == "SGDClassifier" else 0, seed=9)
    a, b = _both(cls, X, y, learning_rate="invscaling", eta0=0.01, power_t=power_t,
                 max_iter=5, tol=None, random_state=3)  # fmt: skip
    np.testing.assert_array_equal(b.coef_, a.coef_)
    np.testing.assert_array_equal(b.intercept_, a.intercept_)


@pytest.mark.parametrize("cls", ["SGDClassifier", "SGDRegressor"])
@pytest.mark.parametrize("tol", [1e-3, None])
@pytest.mark.parametrize("rate", ["optimal", "adaptive"])
def test_early_stopping_equals_sklearn(cls, tol, rate):
    X, y = _data(n=200, classes=3 if cls == "SGDClassifier" else 0, seed=2)
    a, b = _both(cls, X, y, early_stopping=True, validation_fraction=0.2, tol=tol,
                 n_iter_no_change=3, random_state=1, learning_rate=rate, eta0=0.01,
                 max_iter=50)  # fmt: skip
    _assert_same(a, b)


def test_log_loss_early_stopping_keeps_sklearns_validation_score():
    # scikit-learn scores the validation rows of a log-loss problem with labels 0/1 against
    # predictions -1/+1: the drop-in keeps that rule so that it stops at the same epoch.
    X, y = _data(n=300, classes=2, seed=4)
    a, b = _both("SGDClassifier", X, y, loss="log_loss", early_stopping=True,
                 random_state=0, max_iter=100)  # fmt: skip
    _assert_same(a, b)


def test_adaptive_rate_divides_as_sklearn():
    X, y = _data(n=100, classes=0)
    a, b = _both("SGDRegressor", X, y, learning_rate="adaptive", eta0=0.5, tol=1e-2,
                 n_iter_no_change=2, max_iter=60, random_state=0)  # fmt: skip
    _assert_same(a, b)
    assert a.n_iter_ < 60


# --- partial_fit, warm starts and initial parameters -------------------------------------------


@pytest.mark.parametrize("average", [False, True, 3])
@pytest.mark.parametrize("classes", [2, 3])
def test_partial_fit_sequence_equals_sklearn(average, classes):
    X, y = _data(n=120, classes=classes)
    a, b = (
        sk.SGDClassifier(average=average, random_state=0),
        fs.SGDClassifier(average=average, random_state=0),
    )
    labels = np.unique(y)
    for chunk in np.array_split(np.arange(120), 4):
        a.partial_fit(X[chunk], y[chunk], classes=labels)
        b.partial_fit(X[chunk], y[chunk], classes=labels)
        _assert_same(a, b)


@pytest.mark.parametrize("average", [False, True])
def test_regressor_partial_fit_and_warm_start_equal_sklearn(average):
    X, y = _data(n=100, classes=0)
    a, b = (
        sk.SGDRegressor(average=average, random_state=0),
        fs.SGDRegressor(average=average, random_state=0),
    )
    for chunk in np.array_split(np.arange(100), 3):
        a.partial_fit(X[chunk], y[chunk])
        b.partial_fit(X[chunk], y[chunk])
        _assert_same(a, b)
    a.set_params(warm_start=True, max_iter=3, tol=None)
    b.set_params(warm_start=True, max_iter=3, tol=None)
    a.fit(X, y)
    b.fit(X, y)
    _assert_same(a, b)


def test_coef_init_and_intercept_init_equal_sklearn():
    X, y = _data(n=80, classes=3)
    coef0, b0 = np.ones((3, 4)) * 0.1, np.array([0.5, -0.5, 0.0])
    params = {"max_iter": 4, "tol": None, "random_state": 0}
    a = sk.SGDClassifier(**params).fit(X, y, coef_init=coef0, intercept_init=b0)
    b = fs.SGDClassifier(**params).fit(X, y, coef_init=coef0, intercept_init=b0)
    _assert_same(a, b)
    Xr, yr = _data(n=80, classes=0)
    a = sk.SGDRegressor(**params).fit(Xr, yr, coef_init=np.ones(4), intercept_init=2.0)
    b = fs.SGDRegressor(**params).fit(Xr, yr, coef_init=np.ones(4), intercept_init=2.0)
    _assert_same(a, b)


def test_warm_start_classifier_equals_sklearn():
    X, y = _data(n=80, classes=2)
    a = sk.SGDClassifier(warm_start=True, max_iter=3, tol=None, average=True, random_state=0)
    b = fs.SGDClassifier(warm_start=True, max_iter=3, tol=None, average=True, random_state=0)
    for _ in range(3):
        a.fit(X, y)
        b.fit(X, y)
        _assert_same(a, b)


# --- predictions, probabilities, scores -------------------------------------------------------


@pytest.mark.parametrize("loss", ["log_loss", "modified_huber"])
@pytest.mark.parametrize("classes", [2, 3])
def test_probabilities_equal_sklearn(loss, classes):
    X, y = _data(n=120, classes=classes)
    a, b = _both("SGDClassifier", X, y, loss=loss, random_state=0, max_iter=20, tol=None)
    np.testing.assert_allclose(b.decision_function(X), a.decision_function(X), rtol=1e-9,
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), rtol=1e-9, atol=1e-12)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(b.predict_log_proba(X), a.predict_log_proba(X), rtol=1e-9)
    assert (b.predict(X) == a.predict(X)).all()
    assert b.score(X, y) == a.score(X, y)


def test_no_probabilities_for_other_losses():
    X, y = _data()
    a, b = _both("SGDClassifier", X, y, loss="hinge")
    assert not hasattr(b, "predict_proba")
    assert not hasattr(b, "predict_log_proba")
    messages = []
    for clf in (a, b):
        with pytest.raises(AttributeError) as info:
            clf.predict_proba(X)
        messages.append((str(info.value), str(info.value.__cause__)))
    assert messages[0] == messages[1]
    assert "probability estimates are not available for loss='hinge'" in messages[1][1]


def test_string_labels_and_sparsify():
    X, y = _data(n=90, classes=3)
    labels = np.array(["cat", "dog", "emu"])[y]
    a, b = _both("SGDClassifier", X, labels, penalty="l1", alpha=0.01, random_state=0)
    _assert_same(a, b)
    assert (b.predict(X) == a.predict(X)).all()
    b.sparsify()
    a.sparsify()
    assert (b.predict(X) == a.predict(X)).all()
    b.densify()
    assert isinstance(b.coef_, np.ndarray)


def test_float32_stays_float32_and_close_to_sklearn():
    X, y = _data(n=200, classes=2)
    X32 = X.astype(np.float32)
    a, b = _both("SGDClassifier", X32, y, loss="log_loss", random_state=0, max_iter=5, tol=None)
    assert b.coef_.dtype == np.float32
    # scikit-learn computes in float32, fastsgd's core in float64: close, not equal
    assert np.abs(b.coef_ - a.coef_).max() <= 1e-2 * np.abs(a.coef_).max()
    assert b.decision_function(X32).dtype == a.decision_function(X32).dtype


# --- errors and warnings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"alpha": -1}, {"loss": "nope"}, {"penalty": "l3"}, {"learning_rate": "fast"},
     {"eta0": 0}, {"max_iter": 0}, {"l1_ratio": 2}, {"average": -1},
     {"validation_fraction": 1.0}, {"n_iter_no_change": 0}, {"class_weight": "even"},
     {"learning_rate": "optimal", "alpha": 0}, {"penalty": "elasticnet", "l1_ratio": None}],
)  # fmt: skip
def test_parameter_errors_are_sklearns(params):
    X, y = _data()
    messages = []
    for module in (sk, fs):
        with pytest.raises((ValueError, TypeError)) as info:
            module.SGDClassifier(**params).fit(X, y)
        messages.append((type(info.value).__name__, _sorted_sets(str(info.value))))
    assert messages[0] == messages[1]


def _sorted_sets(message: str) -> str:
    """A message with the members of each {...} set sorted (sets print in hash order)."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}",
                  message)  # fmt: skip


def test_input_errors_are_sklearns():
    X, y = _data()
    Xnan = X.copy()
    Xnan[3, 1] = np.nan
    cases = [(Xnan, y), (X[:, :, None], y), (X, y[:-1]), (X, np.zeros(len(y)))]
    for Xc, yc in cases:
        messages = []
        for module in (sk, fs):
            with pytest.raises(ValueError) as info:  # noqa: PT011 - the message is compared below
                module.SGDClassifier().fit(Xc, yc)
            messages.append(str(info.value))
        assert messages[0] == messages[1]
    clf_a, clf_b = sk.SGDClassifier().fit(X, y), fs.SGDClassifier().fit(X, y)
    msgs = []
    for clf in (clf_a, clf_b):
        with pytest.raises(ValueError) as info:  # noqa: PT011 - the message is compared below
            clf.predict(X[:, :3])
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


@pytest.mark.timeout(60)
def test_ctrl_c_stops_a_drop_in_fit_inside_its_epoch(sigint_raises, monkeypatch):
    """The per-row loop polls for signals: Ctrl-C stops an epoch of 40 M rows (a second or
    more) within a fraction of it, and the estimator keeps its previous fit."""
    import os
    import signal
    import threading
    import time

    import fastsgd._driver as drv

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40_000_000, 1), dtype=np.float32)
    y = 2.0 * X[:, 0] + 1.0
    est = fs.SGDRegressor(max_iter=3, tol=None, random_state=0).fit(X[:1000], y[:1000])
    before = (est.coef_.copy(), est.intercept_.copy(), est.t_)
    sent: dict[str, float] = {}
    timers = []
    real_epoch = drv.CoreBackend.epoch

    def epoch(self: Any, model: Any, options: Any) -> Any:
        if not timers:  # the signal arrives 0.2 s into the first epoch
            timers.append(threading.Timer(0.2, interrupt))
            timers[0].start()
        return real_epoch(self, model, options)

    def interrupt() -> None:
        sent["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(drv.CoreBackend, "epoch", epoch)
    try:
        with pytest.raises(KeyboardInterrupt):
            est.set_params(max_iter=1000).fit(X, y)
        stopped = time.perf_counter()
    finally:
        for timer in timers:
            timer.cancel()
    assert stopped - sent["t"] < 0.5
    np.testing.assert_array_equal(est.coef_, before[0])
    np.testing.assert_array_equal(est.intercept_, before[1])
    assert est.t_ == before[2]


def test_partial_fit_errors_are_sklearns():
    X, y = _data()
    for params, kwargs in [({}, {}), ({"class_weight": "balanced"}, {"classes": [0, 1]}),
                           ({"early_stopping": True}, {"classes": [0, 1]}),
                           ({}, {"classes": [0, 7]}), ({}, {"classes": [1, 7]})]:  # fmt: skip
        msgs = []
        for module in (sk, fs):
            with pytest.raises(ValueError) as info:  # noqa: PT011 - the message is compared below
                module.SGDClassifier(**params).partial_fit(X, y, **kwargs)
            msgs.append(str(info.value))
        assert msgs[0] == msgs[1]
    # string labels: y's labels must be among the classes
    labels = np.array(["a", "b"])[y]
    msgs = []
    for module in (sk, fs):
        with pytest.raises(ValueError) as info:  # noqa: PT011 - the message is compared below
            module.SGDClassifier().partial_fit(X, labels, classes=["a", "c"])
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]
    assert "classes should include all valid labels" in msgs[1]


def test_overflow_error_is_sklearns_and_leaves_the_estimator_as_it_was():
    X, y = _data(n=50, classes=0)
    X = X * 1e150
    before = fs.SGDRegressor(max_iter=2, tol=None, random_state=0).fit(X[:, :] * 1e-150, y)
    coef = before.coef_.copy()
    with pytest.raises(ValueError) as a:  # noqa: PT011 - the message is compared below
        sk.SGDRegressor(learning_rate="constant", eta0=1.0).fit(X, y)
    with pytest.raises(ValueError) as b:  # noqa: PT011 - the message is compared below
        before.set_params(learning_rate="constant", eta0=1.0).fit(X, y)
    assert str(a.value) == str(b.value)
    assert "Floating-point under-/overflow occurred at epoch" in str(b.value)
    np.testing.assert_array_equal(before.coef_, coef)


def test_convergence_warning_points_at_the_caller():
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match="Maximum number of iteration") as rec:
        fs.SGDClassifier(max_iter=1).fit(X, y)
    assert rec[0].filename == __file__


def test_verbose_output_is_sklearns():
    X, y = _data(n=60, classes=0)
    outs = []
    for module in (sk, fs):
        buf = io.StringIO()
        with redirect_stdout(buf), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            module.SGDRegressor(verbose=1, max_iter=4, shuffle=False).fit(X, y)
        outs.append(re.sub(r"\d+\.\d\d seconds", "S seconds", buf.getvalue()))
    assert outs[0] == outs[1]
    assert "-- Epoch 1" in outs[1]


# --- scikit-learn's estimator contract --------------------------------------------------------


def test_signatures_and_defaults_are_sklearns():
    import inspect

    for name in ("SGDClassifier", "SGDRegressor"):
        ours = inspect.signature(getattr(fs, name).__init__).parameters
        theirs = inspect.signature(getattr(sk, name).__init__).parameters
        for p, param in theirs.items():
            assert p in ours, p
            assert ours[p].default == param.default, p
        assert set(ours) - set(theirs) == {"batch_size", "n_threads"}


def test_pickle_pipeline_and_grid_search():
    X, y = _data(n=200, classes=3)
    clf = fs.SGDClassifier(random_state=0).fit(X, y)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict(X), clf.predict(X))
    pipe = make_pipeline(StandardScaler(), fs.SGDClassifier(random_state=0))
    grid = GridSearchCV(pipe, {"sgdclassifier__alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.6
    ref = GridSearchCV(make_pipeline(StandardScaler(), sk.SGDClassifier(random_state=0)),
                       {"sgdclassifier__alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)  # fmt: skip
    assert grid.best_score_ == ref.best_score_


def test_batch_size_extra_trains_mini_batches():
    X, y = _data(n=400, classes=2)
    clf = fs.SGDClassifier(batch_size=32, learning_rate="constant", eta0=0.1, max_iter=20,
                           tol=None, random_state=0).fit(X, y)  # fmt: skip
    assert clf.score(X, y) > 0.8
    assert clf.t_ == 1 + 20 * 13  # t_ counts steps: ceil(400 / 32) per epoch


# scikit-learn runs these checks on its own SGD estimators with max_iter=5, and lists the
# same expected failure for them.
_WEIGHT_NOT_REPEAT = (
    "sample_weight is not equivalent to removing/repeating samples (scikit-learn's SGD "
    "estimators fail it too: SGD visits a repeated row twice, at two steps)"
)
_SAME_AS_SKLEARN = {
    "check_sample_weight_equivalence_on_dense_data": _WEIGHT_NOT_REPEAT,
    "check_sample_weight_equivalence_on_sparse_data": _WEIGHT_NOT_REPEAT,
}


@parametrize_with_checks(
    [fs.SGDClassifier(max_iter=5, tol=None), fs.SGDRegressor(max_iter=5, tol=None)],
    expected_failed_checks=lambda est: _SAME_AS_SKLEARN,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_sklearn_version_is_the_one_compared():
    assert tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 6)


# --- transactional fits ------------------------------------------------------------------


def _fitted(est: Any) -> dict[str, Any]:
    out = {}
    for name, value in vars(est).items():
        if name.endswith("_") or name.startswith("_"):
            out[name] = value.copy() if isinstance(value, np.ndarray) else value
    return out


@pytest.mark.parametrize("cls", ["SGDClassifier", "SGDRegressor"])
def test_a_failed_refit_leaves_the_previous_fit(cls: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5))
    y = (X[:, 0] > 0).astype(int) if cls == "SGDClassifier" else X @ np.arange(5.0)
    est = getattr(fs, cls)(max_iter=3, tol=None, random_state=0).fit(X, y)
    before, pred = _fitted(est), est.predict(X)
    est.set_params(learning_rate="constant", eta0=1e200)
    with pytest.raises(ValueError, match="Floating-point under-/overflow"):
        est.fit(np.column_stack([X, X]) * 1e150, y)  # another width: a cold refit
    after = _fitted(est)
    assert after.keys() == before.keys()
    for name in before:
        if isinstance(before[name], np.ndarray):
            np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    np.testing.assert_array_equal(est.predict(X), pred)
    assert est.n_features_in_ == 5
