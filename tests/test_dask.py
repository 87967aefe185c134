"""fastsgd.dask on a real distributed.LocalCluster: 2 worker processes on 127.0.0.1."""

from __future__ import annotations

import doctest
import inspect
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from dask.sizeof import sizeof

import fastsgd
import fastsgd.dask as fdask
from fastsgd.datasets import make_line

# The block makers below run on the workers, which import this file by name (spawned
# worker processes inherit sys.path); the test process's id is passed to them.
CLIENT_PID = os.getpid()

pytestmark = pytest.mark.timeout(120)


# Every server on a port the system picks, never dask's defaults (8786 for the scheduler,
# 8787 for its HTTP server), which another cluster or a second test run may hold: with
# dashboard_address=None the scheduler still serves HTTP (health, metrics), on 8787
# unless told otherwise.
CLUSTER_PORTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "scheduler_port": 0,
    "dashboard_address": None,
    "worker_dashboard_address": None,
    "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
}


@pytest.fixture(scope="module")
def client() -> Any:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, **CLUSTER_PORTS
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as c,
    ):
        yield c
    assert cluster.status.name == "closed"


# ---------------------------------------------------------------------------
# Data made block by block on the workers, from the block index
# ---------------------------------------------------------------------------


def _rows(
    block_id: Any = None, *, rows: int, d: int, seed: int, kind: str, sleep: float, client: int
) -> Any:
    """Rows [X | y] of block i, the same whichever process computes them, but never the
    client's: a block materialised in the test process raises."""
    if os.getpid() == client:
        raise RuntimeError("a block of X was computed in the client process")
    if sleep:
        import time

        time.sleep(sleep)
    rng = np.random.default_rng([seed, block_id[0]])
    w = np.random.default_rng(seed).standard_normal((d, 3))
    X = rng.standard_normal((rows, d))
    if kind == "regression":
        y = X @ w[:, 0] + 0.5 + 0.1 * rng.standard_normal(rows)
    else:  # three classes, linearly separable up to label noise
        y = np.argmax(X @ w + 0.7 * rng.standard_normal((rows, 3)), axis=1).astype(np.float64)
    return np.column_stack([X, y]).astype(np.float32)


def make_data(
    n_blocks: int, rows: int, d: int, *, kind: str = "regression", seed: int = 0, sleep: float = 0
) -> tuple[Any, Any]:
    XY = da.map_blocks(
        _rows,
        chunks=((rows,) * n_blocks, (d + 1,)),
        dtype=np.float32,
        meta=np.empty((0, d + 1), np.float32),
        rows=rows,
        d=d,
        seed=seed,
        kind=kind,
        sleep=sleep,
        client=CLIENT_PID,
    )
    X, y = XY[:, :d], XY[:, d]
    if kind != "regression":
        y = y.astype(np.int64)
    return X, y


def gathered(client: Any, *arrays: Any) -> list[Any]:
    """The test's own copy of arrays, for the in-memory reference fits."""
    futures = client.compute(list(arrays), optimize_graph=False)
    return [np.asarray(a) for a in client.gather(futures)]


@pytest.fixture(autouse=True)
def no_key_conflicts(caplog: pytest.LogCaptureFixture) -> Any:
    """The scheduler (in this process) warns when a key comes back with another task;
    dask says that can deadlock. fastsgd's graphs must never do it."""
    yield
    conflicts = [r.getMessage() for r in caplog.records if "different `run_spec`" in r.getMessage()]
    assert not conflicts, conflicts[0]


def exact_auto_rate(
    X: Any, loss: str, batch_size: int | None, fit_intercept: bool, k: int
) -> float:
    """learning_rate="auto" (see fastsgd.auto_learning_rate) with NumPy's exact eigenvalues."""
    Xt = np.column_stack([X, np.ones(len(X))]) if fit_intercept else np.asarray(X, float)
    A = Xt.T @ Xt / len(X)
    c = {"mse": 2.0 / k, "softmax": 0.5, "logistic": 0.25}[loss]
    B = len(X) if batch_size is None else min(batch_size, len(X))
    return 1.0 / (c * np.linalg.eigvalsh(A)[-1] + c * np.trace(A) / B)


