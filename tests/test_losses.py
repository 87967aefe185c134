"""Every loss of the registry, against the NumPy oracle and finite differences.

The cases are built from ``fastsgd._registry.LOSSES``: a loss added there (one C++ type,
one registry entry, its NumPy twin in reference.py) is tested here without a new test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fastsgd
from fastsgd import reference as ref
from fastsgd._ext import _core
from fastsgd._registry import LOSSES, Loss

ENTRIES = list(LOSSES)
IDS = [e.name for e in ENTRIES]


def _problem(entry: Loss, *, n: int = 41, d: int = 5, k: int = 3, dtype: Any = np.float64,
             seed: int = 0) -> tuple[Any, Any, Any, Any]:  # fmt: skip
    """X, targets the loss reads, weights of the right shape, and an intercept."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    if entry.target == "real":
        w = rng.standard_normal((d, k)) * 0.5
        y = X.astype(np.float64) @ rng.standard_normal((d, k)) + rng.standard_normal((n, k))
        return X, y.astype(dtype), w.astype(dtype), (rng.standard_normal(k) * 0.1).astype(dtype)
    if entry.target == "class":
        w = rng.standard_normal((d, k)) * 0.5
        return X, rng.integers(0, k, n), w.astype(dtype), rng.standard_normal(k).astype(dtype)
    w = rng.standard_normal(d) * 0.5  # binary: one score, labels 0 and 1
    return X, rng.integers(0, 2, n), w.astype(dtype), dtype(0.3)


