"""SGDRegressor and SGDClassifier: scikit-learn integration, results, and the estimator API."""

from __future__ import annotations

import pickle
import subprocess
import sys
import tracemalloc
import types

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import make_blobs, make_classification, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastsgd
from fastsgd import SGDClassifier, SGDRegressor


def regression(n=600, d=8, k=None, noise=0.5, seed=0):
    X, y = make_regression(
        n_samples=n, n_features=d, n_targets=k or 1, noise=noise, bias=3.0, random_state=seed
    )
    return X, y


def blobs(n=600, centers=3, seed=0, labels=None):
    X, y = make_blobs(n_samples=n, centers=centers, cluster_std=0.6, random_state=seed)
    if labels is not None:
        y = np.asarray(labels)[y]
    return X, y


# --- import without scikit-learn ----------------------------------------------------------


def test_fastsgd_imports_without_sklearn():
    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None  # import sklearn now fails\n"
        "import fastsgd\n"
        "fastsgd.fit([[1.0], [2.0]], [1.0, 2.0], epochs=1)\n"
        "try:\n"
        "    fastsgd.SGDRegressor\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ImportError:" in out.stdout
    assert "fastsgd[sklearn]" in out.stdout


def test_estimators_are_exported():
    assert "SGDRegressor" in fastsgd.__all__
    assert "SGDClassifier" in fastsgd.__all__
    assert fastsgd.SGDRegressor is SGDRegressor
    with pytest.raises(AttributeError, match="no attribute"):
        _ = fastsgd.SGDNothing


# --- results -------------------------------------------------------------------------------


def test_regressor_reaches_a_good_r2():
    X, y = regression(n=2000, d=20, noise=5.0)
    reg = SGDRegressor(random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.99
    ols = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    np.testing.assert_allclose(reg.coef_, ols[:-1], atol=0.05 * np.abs(ols).max())
    assert reg.coef_.shape == (20,)
    assert reg.intercept_.shape == (1,)  # as scikit-learn's
    assert abs(reg.intercept_[0] - 3.0) < 0.01 * y.std()


def test_regressor_full_batch_reaches_least_squares():
    X, y = regression(n=300, d=5)
    reg = SGDRegressor(batch_size=None, epochs=500, random_state=0).fit(X, y)
    ols = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    np.testing.assert_allclose(reg.coef_, ols[:-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(reg.intercept_, ols[-1], rtol=1e-4, atol=1e-4)


def test_regressor_is_fastsgd_fit():
    X, y = regression(n=300, d=5)
    reg = SGDRegressor(random_state=3, epochs=4, momentum=0.5).fit(X, y)
    seed = int(np.random.RandomState(3).randint(np.iinfo(np.int32).max))
    r = fastsgd.fit(
        X, y, learning_rate="auto", batch_size=32, epochs=4, momentum=0.5, fit_intercept=True, average="auto",
        seed=seed,
    )  # fmt: skip
    np.testing.assert_array_equal(reg.coef_, r.w)
    assert reg.intercept_ == r.b
    np.testing.assert_array_equal(reg.loss_history_, r.loss_history)
    assert reg.learning_rate_ == r.learning_rate
    assert reg.n_iter_ == 4
    assert reg.t_ == 4 * 10  # ceil(300 / 32) steps per epoch


def test_classifier_reaches_a_good_accuracy_on_separable_data():
    X, y = blobs(n=900, centers=4)
    clf = SGDClassifier(random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.98
    assert clf.coef_.shape == (4, 2)
    assert clf.intercept_.shape == (4,)


def test_classifier_binary_is_logistic_regression():
    X, y = make_classification(n_samples=800, n_features=5, n_informative=3, random_state=0)
    clf = SGDClassifier(batch_size=None, epochs=3000, random_state=0).fit(X, y)
    assert clf.coef_.shape == (1, 5)
    assert clf.intercept_.shape == (1,)
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6, max_iter=10_000).fit(X, y)  # (almost) unregularised
    p_ours = clf.predict_proba(X)[:, 1]
    p_ref = lr.predict_proba(X)[:, 1]
    assert np.abs(p_ours - p_ref).max() < 0.02
    assert abs(clf.score(X, y) - lr.score(X, y)) <= 0.01


def test_classifier_multiclass_is_softmax_regression():
    X, y = make_classification(
        n_samples=900, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    clf = SGDClassifier(batch_size=None, epochs=3000, random_state=0).fit(X, y)
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6, max_iter=10_000).fit(X, y)  # multinomial
    assert np.abs(clf.predict_proba(X) - lr.predict_proba(X)).max() < 0.02


@pytest.mark.parametrize(
    "labels",
    [["cat", "dog", "emu"], ["no", "yes"], [-5, 7, 30], [1.0, 3.0]],
    ids=["str3", "str2", "int3", "float2"],
)
def test_class_labels_of_any_kind(labels):
    X, y = blobs(n=300, centers=len(labels), labels=labels)
    clf = SGDClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X)
    assert set(pred) <= set(labels)
    assert pred.dtype == np.asarray(labels).dtype
    assert clf.score(X, y) > 0.95


@pytest.mark.parametrize("centers", [2, 4])
def test_predict_is_argmax_of_predict_proba(centers):
    X, y = blobs(n=400, centers=centers, seed=4, labels=list("abcd")[:centers])
    X = X + np.random.default_rng(0).standard_normal(X.shape) * 2  # overlapping classes
    clf = SGDClassifier(random_state=0, epochs=5).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (400, centers)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(proba >= 0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-9, atol=1e-12)
    scores = clf.decision_function(X)
    if centers == 2:
        assert scores.shape == (400,)
        np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-scores)), rtol=1e-12)
    else:
        assert scores.shape == (400, centers)
        expected = np.exp(scores - scores.max(axis=1, keepdims=True))
        np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True))
    assert 0.3 < (clf.predict(X) == y).mean() < 1.0  # a real, imperfect problem