def accuracy(X: Any, y: Any, w: Any, b: Any) -> float:
    return float(np.mean(np.argmax(X @ w + b, axis=1) == y))


# ---------------------------------------------------------------------------
# method="gradient": the same numbers as in-memory full-batch fit
# ---------------------------------------------------------------------------

GRADIENT_CASES = {
    "lesson": (
        "mse",
        {"w0": (-1.0, 1.0), "learning_rate": 0.1, "epochs": 30},
    ),
    "mse-intercept-nesterov-decay": (
        "mse",
        {"learning_rate": 0.05, "epochs": 15, "fit_intercept": True, "momentum": 0.9,
         "nesterov": True, "weight_decay": 0.01},
    ),
    "softmax-momentum": (
        "softmax",
        {"learning_rate": 0.5, "epochs": 15, "fit_intercept": True, "momentum": 0.5,
         "dampening": 0.1},
    ),
    "logistic-cosine": (
        "logistic",
        {"learning_rate": 1.0, "epochs": 15, "fit_intercept": True, "schedule": "cosine"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(GRADIENT_CASES), ids=list(GRADIENT_CASES))
def test_gradient_equals_in_memory_full_batch(client: Any, case: str) -> None:
    loss, opts = GRADIENT_CASES[case]
    if case == "lesson":
        Xm, ym = make_line()
        X, y = da.from_array(Xm, chunks=30), da.from_array(ym, chunks=30)  # 30+30+30+10 rows
    else:
        X, y = make_data(5, 400, 6, kind="regression" if loss == "mse" else "classes")
        if loss == "logistic":
            y = (y == 1).astype(np.int64)
        Xm, ym = gathered(client, X, y)
    r = fdask.fit(X, y, method="gradient", client=client, loss=loss, **opts)
    m = fastsgd.fit(Xm, ym, loss=loss, **opts)
    # float64 data: the same sums to rounding. float32 data: the kernels multiply in float32
    # (W rounded to float32, at most 16 products a lane before a double sum), so where the
    # blocks end moves the last float32 bits of the gradient, which 15 epochs carry on
    rtol, atol = (1e-9, 1e-12) if Xm.dtype == np.float64 else (1e-5, 1e-7)
    np.testing.assert_allclose(r.w, m.w, rtol=rtol, atol=atol)
    if m.b is not None:
        np.testing.assert_allclose(r.b, m.b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(r.loss_history, m.loss_history, rtol=rtol)
    np.testing.assert_allclose(r.lr_history, m.lr_history)
    assert (r.n_epochs, r.n_steps) == (m.n_epochs, m.n_steps)
    assert r.loss < 0.9 * r.loss_history[0]
    assert r.extra["method"] == "gradient"
    assert r.extra["n_blocks"] == X.numblocks[0]


def test_gradient_auto_learning_rate_and_multi_output(client: Any) -> None:
    rng = np.random.default_rng(3)
    Xm = rng.standard_normal((900, 4)) * [1.0, 3.0, 0.5, 10.0] + 5.0
    Ym = Xm @ rng.standard_normal((4, 2))
    X, Y = da.from_array(Xm, chunks=(200, 2)), da.from_array(Ym, chunks=(300, 1))
    r = fdask.fit(X, Y, method="gradient", client=client, learning_rate="auto",
                  fit_intercept=True, epochs=10)  # fmt: skip
    # the Gram matrix summed over blocks gives the exact auto rate (fit's power iteration
    # stops at a rough tolerance)
    assert r.learning_rate == pytest.approx(exact_auto_rate(Xm, "mse", None, True, 2), rel=1e-9)
    assert r.learning_rate == pytest.approx(
        fastsgd.auto_learning_rate(Xm, fit_intercept=True, n_outputs=2), rel=0.05
    )
    m = fastsgd.fit(Xm, Ym, learning_rate=r.learning_rate, fit_intercept=True, epochs=10)
    assert r.w.shape == (4, 2)
    assert r.b.shape == (2,)
    np.testing.assert_allclose(r.loss_history, m.loss_history, rtol=1e-9)


def test_average_with_full_blocks_is_gradient_descent(client: Any) -> None:
    """One full-batch step per block, averaged by block rows, is one step on all rows."""
    Xm, ym = make_line(n=250)
    X, y = da.from_array(Xm, chunks=60), da.from_array(ym, chunks=60)
    a = fdask.fit(X, y, method="average", client=client, learning_rate=0.2, epochs=5)
    g = fdask.fit(X, y, method="gradient", client=client, learning_rate=0.2, epochs=5)
    np.testing.assert_allclose(a.w, g.w, rtol=1e-12)
    assert a.n_steps == 5 * X.numblocks[0]
    assert g.n_steps == 5


# ---------------------------------------------------------------------------
# method="average": the in-memory loss within 1%
# ---------------------------------------------------------------------------


def test_average_reaches_in_memory_loss_on_the_lesson(client: Any) -> None:
    Xm, ym = make_line()
    X, y = da.from_array(Xm, chunks=25), da.from_array(ym, chunks=25)
    opts = {"batch_size": 10, "learning_rate": 0.1, "epochs": 30, "seed": 1}
    r = fdask.fit(X, y, method="average", client=client, **opts)
    m = fastsgd.fit(Xm, ym, **opts)
    assert r.loss <= 1.01 * m.loss
    assert r.loss_history[0] > 50 * r.loss
    assert r.n_steps == 30 * 4 * 3  # 4 blocks of 25 rows: 3 batches each


def test_average_reaches_in_memory_loss_on_200k_by_20(client: Any) -> None:
    X, y = make_data(8, 25_000, 20)
    X, y = client.persist([X, y])
    Xm, ym = gathered(client, X, y)
    opts = {"batch_size": 64, "learning_rate": 0.02, "epochs": 3, "fit_intercept": True}
    r = fdask.fit(X, y, method="average", client=client, **opts)
    m = fastsgd.fit(Xm, ym, **opts)
    assert Xm.shape == (200_000, 20)
    assert r.loss <= 1.01 * m.loss
    assert r.loss < 0.02  # the noise floor is 0.01
    assert r.b == pytest.approx(0.5, abs=0.02)


def test_average_local_epochs_and_momentum(client: Any) -> None:
    X, y = make_data(4, 2000, 5)
    Xm, ym = gathered(client, X, y)
    opts = {"batch_size": 32, "learning_rate": 0.01, "momentum": 0.9, "fit_intercept": True}
    r = fdask.fit(X, y, method="average", client=client, local_epochs=2, epochs=3, **opts)
    m = fastsgd.fit(Xm, ym, epochs=6, **opts)
    assert r.extra["local_epochs"] == 2
    assert r.n_steps == 3 * 2 * 4 * 63
    assert r.loss <= 1.01 * m.loss


def test_classifier_accuracy_within_one_point(client: Any) -> None:
    X, y = make_data(6, 5000, 10, kind="classes", seed=7)
    X, y = client.persist([X, y])
    Xm, ym = gathered(client, X, y)
    opts = {"loss": "softmax", "batch_size": 32, "learning_rate": 0.1, "epochs": 3,
            "fit_intercept": True}  # fmt: skip
    r = fdask.fit(X, y, method="average", client=client, **opts)
    m = fastsgd.fit(Xm, ym, **opts)
    acc_r, acc_m = accuracy(Xm, ym, r.w, r.b), accuracy(Xm, ym, m.w, m.b)
    assert acc_m > 0.8
    assert acc_r >= acc_m - 0.01
    assert r.w.shape == (10, 3)


def test_validation_data_and_early_stopping(client: Any) -> None:
    X, y = make_data(4, 500, 30, seed=1)
    Xv, yv = make_data(2, 200, 30, seed=2)
    r = fdask.fit(X, y, method="average", client=client, batch_size=16, learning_rate=0.05,
                  epochs=20, validation_data=(Xv, yv), early_stopping=True,
                  n_iter_no_change=2, fit_intercept=True)  # fmt: skip
    assert r.val_loss_history is not None
    assert len(r.val_loss_history) == r.n_epochs + 1
    Xvm, yvm = gathered(client, Xv, yv)
    best = int(np.argmin(r.val_loss_history))
    assert r.best_epoch == best
    assert fastsgd.mse(Xvm.astype(np.float64), yvm, r.w, r.b) == pytest.approx(
        r.val_loss_history[best], rel=1e-5
    )
    # in-memory validation data gives the same history
    r2 = fdask.fit(X, y, method="average", client=client, batch_size=16, learning_rate=0.05,
                   epochs=3, validation_data=(Xvm, yvm), fit_intercept=True)  # fmt: skip
    n = min(4, len(r.val_loss_history))
    np.testing.assert_allclose(r2.val_loss_history[:n], r.val_loss_history[:n], rtol=1e-6)


# ---------------------------------------------------------------------------
# Data stays on the workers
# ---------------------------------------------------------------------------


def test_no_block_is_computed_on_or_gathered_to_the_client(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = make_data(6, 4000, 8)  # each block of X is 128 kB
    with pytest.raises(RuntimeError, match="client process"):
        X.blocks[0].compute(scheduler="sync")  # the guard works
    received: list[int] = []
    gather = distributed.Client._gather

    async def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = await gather(self, *args, **kwargs)
        received.append(sizeof(out))
        return out

    monkeypatch.setattr(distributed.Client, "_gather", spy)
    for method, extra in (("average", {"batch_size": 50}), ("gradient", {})):
        r = fdask.fit(X, y, method=method, client=client, learning_rate="auto", epochs=2,
                      fit_intercept=True, validation_data=(X, y), **extra)  # fmt: skip
        assert r.loss < r.loss_history[0]
    assert received  # results did come back through the spy
    assert max(received) < 5_000  # parameters and sums: bytes, not blocks


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------


def test_uses_the_current_client(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    Xm, ym = make_line()
    X, y = da.from_array(Xm, chunks=50), da.from_array(ym, chunks=50)
    monkeypatch.setattr(distributed, "LocalCluster", None)  # starting one would fail
    scheduler = client.cluster.scheduler  # in this process: LocalCluster's scheduler
    before = scheduler.transition_counter
    with client.as_current():
        r = fdask.fit(X, y, method="gradient", learning_rate=0.1, epochs=2)
    assert r.n_epochs == 2
    assert scheduler.transition_counter > before + 3 * 2 * 2  # 3 passes of 2 blocks at least


def test_starts_and_closes_a_local_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []

    class Recorded(distributed.LocalCluster):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.update(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://")
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(distributed, "LocalCluster", Recorded)
    Xm, ym = make_line()
    r = fdask.fit(da.from_array(Xm, chunks=50), da.from_array(ym, chunks=50),
                  method="gradient", epochs=3)  # fmt: skip
    assert r.n_epochs == 3
    assert len(started) == 1
    assert started[0].status.name == "closed"
    assert started[0].scheduler.address.startswith("tcp://127.0.0.1:")


DASK_PORTS = (8786, 8787)  # the scheduler's and the dashboard's


def _hold_default_ports(skip_if_taken: bool) -> Any:
    """Hold 127.0.0.1:8786 and 127.0.0.1:8787 as another cluster would. A port something
    holds already meets the condition without us: skipped, or left alone."""
    held: list[socket.socket] = []
    try:
        for port in DASK_PORTS:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                sock.close()
                if skip_if_taken:
                    pytest.skip(f"127.0.0.1:{port} is taken already ({exc.strerror})")
                continue
            held.append(sock)
            sock.listen()
        yield
    finally:
        for sock in held:
            sock.close()


@pytest.fixture
def dask_ports_taken() -> Any:
    """The default ports held by us (the test is skipped when something else holds them)."""
    yield from _hold_default_ports(skip_if_taken=True)


@pytest.fixture
def default_ports_held() -> Any:
    """The default ports held, by us or by whatever holds them already."""
    yield from _hold_default_ports(skip_if_taken=False)


@pytest.mark.usefixtures("dask_ports_taken")
def test_clusters_start_while_the_default_ports_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' cluster and the one fastsgd.dask starts bind no fixed port. Under
    filterwarnings=error, dask's "Port 8787 is already in use" warning, or the socket its
    failed bind leaves unclosed (a ResourceWarning), would fail this test."""
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, **CLUSTER_PORTS)
        as cluster,
        distributed.Client(cluster, set_as_default=False) as c,
    ):  # fmt: skip
        assert c.submit(sum, [1, 2]).result() == 3
        scheduler = cluster.scheduler
        assert scheduler.port not in DASK_PORTS
        assert scheduler.http_server.port not in DASK_PORTS
        for worker_port in (int(a.rsplit(":", 1)[1]) for a in scheduler.workers):
            assert worker_port not in DASK_PORTS

    started: list[Any] = []

    class InProcess(distributed.LocalCluster):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.update(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://")
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(distributed, "LocalCluster", InProcess)  # fastsgd.dask's own options
    Xm, ym = make_line()
    r = fdask.fit(da.from_array(Xm, chunks=50), da.from_array(ym, chunks=50),
                  method="gradient", epochs=2)  # fmt: skip
    assert r.n_epochs == 2
    (own,) = started
    assert own.scheduler.port not in DASK_PORTS
    assert own.scheduler.http_server.port not in DASK_PORTS


# ---------------------------------------------------------------------------
# Options and bad input
# ---------------------------------------------------------------------------


def test_without_dask_fastsgd_imports_and_fastsgd_dask_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['dask'] = sys.modules['distributed'] = None  # as if not installed\n"
        "import fastsgd\n"
        "try:\n"
        "    import fastsgd.dask\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'fastsgd[dask]'" in out.stdout


@pytest.mark.usefixtures("default_ports_held")
@pytest.mark.parametrize("name", ["fit", "DaskAdapter"])
def test_docstring_examples(name: str) -> None:
    """Each public function has a numpydoc example, and it runs (on its own small cluster)."""
    func = getattr(fdask, name)
    assert "Examples\n    --------\n    >>> " in func.__doc__
    test = doctest.DocTestFinder().find(func, name, globs=vars(fdask))[0]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    # the examples' clients serve HTTP on a free port (127.0.0.1:0): nothing to warn about
    # when another process holds 8787
    result = runner.run(test, out=out.append)
    assert result.attempted > 0
    assert result.failed == 0, "".join(out)


def test_same_options_as_fit() -> None:
    ours = inspect.signature(fdask.fit).parameters
    for name, p in inspect.signature(fastsgd.fit).parameters.items():
        assert name in ours, name
        assert ours[name].default == p.default, name
        assert ours[name].kind == p.kind, name


def test_bad_input(client: Any) -> None:
    Xm, ym = make_line()
    X, y = da.from_array(Xm, chunks=50), da.from_array(ym, chunks=50)
    with pytest.raises(TypeError, match="X must be a dask array"):
        fdask.fit(Xm, ym, client=client)
    with pytest.raises(ValueError, match="method must be one of"):
        fdask.fit(X, y, method="sgd", client=client)
    with pytest.raises(ValueError, match="batch_size must be None with method='gradient'"):
        fdask.fit(X, y, method="gradient", batch_size=10, client=client)
    with pytest.raises(ValueError, match="local_epochs"):
        fdask.fit(X, y, method="gradient", local_epochs=2, client=client)
    with pytest.raises(ValueError, match="local_epochs"):
        fdask.fit(X, y, local_epochs=0, client=client)
    with pytest.raises(TypeError, match=r"client must be a distributed\.Client"):
        fdask.fit(X, y, client="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="y must have one row per row of X"):
        fdask.fit(X, y[:99], client=client)
    with pytest.raises(ValueError, match="X must be 2-d"):
        fdask.fit(X[:, 0], y, client=client)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fdask.fit(X[X[:, 0] > 0], y[X[:, 0] > 0], client=client)
    with pytest.raises(TypeError, match="X must be real"):
        fdask.fit(X.astype(np.complex128), y, client=client)
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        fdask.fit(X, y, epochs=-1, client=client)
    labels = da.from_array(np.arange(100) % 4, chunks=50)
    with pytest.raises(ValueError, match=r"outside \[0, 2\): found 0..3"):
        fdask.fit(X, labels, loss="logistic", client=client)
    with pytest.raises(TypeError, match="integer class indices"):
        fdask.fit(X, labels.astype(float), loss="softmax", client=client)
    bad = Xm.copy()
    bad[73, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        fdask.fit(da.from_array(bad, chunks=50), y, client=client)
    bad_y = ym.copy()
    bad_y[3] = np.inf
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        fdask.fit(X, da.from_array(bad_y, chunks=50), client=client)
    with pytest.raises(fastsgd.DivergenceError, match="stable below"):
        fdask.fit(X, y, method="gradient", learning_rate=5.0, epochs=30, client=client)


def test_in_memory_y_and_column_chunks(client: Any) -> None:
    Xm, ym = make_line(n=120)
    X = da.from_array(Xm, chunks=(40, 1))  # two column blocks: rechunked to one
    r = fdask.fit(X, ym, method="gradient", client=client, learning_rate=0.1, epochs=5)
    m = fastsgd.fit(Xm, ym, learning_rate=0.1, epochs=5)
    np.testing.assert_allclose(r.w, m.w, rtol=1e-12)


# ---------------------------------------------------------------------------
# fastsgd.SGDRegressor / SGDClassifier on dask arrays
# ---------------------------------------------------------------------------


def test_sample_weight_of_dask_arrays_weighs_the_rows(client: Any) -> None:
    est = pytest.importorskip("fastsgd.estimators")
    X, y = make_data(4, 3000, 6)
    Xm, ym = gathered(client, X, y)
    w = (np.arange(len(ym)) % 3).astype(np.float64)  # every third row weighs 0
    params = {"random_state": 0, "epochs": 3, "learning_rate": 0.05}
    fitted = {}
    for name, sw in (("numpy", w), ("dask", da.from_array(w, chunks=X.chunks[0]))):
        data = (Xm, ym) if name == "numpy" else (X, y)
        fitted[name] = est.SGDRegressor(**params).fit(
            *data, sample_weight=sw, **({"client": client} if name == "dask" else {})
        )
    unweighted = est.SGDRegressor(**params).fit(X, y, client=client)
    assert not np.allclose(fitted["dask"].coef_, unweighted.coef_)
    # the dask fit weighs the rows as the in-memory one does (its own row order)
    np.testing.assert_allclose(fitted["dask"].coef_, fitted["numpy"].coef_, rtol=0.05, atol=0.02)


def test_regressor_fits_and_predicts_dask_arrays(client: Any) -> None:
    est = pytest.importorskip("fastsgd.estimators")
    X, y = make_data(4, 3000, 6)
    Xm, ym = gathered(client, X, y)
    # plain SGD, its last iterate (the defaults' normalized rule and average: below)
    params = {"random_state": 0, "epochs": 5, "batch_size": 64, "update": "sgd", "average": False}
    reg = est.SGDRegressor(**params).fit(X, y, client=client)
    ref = est.SGDRegressor(**params).fit(Xm, ym)
    assert reg.n_features_in_ == 6
    assert reg.n_iter_ == 5
    assert len(reg.loss_history_) == 5  # each epoch's mean batch loss (progressive)
    assert reg.learning_rate_ == pytest.approx(
        exact_auto_rate(Xm.astype(np.float64), "mse", 64, True, 1), rel=1e-6
    )
    assert reg.learning_rate_ == pytest.approx(ref.learning_rate_, rel=0.05)
    assert reg.loss_history_[-1] <= 1.01 * ref.loss_history_[-1]
    # both are SGD at a constant rate, a noise floor away from least squares
    ls = np.linalg.lstsq(np.column_stack([Xm, np.ones(len(Xm))]), ym, rcond=None)[0]
    np.testing.assert_allclose(reg.coef_, ls[:-1], atol=0.03)
    np.testing.assert_allclose(ref.coef_, ls[:-1], atol=0.03)
    pred = reg.predict(X)
    assert isinstance(pred, da.Array)
    assert pred.chunks == (X.chunks[0],)
    # the defaults: the normalized rule's scales from the Gram matrix, the average
    default = est.SGDRegressor(random_state=0, epochs=5).fit(X, y, client=client)
    np.testing.assert_allclose(default.coef_, ls[:-1], atol=0.01)
    np.testing.assert_array_equal(gathered(client, pred)[0], reg.predict(Xm))
    # full-batch gradient descent and early stopping on a held-out part of every block
    gd = est.SGDRegressor(random_state=0, epochs=30, early_stopping=True, learning_rate=0.5,
                          n_iter_no_change=3).fit(X, y, method="gradient", client=client)  # fmt: skip
    assert gd.validation_loss_history_ is not None
    assert gd.t_ == gd.n_iter_  # one step per epoch
    assert gd.validation_loss_history_.min() < 0.02


def test_classifier_fits_and_predicts_dask_arrays(client: Any) -> None:
    est = pytest.importorskip("fastsgd.estimators")
    X, y = make_data(4, 3000, 8, kind="classes", seed=3)
    names = np.array(["cat", "dog", "emu"])
    labels = da.map_blocks(lambda b: names[b], y, dtype=names.dtype)
    Xm, lm = gathered(client, X, labels)
    params = {"random_state": 0, "epochs": 4}
    clf = est.SGDClassifier(**params).fit(X, labels, client=client)
    ref = est.SGDClassifier(**params).fit(Xm, lm)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert clf.coef_.shape == (3, 8)
    assert clf.score(Xm, lm) >= ref.score(Xm, lm) - 0.01
    for method in ("predict", "predict_proba", "decision_function", "predict_log_proba"):
        out = getattr(clf, method)(X)
        assert isinstance(out, da.Array), method
        np.testing.assert_array_equal(gathered(client, out)[0], getattr(clf, method)(Xm))
    # two classes: logistic regression, coef_ (1, d)
    binary = est.SGDClassifier(**params).fit(X, y == 1, client=client)
    assert binary.coef_.shape == (1, 8)
    assert binary.decision_function(X).shape == (X.shape[0],)
    # partial_fit on dask arrays: one averaged epoch per call
    pf = est.SGDClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        pf.partial_fit(X, labels, client=client)
    for _ in range(2):
        pf.partial_fit(X, labels, classes=names, client=client)
    assert pf.n_iter_ == 2
    assert len(pf.loss_history_) == 2  # each call's mean batch loss (progressive)
    assert pf.score(Xm, lm) > 0.8


def test_dask_ml_incremental_wrapper(client: Any) -> None:
    """dask-ml's Incremental feeds the estimator one in-memory block at a time through
    partial_fit (dask-ml is not a dependency: skipped when it is not installed)."""
    wrappers = pytest.importorskip("dask_ml.wrappers")
    est = pytest.importorskip("fastsgd.estimators")
    X, y = make_data(4, 2000, 5)
    Xm, ym = gathered(client, X, y)
    inc = wrappers.Incremental(est.SGDRegressor(random_state=0, learning_rate=0.02))
    with client.as_current():
        for _ in range(2):
            inc.partial_fit(X, y)
        pred = inc.predict(X)
    assert inc.estimator_.n_iter_ == 2 * X.numblocks[0]  # one partial_fit per block
    assert inc.estimator_.score(Xm, ym) > 0.99
    assert isinstance(pred, da.Array)
    np.testing.assert_allclose(gathered(client, pred)[0], inc.estimator_.predict(Xm), rtol=1e-6)
    clf = wrappers.Incremental(est.SGDClassifier(random_state=0))
    with client.as_current():
        clf.fit(X, y > y.mean(), classes=[False, True])
    assert clf.estimator_.classes_.tolist() == [False, True]


# ---------------------------------------------------------------------------
# A worker dies in the middle of an epoch (keep this test last: it restarts a worker)
# ---------------------------------------------------------------------------


def _kill_once(block: Any, armed: str, done: str) -> Any:
    """Kills the worker computing it, once, after the test has armed it."""
    if os.path.exists(armed) and not os.path.exists(done):
        Path(done).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return block


def test_survives_a_worker_killed_mid_epoch(client: Any, tmp_path: Path) -> None:
    X, y = make_data(8, 300, 4, sleep=0.02)
    Xm, ym = gathered(client, X, y)
    armed, done = tmp_path / "armed", tmp_path / "killed"
    Xk = X.map_blocks(_kill_once, armed=str(armed), done=str(done), dtype=X.dtype)
    pids_before = set(client.run(os.getpid).values())
    epochs_seen: list[int] = []

    def arm(epoch: int, loss: float, w: Any) -> None:
        epochs_seen.append(epoch)
        if epoch == 2:
            armed.write_text("")  # the next pass over X kills one worker

    r = fdask.fit(Xk, y, method="gradient", client=client, learning_rate=0.2, epochs=5,
                  fit_intercept=True, callback=arm)  # fmt: skip
    m = fastsgd.fit(Xm, ym, learning_rate=0.2, epochs=5, fit_intercept=True)
    assert done.exists(), "no worker was killed"
    killed = int(done.read_text())
    assert killed in pids_before
    assert epochs_seen == [1, 2, 3, 4, 5]
    # float32 blocks: the kernels may round products in float32 differently per block size
    np.testing.assert_allclose(r.w, m.w, rtol=1e-6)
    np.testing.assert_allclose(r.loss_history, m.loss_history, rtol=1e-6)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert killed not in set(client.run(os.getpid).values())


# --- sparse blocks ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["average", "gradient"])
def test_sparse_blocks_give_the_dense_fit(client, method):
    sp = pytest.importorskip("scipy.sparse")
    X = sp.random(2000, 30, density=0.1, format="csr", random_state=0)
    y = np.asarray(X @ np.linspace(-1, 1, 30)).ravel()
    Xs = da.from_array(X, chunks=(500, 30), asarray=False)  # blocks stay scipy.sparse
    Xd = da.from_array(X.toarray(), chunks=(500, 30))
    yd = da.from_array(y, chunks=500)
    opts = {"method": method, "epochs": 2, "learning_rate": 0.05, "client": client}
    if method == "average":
        opts["batch_size"] = 16
    a = fastsgd.dask.fit(Xs, yd, **opts)
    b = fastsgd.dask.fit(Xd, yd, **opts)
    np.testing.assert_allclose(a.w, b.w, rtol=1e-10, atol=1e-14)
    model = fastsgd.SGDRegressor(epochs=2, random_state=0).fit(Xs, yd, client=client)
    assert model.score(X, y) > 0.5
    np.testing.assert_allclose(model.predict(Xs).compute(), model.predict(X), rtol=1e-12)