def test_every_loss_has_its_core_type_and_oracle() -> None:
    core = set(_core.loss_names())
    for e in ENTRIES:
        assert e.core in core, f"{e.name}: the core has no loss {e.core!r}"
        assert e.name in ref.LOSSES, f"{e.name}: reference.py has no twin"
        assert ref.LOSSES[e.name].kind == e.target
        assert e.formula
        assert e.summary
    assert set(LOSSES.names()) == set(ref.LOSSES)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_loss_and_gradient_match_the_oracle(entry: Loss, dtype: Any, weighted: bool) -> None:
    X, y, w, b = _problem(entry, dtype=dtype)
    sw = np.random.default_rng(1).uniform(0.1, 2.0, X.shape[0]) if weighted else None
    got = fastsgd.loss_grad(X, y, w, b, loss=entry.name, sample_weight=sw)
    want = ref.loss_grad(X, y, w, b, loss=entry.name, sample_weight=sw)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert got[0] == pytest.approx(want[0], rel=tol, abs=tol)
    np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol)
    np.testing.assert_allclose(got[2], want[2], rtol=tol, atol=tol)
    assert got[1].shape == np.shape(w)
    assert got[1].dtype == dtype
    value = fastsgd.loss_value(X, y, w, b, loss=entry.name, sample_weight=sw)
    assert value == pytest.approx(got[0], rel=1e-15)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_gradient_is_the_derivative(entry: Loss) -> None:
    """Central differences of the loss in every weight and the intercept (float64)."""
    X, y, w, b = _problem(entry, n=23, d=3)
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    _, gw, gb = fastsgd.loss_grad(X, y, w, b, loss=entry.name)
    h = 1e-6

    def f(ww: Any, bb: Any) -> float:
        return fastsgd.loss_value(X, y, ww, bb, loss=entry.name)

    num_w = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        num_w[idx] = (f(w + e, b) - f(w - e, b)) / (2 * h)
    num_b = np.zeros_like(b)
    for idx in np.ndindex(b.shape):
        e = np.zeros_like(b)
        e[idx] = h
        num_b[idx] = (f(w, b + e) - f(w, b - e)) / (2 * h)
    np.testing.assert_allclose(gw, num_w, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gb, num_b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 7, "fit_intercept": True},
        {"batch_size": 1, "epochs": 2, "penalty": "elasticnet", "alpha": 0.01},
        {"batch_size": None, "momentum": 0.5},
        {"batch_size": 5, "average": 3, "update": "adagrad"},
        {"batch_size": 6, "average": "auto", "update": "normalized", "fit_intercept": True},
        {"batch_size": 3, "update": "normalized", "penalty": "l2", "alpha": 0.1},
    ],
    ids=["batch7", "per-row-elasticnet", "full-momentum", "adagrad-average",
         "normalized-average-auto", "normalized-l2"],
)  # fmt: skip
def test_fit_follows_the_oracle(entry: Loss, options: dict[str, Any]) -> None:
    X, y, _w, _ = _problem(entry, n=37, d=4)
    if entry.target == "real":
        y = y[:, 0]
    kw = {"loss": entry.name, "learning_rate": 0.05, "epochs": 4, "seed": 3, **options}
    got = fastsgd.fit(X, y, **kw)
    want = ref.fit(X, y, **kw)
    np.testing.assert_allclose(got.w, want.w, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(got.loss_history, want.loss_history, rtol=1e-9, atol=1e-12)
    if want.b is not None:
        np.testing.assert_allclose(got.b, want.b, rtol=1e-9, atol=1e-10)
    assert (got.n_steps, got.n_epochs) == (want.n_steps, want.n_epochs)


@pytest.mark.parametrize("options", [
    {"update": "normalized", "batch_size": 4, "fit_intercept": True},
    {"update": "sgd", "momentum": 0.9, "batch_size": 4},
    {"update": "sgd", "nesterov": True, "momentum": 0.5, "dampening": 0.0, "batch_size": 8,
     "penalty": "l2", "alpha": 0.5},
], ids=["normalized", "momentum", "nesterov-l2"])  # fmt: skip
def test_the_automatic_rate_follows_the_oracle(options: dict[str, Any]) -> None:
    """learning_rate="auto" with the normalized rule's coordinates, momentum and the L2
    penalty, against the oracle's eigenvalues (the core's power iteration: 3 digits)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 5)) * np.array([1e-3, 0.1, 1.0, 10.0, 1e3])
    y = X @ rng.standard_normal(5)
    kw = {"loss": "mse", "learning_rate": "auto", "epochs": 1, "seed": 0, **options}
    got, want = fastsgd.fit(X, y, **kw), ref.fit(X, y, **kw)
    assert got.learning_rate == pytest.approx(want.learning_rate, rel=2e-3)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.parameter is not None],
                         ids=[e.name for e in ENTRIES if e.parameter is not None])  # fmt: skip
def test_the_loss_parameter_is_used_and_checked(entry: Loss) -> None:
    X, y, w, b = _problem(entry)
    a = fastsgd.loss_value(X, y, w, b, loss=entry.name, epsilon=0.05)
    c = fastsgd.loss_value(X, y, w, b, loss=entry.name, epsilon=5.0)
    assert a != c
    assert a == pytest.approx(ref.loss_value(X, y, w, b, loss=entry.name, epsilon=0.05), rel=1e-12)
    with pytest.raises(ValueError, match=entry.parameter or ""):
        fastsgd.loss_value(X, y, w, b, loss=entry.name, epsilon=-1.0)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_the_core_and_the_oracle_agree_on_the_curvature_bound(entry: Loss) -> None:
    assert entry.curvature(None, 3) == pytest.approx(
        ref.LOSSES[entry.name].curvature(entry.default, 3)
    )


def test_losses_refuse_the_wrong_targets() -> None:
    X = np.ones((4, 2))
    for e in ENTRIES:
        if e.target == "real":
            with pytest.raises(ValueError, match="y"):
                fastsgd.loss_value(X, np.ones(3), np.ones(2), loss=e.name)
        else:
            with pytest.raises(TypeError, match="y"):
                fastsgd.loss_value(X, np.full(4, 0.5), np.ones((2, 2)) if e.target == "class"
                                   else np.ones(2), loss=e.name)  # fmt: skip
    with pytest.raises(ValueError, match="unknown loss 'hingee'"):
        fastsgd.loss_value(X, np.ones(4), np.ones(2), loss="hingee")


def test_the_docs_tables_list_every_part() -> None:
    """docs/parts.md's tables come from the registry's source: every part is there."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "_registry_tables.py"
    if not path.is_file():
        pytest.skip("the documentation's sources are not at hand")
    spec = importlib.util.spec_from_file_location("_registry_tables", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_registry_tables"] = module
    spec.loader.exec_module(module)
    tables = module.registry_tables()
    from fastsgd._registry import PENALTIES, SCHEDULES, UPDATES

    for registry in (LOSSES, PENALTIES, UPDATES, SCHEDULES):
        for e in registry:
            assert f"| `{e.name}` |" in tables, e.name
    for e in LOSSES:
        assert e.formula in tables, e.name
