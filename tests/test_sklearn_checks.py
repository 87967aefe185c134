"""scikit-learn's own estimator checks on SGDRegressor and SGDClassifier."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastsgd.estimators import SGDClassifier, SGDRegressor


@parametrize_with_checks([SGDRegressor(), SGDClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