def test_predict_proba_is_stable_for_huge_scores():
    X, y = blobs(n=200, centers=3)
    clf = SGDClassifier(random_state=0, epochs=2).fit(X, y)
    clf.coef_ = clf.coef_ * 1e6  # scores around ±1e6
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        proba = clf.predict_proba(X)
        log_proba = clf.predict_log_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.isfinite(log_proba).all() or np.isneginf(log_proba).any()
    assert (log_proba <= 0).all()


def test_multi_output_regression():
    X, Y = regression(n=800, d=6, k=3)
    reg = SGDRegressor(random_state=0, epochs=40).fit(X, Y)
    assert reg.coef_.shape == (3, 6)
    assert reg.intercept_.shape == (3,)
    pred = reg.predict(X)
    assert pred.shape == (800, 3)
    assert reg.score(X, Y) > 0.999
    ols = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), Y, rcond=None)[0]
    np.testing.assert_allclose(reg.coef_, ols[:-1].T, atol=0.02 * np.abs(ols).max())


def test_single_column_y_keeps_its_shape():
    X, y = regression(n=200, d=3)
    reg = SGDRegressor(random_state=0).fit(X, y[:, None])
    assert reg.coef_.shape == (1, 3)
    assert reg.predict(X).shape == (200, 1)


def test_fit_intercept_false():
    X, y = regression(n=300, d=4)
    reg = SGDRegressor(fit_intercept=False, random_state=0).fit(X, y)
    assert reg.intercept_ == 0.0
    np.testing.assert_allclose(reg.predict(X), X @ reg.coef_)
    clf = SGDClassifier(fit_intercept=False, random_state=0).fit(*blobs(centers=3))
    np.testing.assert_array_equal(clf.intercept_, np.zeros(3))


# --- dtypes and copies ---------------------------------------------------------------------


def test_float32_stays_float32():
    X, y = regression(n=500, d=5)
    X32 = X.astype(np.float32)
    reg = SGDRegressor(random_state=0, epochs=20).fit(X32, y)
    assert reg.predict(X32).dtype == np.float32
    # the same as training on the float32 data directly, with the defaults' rule and average
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    r = fastsgd.fit(X32, y.astype(np.float32), learning_rate="auto", batch_size=32, epochs=20,
                    fit_intercept=True, seed=seed, update="normalized", average="auto")  # fmt: skip
    np.testing.assert_array_equal(reg.coef_, r.w)
    r64 = SGDRegressor(random_state=0, epochs=20).fit(X, y)
    assert not np.array_equal(reg.coef_, r64.coef_)
    assert r64.predict(X).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_does_not_copy_x(dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 10)).astype(dtype)
    y = (X @ np.arange(10.0)).astype(dtype)
    tracemalloc.start()
    try:
        SGDRegressor(epochs=1, random_state=0).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * X.nbytes  # a copy of X would be at least X.nbytes


