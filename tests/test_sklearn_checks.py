"""scikit-learn's own estimator checks on SGDRegressor and SGDClassifier."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastsgd.estimators import SGDClassifier, SGDRegressor

# Checks that do not hold for SGD, with the reason (scikit-learn lists the same ones for its
# own SGDRegressor and SGDClassifier).
_WEIGHT_NOT_REPEAT = (
    "a weight of 2 is not the same as a repeated row for shuffled mini-batch SGD: the "
    "repeated row lands in another batch, at another step"
)
_NOT_SGD = {
    "check_sample_weight_equivalence_on_dense_data": _WEIGHT_NOT_REPEAT,
    "check_sample_weight_equivalence_on_sparse_data": _WEIGHT_NOT_REPEAT,
}
_EXPECTED = {"SGDRegressor": dict(_NOT_SGD), "SGDClassifier": dict(_NOT_SGD)}


@parametrize_with_checks(
    [SGDRegressor(), SGDClassifier()],
    expected_failed_checks=lambda est: _EXPECTED[type(est).__name__],
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