def test_integer_and_list_input():
    X, y = blobs(n=200, centers=2)
    Xi = np.round(X * 10).astype(np.int64)
    clf = SGDClassifier(random_state=0).fit(Xi.tolist(), y.tolist())
    assert clf.score(Xi, y) > 0.95
    assert clf.predict(Xi).dtype == y.dtype


# --- scikit-learn integration -------------------------------------------------------------


def test_pipeline():
    X, y = regression(n=500, d=6)
    X = X * 50 + 200  # unscaled
    pipe = make_pipeline(StandardScaler(), SGDRegressor(random_state=0)).fit(X, y)
    assert pipe.score(X, y) > 0.999
    Xc, yc = blobs(n=400, centers=3, labels=["a", "b", "c"])
    pipe = make_pipeline(StandardScaler(), SGDClassifier(random_state=0)).fit(Xc, yc)
    assert pipe.score(Xc, yc) > 0.98


def test_unscaled_data_with_auto_learning_rate():
    # scikit-learn's checks feed features around 100: "auto" must stay stable there
    rng = np.random.default_rng(0)
    X = rng.normal(loc=100, size=(300, 2))
    y = X @ np.array([1.0, -1.0]) + rng.normal(scale=0.1, size=300)
    X1 = np.column_stack([X, np.ones(300)])
    A = X1.T @ X1 / 300
    for update in ("sgd", "normalized"):
        reg = SGDRegressor(random_state=0, update=update).fit(X, y)  # no DivergenceError
        assert np.isfinite(reg.coef_).all()
        assert reg.loss_history_.max() < 2 * reg.loss_history_[0]  # bounded, not diverging
        # below the full-batch stability bound, in the rule's coordinates (P = diag(A)^-1)
        r = 1 / np.sqrt(np.diag(A)) if update == "normalized" else np.ones(3)
        lam = np.linalg.eigvalsh(2 * A * r[:, None] * r[None, :]).max()
        assert reg.learning_rate_ < 2 / lam
    # such data is badly conditioned (the mean's direction against the intercept): scaling
    # and centring it is what makes SGD fit it
    pipe = make_pipeline(StandardScaler(), SGDRegressor(random_state=0)).fit(X, y)
    assert pipe.score(X, y) > 0.99
    assert reg.score(X, y) < 0.5


def test_grid_search():
    X, y = regression(n=400, d=4, noise=2.0)
    grid = GridSearchCV(
        SGDRegressor(random_state=0),
        {"learning_rate": ["auto", 1e-4], "batch_size": [16, 64]},
        cv=3,
    ).fit(X, y)
    assert grid.best_params_["learning_rate"] == "auto"  # 1e-4 is far too small here
    assert grid.best_score_ > 0.99
    assert len(grid.cv_results_["params"]) == 4
    Xc, yc = blobs(n=300, centers=3, labels=["x", "y", "z"])
    grid = GridSearchCV(SGDClassifier(random_state=0), {"weight_decay": [0.0, 0.01]}, cv=3)
    assert grid.fit(Xc, yc).best_score_ > 0.95


@pytest.mark.parametrize("est_cls", [SGDRegressor, SGDClassifier])
def test_pickle_round_trip(est_cls):
    if est_cls is SGDRegressor:
        X, y = regression(n=300, d=5)
    else:
        X, y = blobs(n=300, centers=3, labels=["a", "b", "c"])
    est = est_cls(random_state=0, momentum=0.9).fit(X, y)
    clone = pickle.loads(pickle.dumps(est))
    assert clone.get_params() == est.get_params()
    np.testing.assert_array_equal(clone.predict(X), est.predict(X))
    if est_cls is SGDClassifier:
        np.testing.assert_array_equal(clone.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(clone.classes_, est.classes_)
    # and the unpickled estimator keeps training
    clone.partial_fit(X, y)
    assert clone.n_iter_ == est.n_iter_ + 1


def test_feature_names_with_pandas():
    pd = pytest.importorskip("pandas")
    X, y = regression(n=200, d=3)
    df = pd.DataFrame(X, columns=["age", "height", "weight"])
    reg = SGDRegressor(random_state=0).fit(df, pd.Series(y))
    np.testing.assert_array_equal(reg.feature_names_in_, ["age", "height", "weight"])
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(reg.predict(df), reg.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        reg.predict(df.rename(columns={"age": "years"}))
    reg_np = SGDRegressor(random_state=0).fit(X, y)
    assert not hasattr(reg_np, "feature_names_in_")


def test_same_random_state_same_model():
    X, y = regression(n=300, d=5)
    a = SGDRegressor(random_state=7).fit(X, y)
    b = SGDRegressor(random_state=7).fit(X, y)
    c = SGDRegressor(random_state=8).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)
    rs = np.random.RandomState(7)
    d = SGDRegressor(random_state=rs).fit(X, y)
    np.testing.assert_array_equal(d.coef_, a.coef_)


def test_n_threads_do_not_change_the_result():
    X, y = regression(n=20_000, d=64)
    a = SGDRegressor(random_state=0, batch_size=None, epochs=3, n_threads=1).fit(X, y)
    b = SGDRegressor(random_state=0, batch_size=None, epochs=3, n_threads=2).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


# --- partial_fit and warm_start -----------------------------------------------------------


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "step"])
def test_partial_fit_epochs_equal_fit_epochs(schedule):
    X, y = regression(n=300, d=5)
    kw = {"random_state": 1, "schedule": schedule, "step_size": 1, "gamma": 0.5}
    full = SGDRegressor(epochs=3, **kw).fit(X, y)
    inc = SGDRegressor(epochs=3, **kw)
    for _ in range(3):
        inc.partial_fit(X, y)
    np.testing.assert_array_equal(inc.coef_, full.coef_)
    assert inc.intercept_ == full.intercept_
    np.testing.assert_array_equal(inc.loss_history_, full.loss_history_)
    assert (inc.n_iter_, inc.t_, inc.learning_rate_) == (3, full.t_, full.learning_rate_)


def test_classifier_partial_fit_equals_fit():
    X, y = blobs(n=300, centers=3, labels=["a", "b", "c"])
    full = SGDClassifier(epochs=2, random_state=0).fit(X, y)
    inc = SGDClassifier(epochs=2, random_state=0)
    inc.partial_fit(X, y, classes=["c", "b", "a"])
    inc.partial_fit(X, y)
    np.testing.assert_array_equal(inc.classes_, ["a", "b", "c"])
    np.testing.assert_array_equal(inc.coef_, full.coef_)
    np.testing.assert_array_equal(inc.intercept_, full.intercept_)


def test_partial_fit_streaming_approaches_fit():
    X, y = regression(n=4000, d=10, noise=1.0)
    full = SGDRegressor(random_state=0, epochs=10).fit(X, y)
    stream = SGDRegressor(random_state=0)
    chunks = np.array_split(np.arange(len(X)), 8)
    for _ in range(10):  # ten passes over eight chunks
        for idx in chunks:
            stream.partial_fit(X[idx], y[idx])
    assert stream.n_iter_ == 80
    assert len(stream.loss_history_) == 80  # one progressive loss per epoch
    assert stream.score(X, y) > full.score(X, y) - 1e-3
    np.testing.assert_allclose(stream.coef_, full.coef_, atol=0.01 * np.abs(full.coef_).max())


def test_classifier_partial_fit_streaming_with_chunks_missing_classes():
    X, y = blobs(n=900, centers=3, labels=["a", "b", "c"])
    order = np.argsort(y, kind="stable")  # sorted: early chunks hold one class only
    X, y = X[order], y[order]
    clf = SGDClassifier(random_state=0)
    for _ in range(5):
        for idx in np.array_split(np.random.default_rng(0).permutation(900), 9):
            clf.partial_fit(X[idx], y[idx], classes=["a", "b", "c"])
    assert clf.score(X, y) > 0.98
    first = SGDClassifier(random_state=0).partial_fit(X[:10], y[:10], classes=["a", "b", "c"])
    assert first.coef_.shape == (3, 2)  # all classes known from the first chunk


def test_partial_fit_errors():
    X, y = blobs(n=100, centers=3)
    with pytest.raises(ValueError, match="classes"):
        SGDClassifier().partial_fit(X, y)
    clf = SGDClassifier().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, np.full(100, 5))
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :1], y)
    reg = SGDRegressor().partial_fit(X, y.astype(float))
    with pytest.raises(ValueError, match=r"outputs|1-d"):
        reg.partial_fit(X, np.ones((100, 2)))


def test_warm_start_continues_the_same_run():
    X, y = regression(n=300, d=5)
    # without averaging (a warm start continues from coef_, which is the average with it)
    full = SGDRegressor(random_state=0, epochs=6, average=False).fit(X, y)
    warm = SGDRegressor(random_state=0, epochs=3, warm_start=True, average=False)
    warm.fit(X, y)
    first = warm.coef_.copy()
    warm.fit(X, y)
    np.testing.assert_array_equal(warm.coef_, full.coef_)  # 3 + 3 epochs == 6 epochs
    assert not np.array_equal(first, warm.coef_)
    cold = SGDRegressor(random_state=0, epochs=3, warm_start=False, average=False).fit(X, y)
    np.testing.assert_array_equal(cold.fit(X, y).coef_, first)  # restarts each time


def test_warm_start_with_zero_epochs_keeps_the_model():
    X, y = blobs(n=200, centers=3)
    clf = SGDClassifier(random_state=0).fit(X, y)
    coef = clf.coef_.copy()
    clf.set_params(warm_start=True, epochs=0).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, coef)


def test_warm_start_shape_mismatch():
    X, y = regression(n=100, d=4)
    reg = SGDRegressor(warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        reg.fit(X[:, :3], y)
    with pytest.raises(ValueError, match="warm_start"):
        reg.fit(X, np.column_stack([y, y]))
    Xc, yc = blobs(n=90, centers=3)
    clf = SGDClassifier(warm_start=True).fit(Xc, yc)
    with pytest.raises(ValueError, match="warm_start"):
        clf.fit(Xc, yc + 1)  # other labels, same number of classes


# --- options -------------------------------------------------------------------------------


def test_early_stopping():
    rng = np.random.default_rng(7)
    d = 60
    X = rng.standard_normal((120, d))
    y = X[:, 0] + rng.standard_normal(120)  # one useful feature, many to overfit with
    reg = SGDRegressor(
        early_stopping=True, validation_fraction=0.25, batch_size=None, epochs=2000,
        learning_rate=0.05, n_iter_no_change=10, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert reg.n_iter_ < 2000
    h = reg.validation_loss_history_
    assert len(h) == reg.n_iter_ + 1
    best = int(np.argmin(h))
    assert reg.n_iter_ == best + 10
    again = SGDRegressor(**reg.get_params()).fit(X, y)
    np.testing.assert_array_equal(again.coef_, reg.coef_)  # the split follows random_state


def test_classifier_early_stopping_runs():
    X, y = blobs(n=300, centers=3, labels=["a", "b", "c"])
    # the averaged model's validation loss keeps falling: a tolerance says when to stop
    clf = SGDClassifier(early_stopping=True, epochs=200, tol=1e-4, random_state=0).fit(X, y)
    assert clf.validation_loss_history_ is not None
    assert clf.n_iter_ < 200
    assert clf.score(X, y) > 0.95


def test_no_validation_history_without_early_stopping():
    X, y = regression(n=100, d=3)
    assert SGDRegressor().fit(X, y).validation_loss_history_ is None


def test_verbose_shows_a_progress_bar(capsys):
    X, y = regression(n=100, d=3)
    SGDRegressor(verbose=1, epochs=3).fit(X, y)
    assert "fastsgd" in capsys.readouterr().err
    SGDRegressor(verbose=0, epochs=3).fit(X, y)
    assert capsys.readouterr().err == ""


def test_user_learning_rate_that_diverges_raises():
    X, y = regression(n=200, d=4)
    with pytest.raises(fastsgd.DivergenceError, match="learning_rate=50"):
        SGDRegressor(learning_rate=50.0, batch_size=None).fit(X, y)


def test_divergence_names_momentum_and_suggests_another_setting():
    X, y = regression(n=400, d=4)
    safe = fastsgd.auto_learning_rate(X, batch_size=16, fit_intercept=True)
    with pytest.raises(fastsgd.DivergenceError) as info:
        SGDRegressor(learning_rate=1.5 * safe, momentum=0.95, batch_size=16, epochs=50).fit(X, y)
    msg = str(info.value)
    assert "Cause: momentum=0.95" in msg, msg
    assert "momentum=0.25" in msg, msg
    assert "learning_rate=" in msg.split("Try ")[1], msg


def test_divergence_names_the_l2_penalty():
    X, y = regression(n=400, d=4)
    with pytest.raises(fastsgd.DivergenceError) as info:
        SGDRegressor(learning_rate=0.05, weight_decay=100.0, epochs=20).fit(X, y)
    assert "Cause: the L2 penalty" in str(info.value)


def test_divergence_under_auto_does_not_suggest_auto():
    X, y = regression(n=400, d=4)
    with pytest.raises(fastsgd.DivergenceError) as info:
        SGDRegressor(learning_rate=40.0, batch_size=None, epochs=20).fit(X, y)
    assert "or learning_rate='auto'" in str(info.value)  # a given rate: auto is the other setting
    from fastsgd._driver import _raise_divergence

    class Tiny:  # a backend whose curvature says any rate is too large
        n, d = 10, 1

        def curvature(self, fit_intercept, precise=False, precond=None):
            return 1.0, 1.0

    cfg = fastsgd.FitConfig(learning_rate="auto", batch_size=4)
    with pytest.raises(fastsgd.DivergenceError) as info:
        _raise_divergence(Tiny(), fastsgd._registry.LOSSES["mse"], cfg, 1, 3, 0.4, 1.0, np.inf)
    msg = str(info.value)
    assert "learning_rate='auto'" in msg.split("Try ")[0]
    assert "'auto'" not in msg.split("Try ")[1]
    assert "a larger batch_size than 4" in msg


@pytest.mark.parametrize("momentum", [0.5, 0.9])
@pytest.mark.parametrize("batch_size", [1, 16, 256, None])
def test_auto_rate_with_momentum_never_diverges(momentum, batch_size):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 20)) * rng.uniform(0.2, 3.0, 20)
    y = X @ rng.standard_normal(20) + 1.5 + rng.standard_normal(3000)
    for nesterov in (False, True):
        m = SGDRegressor(momentum=momentum, nesterov=nesterov, batch_size=batch_size,
                         epochs=10, random_state=0).fit(X, y)  # fmt: skip
        assert np.isfinite(m.coef_).all()
        assert m.loss_history_[-1] < m.loss_history_[0]
        if batch_size is not None:  # ten full-batch steps are not a fit
            assert m.score(X, y) > 0.9


def test_auto_rate_takes_momentum_and_l2_out():
    X, _ = regression(n=300, d=5)
    from fastsgd._driver import _auto_rate

    base = _auto_rate(2.0, 5.0, 2.0, 300, 16)
    assert _auto_rate(2.0, 5.0, 2.0, 300, 16, momentum=0.9) == pytest.approx(base * 0.1)
    assert _auto_rate(2.0, 5.0, 2.0, 300, 16, momentum=0.9, dampening=0.9) == pytest.approx(base)
    assert 1 / _auto_rate(2.0, 5.0, 2.0, 300, 16, l2=0.5) == pytest.approx(1 / base + 0.5)
    fitted = SGDRegressor(momentum=0.9, epochs=1, random_state=0).fit(X, X @ np.ones(5))
    plain = SGDRegressor(epochs=1, random_state=0, update="sgd").fit(X, X @ np.ones(5))
    assert fitted.learning_rate_ == pytest.approx(plain.learning_rate_ * 0.1, rel=1e-9)


def test_options_reach_fit():
    X, y = regression(n=200, d=4)
    plain = SGDRegressor(random_state=0).fit(X, y)
    a = SGDRegressor(random_state=0, momentum=0.9, nesterov=True).fit(X, y)
    assert not np.allclose(a.coef_, plain.coef_)
    assert a.score(X, y) > 0.99
    # weight decay (not on the intercept) is ridge regression: (2XᵀX/n + λI) w = 2Xᵀ(y − b)/n
    b = SGDRegressor(random_state=0, weight_decay=1.0, batch_size=None, epochs=300).fit(X, y)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    ridge = np.linalg.solve(2 * Xc.T @ Xc / len(X) + np.eye(4), 2 * Xc.T @ yc / len(X))
    np.testing.assert_allclose(b.coef_, ridge, rtol=1e-6)
    np.testing.assert_allclose(b.intercept_, y.mean() - X.mean(axis=0) @ ridge, rtol=1e-6)
    c = SGDRegressor(random_state=0, schedule="cosine", epochs=5, learning_rate=0.01).fit(X, y)
    assert c.learning_rate_ == 0.01
    d = SGDRegressor(random_state=0, tol=1e9, n_iter_no_change=2).fit(X, y)
    assert d.n_iter_ == 3  # the first epoch sets the best loss; no later one improves by 1e9


BAD_PARAMS = {
    "learning_rate-str": ({"learning_rate": "fast"}, ValueError, "learning_rate"),
    "learning_rate-neg": ({"learning_rate": -1.0}, ValueError, "learning_rate"),
    "batch_size": ({"batch_size": 0}, ValueError, "batch_size"),
    "epochs": ({"epochs": -1}, ValueError, "epochs"),
    "schedule": ({"schedule": "sometimes"}, ValueError, "schedule"),
    "momentum": ({"momentum": -0.1}, ValueError, "momentum"),
    "validation_fraction": (
        {"early_stopping": True, "validation_fraction": 1.5},
        ValueError,
        "validation_fraction",
    ),
    "n_threads": ({"n_threads": 0}, ValueError, "n_threads"),
    "verbose": ({"verbose": "loud"}, TypeError, "verbose"),
    "shuffle-False-string": ({"shuffle": "False"}, ValueError, "shuffle must be True or False"),
    "shuffle-bogus": ({"shuffle": "bogus"}, ValueError, "shuffle"),
    "shuffle-block": ({"shuffle": "block"}, ValueError, "'blocks'"),
    "momentum-1.5": ({"momentum": 1.5}, ValueError, r"momentum must be in \[0, 1\)"),
    "warm_start-string": ({"warm_start": "False"}, TypeError, "warm_start must be True or False"),
    "weight_decay-negative": ({"weight_decay": -1.0}, ValueError, "weight_decay must be >= 0"),
    "nesterov-string": ({"nesterov": "yes"}, TypeError, "nesterov"),
    "average-word": ({"average": "sometimes"}, ValueError, "average"),
    "update-unknown": ({"update": "rmsprop"}, ValueError, "update"),
    "epochs-float": ({"epochs": 2.5}, TypeError, "epochs"),
}


@pytest.mark.parametrize("est_cls", [SGDRegressor, SGDClassifier])
@pytest.mark.parametrize(("params", "err", "match"), BAD_PARAMS.values(), ids=BAD_PARAMS.keys())
def test_bad_parameters_fail_in_fit_naming_them(est_cls, params, err, match):
    est = est_cls(**params)  # __init__ only stores them
    X, y = blobs(n=60, centers=3)
    with pytest.raises(err, match=match):
        est.fit(X, y)


def test_bad_input():
    X, y = blobs(n=60, centers=3)
    with pytest.raises(ValueError, match="NaN"):
        SGDClassifier().fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="Complex"):
        SGDRegressor().fit(X + 1j, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        SGDClassifier().fit(X, y + 0.5)
    with pytest.raises(ValueError, match="2 classes"):
        SGDClassifier().fit(X, np.zeros(60))
    reg = SGDRegressor().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :1])


# --- dask arrays go through fastsgd.dask's data adapter -------------------------------------


class FakeDaskArray:
    """Looks like a dask collection (has __dask_graph__), holds nothing."""

    def __dask_graph__(self):
        return {}


def test_dask_input_goes_through_the_dask_adapter(monkeypatch):
    """The estimators' own fit logic runs on dask input; only the data operations (the
    adapter's) are fastsgd.dask's. A fake adapter records them."""
    import contextlib

    from fastsgd import _adapters

    calls = []

    class FakeAdapter(_adapters.InMemory):
        fit_params = ("method", "client", "local_epochs")

        def session(self, fit_params):
            calls.append(("session", fit_params))
            return contextlib.nullcontext(self)

        def validate(self, est, X, y, *, reset):
            calls.append(("validate", reset))
            return super().validate(est, np.eye(3), np.array([0.0, 1.0, 2.0]), reset=reset)

        def predict(self, est, X, method):
            calls.append(("predict", method))
            return method

    fake = types.ModuleType("fastsgd.dask")
    fake.ADAPTER = FakeAdapter()
    monkeypatch.setitem(sys.modules, "fastsgd.dask", fake)
    monkeypatch.setattr(fastsgd, "dask", fake, raising=False)
    Xd, yd = FakeDaskArray(), FakeDaskArray()
    reg = SGDRegressor(epochs=1)
    assert reg.fit(Xd, yd, method="average") is reg
    assert reg.partial_fit(Xd, yd, client="c") is reg
    assert reg.predict(Xd) == "predict"
    assert calls[:2] == [("session", {"method": "average"}), ("validate", True)]
    assert ("session", {"client": "c"}) in calls
    assert calls[-1] == ("predict", "predict")
    assert reg.coef_.shape == (3,)  # the estimator trained on what the adapter gave it
    with pytest.raises(TypeError, match="not among"):
        reg.fit(Xd, yd, chunks=3)


def test_fit_params_without_dask_are_an_error():
    X, y = regression(n=50, d=2)
    with pytest.raises(TypeError, match="method"):
        SGDRegressor().fit(X, y, method="average")
    with pytest.raises(TypeError, match="client"):
        SGDRegressor().partial_fit(X, y, client=None)
    with pytest.raises(TypeError, match="client"):
        SGDClassifier().partial_fit(X, y > 0, classes=[False, True], client=None)


def test_a_cold_fit_with_zero_epochs_is_refused_and_leaves_the_estimator_unfitted():
    from sklearn.exceptions import NotFittedError

    X, y = regression(n=50, d=3)
    reg = SGDRegressor(epochs=0)
    with pytest.raises(ValueError, match="epochs=0 trains nothing"):
        reg.fit(X, y)
    with pytest.raises(NotFittedError):
        reg.predict(X)


# --- transactional fits: an exception leaves the estimator as it was -------------------------


def _snapshot(est):
    """Every fitted attribute (public and private), arrays copied, the core model's state."""
    out = {}
    for name, value in vars(est).items():
        if not (name.endswith("_") or name.startswith("_")):
            continue
        if isinstance(value, np.ndarray):
            value = value.copy()
        elif hasattr(value, "state") and callable(value.state):
            value = value.state()
        out[name] = value
    return out


def _same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, dict):
            _same(x, y)
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            both_nan = isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y)
            assert x == y or both_nan, name


def _diverging(est):
    return est.set_params(learning_rate=1e6, batch_size=None, epochs=5)


@pytest.mark.parametrize("est_cls", [SGDRegressor, SGDClassifier])
def test_a_failed_refit_leaves_the_previous_fit(est_cls):
    X, y = blobs(n=200, centers=2) if est_cls is SGDClassifier else regression(n=200, d=4)
    est = est_cls(random_state=0, epochs=3).fit(X, y)
    before, pred = _snapshot(est), est.predict(X)
    wider = np.column_stack([X, X[:, :2] * 1e3])  # another number of features, not warm
    with pytest.raises(fastsgd.DivergenceError):
        _diverging(est).fit(wider, y)
    _same(_snapshot(est), before)
    np.testing.assert_array_equal(est.predict(X), pred)
    assert est.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("est_cls", [SGDRegressor, SGDClassifier])
def test_a_failed_first_fit_leaves_the_estimator_unfitted(est_cls):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    X, y = blobs(n=200, centers=2) if est_cls is SGDClassifier else regression(n=200, d=4)
    est = _diverging(est_cls(random_state=0))
    with pytest.raises(fastsgd.DivergenceError):
        est.fit(X * 1e3, y)
    assert _snapshot(est) == {}
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("where", ["in the epochs", "while storing the result"])
def test_ctrl_c_leaves_the_previous_fit(monkeypatch, where):
    X, y = regression(n=200, d=4)
    est = SGDRegressor(random_state=0, epochs=2).fit(X, y)
    before = _snapshot(est)
    if where == "in the epochs":
        import fastsgd._driver as drv

        real = drv.run

        def interrupted(*args, **kwargs):
            real(*args, **kwargs)  # the model trained, then Ctrl-C
            raise KeyboardInterrupt

        monkeypatch.setattr(drv, "run", interrupted)
    else:
        real_store = SGDRegressor._store

        def half_stored(self, *args, **kwargs):
            real_store(self, *args, **kwargs)  # every attribute overwritten, then Ctrl-C
            raise KeyboardInterrupt

        monkeypatch.setattr(SGDRegressor, "_store", half_stored)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X[:, ::-1] * 2.0, y + 5.0)
    _same(_snapshot(est), before)


def test_a_failed_partial_fit_leaves_the_model():
    X, y = regression(n=200, d=4)
    est = SGDRegressor(random_state=0).partial_fit(X, y)
    before = _snapshot(est)
    with pytest.raises(ValueError, match="NaN"):
        est.partial_fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :3], y)
    _same(_snapshot(est), before)


def test_the_normalized_rule_reads_the_features_scales_once(monkeypatch):
    """The rate and the model's scales come from one pass over X (mean_squares)."""
    import fastsgd._driver as drv

    calls = []
    real = drv.CoreBackend.mean_squares

    def counted(self, fit_intercept):
        calls.append(fit_intercept)
        return real(self, fit_intercept)

    monkeypatch.setattr(drv.CoreBackend, "mean_squares", counted)
    X, y = regression(n=300, d=4)
    SGDRegressor(random_state=0, epochs=2).fit(X, y)
    assert calls == [True]
