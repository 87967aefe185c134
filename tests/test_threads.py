"""Threads: the same bits for any thread count (fixed chunks summed in a fixed order), the
thread setting (set_num_threads, OMP_NUM_THREADS, threadpoolctl), and Python threads calling the
kernels at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import fastsgd
from fastsgd._ext import _core

pytestmark = pytest.mark.usefixtures("restore_threads")


def chunk_rows(d: int) -> int:
    """Rows per chunk of the core (core.hpp): about 2^18 elements, a multiple of 16 rows."""
    return max(64, ((1 << 18) // d + 15) // 16 * 16)


def _data(n: int, d: int, k: int | None, dtype: Any, seed: int = 0) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    w = rng.standard_normal(d if k is None else (d, k))
    y = rng.standard_normal(n if k is None else (n, k)).astype(dtype)
    b = None if k is None else rng.standard_normal(k)
    return X, y, w, b


def _bits(result: Any) -> bytes:
    """Every number of a kernel's result, as raw bytes."""
    if isinstance(result, tuple):
        return b"".join(_bits(r) for r in result)
    if result is None:
        return b"none"
    return np.asarray(result).tobytes() + str(np.asarray(result).dtype).encode()


def _all_kernels(X: Any, y: Any, w: Any, b: Any) -> dict[str, bytes]:
    return {
        "dot": _bits(fastsgd.dot(X, w, b)),
        "mse": _bits(fastsgd.mse(X, y, w, b)),
        "mse_grad": _bits(fastsgd.mse_grad(X, y, w, b)),
    }


SHAPES = pytest.mark.parametrize(
    ("n", "d", "k"),
    [(300_000, 3, None), (400_000, 2, 1), (40_000, 100, None), (50_000, 17, 3)],
    ids=["n300000-d3", "n400000-d2-w1", "n40000-d100", "n50000-d17-w3"],
)


@SHAPES
def test_one_and_two_threads_give_the_same_bits(n: int, d: int, k: int | None, dtype: Any) -> None:
    assert n > 3 * chunk_rows(d)  # several chunks, so two threads really split the work
    X, y, w, b = _data(n, d, k, dtype)
    fastsgd.set_num_threads(1)
    assert fastsgd.get_num_threads() == 1
    one = _all_kernels(X, y, w, b)
    for threads in (2, 3):
        fastsgd.set_num_threads(threads)
        assert fastsgd.get_num_threads() == threads
        assert _all_kernels(X, y, w, b) == one


def test_the_bits_do_depend_on_the_data() -> None:
    """The comparison above is between real results: a small change of X changes them."""
    X, y, w, b = _data(300_000, 3, None, np.float64)
    before = _all_kernels(X, y, w, b)
    X2 = X.copy()
    X2[123_456, 1] *= 1.0001
    after = _all_kernels(X2, y, w, b)
    assert before["mse_grad"] != after["mse_grad"]
    assert before["dot"] != after["dot"]


@pytest.mark.skipif(
    fastsgd._core.build_info()["openmp"] is None, reason="built without OpenMP (one thread)"
)
def test_threadpoolctl_limits_the_threads() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fastsgd.set_num_threads(None)
    X, y, w, b = _data(300_000, 3, None, np.float32)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastsgd.get_num_threads() == 1
        limited = _all_kernels(X, y, w, b)
    with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
        assert fastsgd.get_num_threads() == 2
        assert _all_kernels(X, y, w, b) == limited


def test_set_num_threads_overrides_and_none_restores() -> None:
    fastsgd.set_num_threads(None)
    default = fastsgd.get_num_threads()
    assert default >= 1
    fastsgd.set_num_threads(default + 3)
    assert fastsgd.get_num_threads() == default + 3
    fastsgd.set_num_threads(np.int64(1))  # NumPy integers are integers
    assert fastsgd.get_num_threads() == 1
    fastsgd.set_num_threads(None)
    assert fastsgd.get_num_threads() == default


@pytest.mark.parametrize(
    ("n", "exc", "words"),
    [
        pytest.param(0, ValueError, ["n", ">= 1", "0"], id="zero"),
        pytest.param(-1, ValueError, ["n", ">= 1", "-1"], id="negative"),
        pytest.param("2", TypeError, ["n", "integer", "str"], id="str"),
        pytest.param(2.0, TypeError, ["n", "integer", "float"], id="float"),
        pytest.param(True, TypeError, ["n", "integer", "bool"], id="bool"),
        pytest.param(2**40, ValueError, ["n", "<=", str(2**40)], id="too-many"),
    ],
)
def test_set_num_threads_rejects_bad_counts(n: Any, exc: type[Exception], words: list[str]) -> None:
    fastsgd.set_num_threads(2)
    with pytest.raises(exc) as info:
        fastsgd.set_num_threads(n)
    for word in words:
        assert word in str(info.value)
    assert fastsgd.get_num_threads() == 2  # unchanged


_CHILD = """
import hashlib, numpy as np, fastsgd
rng = np.random.default_rng(0)
X = rng.standard_normal((300_000, 3)).astype(np.float32)
y = rng.standard_normal(300_000).astype(np.float32)
w = rng.standard_normal(3)
loss, g, _ = fastsgd.mse_grad(X, y, w)
z = fastsgd.dot(X, w)
h = hashlib.sha256(np.float64(loss).tobytes() + g.tobytes() + z.tobytes()).hexdigest()
print(fastsgd.get_num_threads(), h)
"""


def _child(env_threads: str | None) -> tuple[int, str]:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if env_threads is not None:
        env["OMP_NUM_THREADS"] = env_threads
    out = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    threads, digest = out.stdout.split()
    return int(threads), digest


@pytest.mark.skipif(
    fastsgd._core.build_info()["openmp"] is None, reason="built without OpenMP (one thread)"
)
def test_omp_num_threads_is_honoured_and_changes_no_bits() -> None:
    one, digest_one = _child("1")
    two, digest_two = _child("2")
    three, digest_three = _child("3")
    assert (one, two, three) == (1, 2, 3)
    assert digest_one == digest_two == digest_three
    # and the same as in this process
    import hashlib

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300_000, 3)).astype(np.float32)
    y = rng.standard_normal(300_000).astype(np.float32)
    w = rng.standard_normal(3)
    loss, g, _ = fastsgd.mse_grad(X, y, w)
    z = fastsgd.dot(X, w)
    here = hashlib.sha256(np.float64(loss).tobytes() + g.tobytes() + z.tobytes()).hexdigest()
    assert here == digest_one


# --- Python threads -----------------------------------------------------------------------


def test_four_python_threads_get_correct_answers() -> None:
    fastsgd.set_num_threads(2)
    problems = [
        _data(200_000, 3, None, np.float32, seed=1),
        _data(50_000, 17, 3, np.float64, seed=2),
        _data(30_000, 100, None, np.float32, seed=3),
        _data(100_000, 2, 1, np.float64, seed=4),
    ]
    kernels = ["dot", "mse", "mse_grad"]

    def run(task: tuple[int, str]) -> bytes:
        i, kernel = task
        X, y, w, b = problems[i]
        args = (X, w, b) if kernel == "dot" else (X, y, w, b)
        return _bits(getattr(fastsgd, kernel)(*args))

    tasks = [(i, kernel) for i in range(len(problems)) for kernel in kernels] * 4
    sequential = {t: run(t) for t in set(tasks)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(run, tasks))
    for task, bits in zip(tasks, parallel, strict=True):
        assert bits == sequential[task], task


def test_four_python_threads_step_their_own_parameters() -> None:
    grads = [np.random.default_rng(s).standard_normal((100, 50)) for s in range(4)]

    def train(i: int) -> np.ndarray[Any, Any]:
        w, v = np.zeros((100, 50)), np.zeros((100, 50))
        for _ in range(200):
            fastsgd.sgd_step(w, grads[i], 0.01, momentum=0.9, nesterov=True, velocity=v)
        return w

    expected = [train(i) for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(train, range(4)))
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(g, e)


def _longest_pause_of_another_thread(call: Any) -> tuple[float, float]:
    """Run ``call`` while a second Python thread loops; return (the call's duration, the
    longest time the second thread went without running a loop iteration)."""
    started, done = threading.Event(), threading.Event()
    longest = [0.0]

    def watch() -> None:
        last = time.perf_counter()
        started.set()
        while not done.is_set():
            now = time.perf_counter()
            longest[0] = max(longest[0], now - last)
            last = now

    watcher = threading.Thread(target=watch)
    watcher.start()
    started.wait()
    try:
        t0 = time.perf_counter()
        call()
        duration = time.perf_counter() - t0
    finally:
        done.set()
        watcher.join()
    return duration, longest[0]


@pytest.mark.parametrize("entry", ["loss_grad", "predict"])
def test_the_core_releases_the_gil(entry: str) -> None:
    """While one thread is inside the core, another Python thread keeps running.

    A single long call (about 0.3 s: 6000 rows × 100 features × 1000 outputs, one OpenMP
    thread) that held the GIL would stop the other thread for the whole call; released, the
    other thread only waits for the switch interval now and then. A call into ``re`` that
    holds the GIL shows the difference in ``test_a_call_holding_the_gil_stops_other_threads``.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 100)).astype(np.float32)
    Wt = rng.standard_normal((1000, 100))
    if entry == "loss_grad":
        duration, pause = _longest_pause_of_another_thread(
            lambda: _core.loss_grad(
                X, _core.Targets(), Wt, None, _core.LossSpec("squared", [0.5]), False, None, 1
            )
        )
    else:
        duration, pause = _longest_pause_of_another_thread(
            lambda: _core.predict(X, Wt, None, 1.0, None, 1)
        )
    assert pause < duration / 3, (duration, pause)


def test_a_call_holding_the_gil_stops_other_threads() -> None:
    """The measurement above can fail: a C call that keeps the GIL (a backtracking regular
    expression) stops the other thread for about its whole duration."""
    pattern = re.compile(r"(a+)+b")
    duration, pause = _longest_pause_of_another_thread(lambda: pattern.match("a" * 21))
    assert duration > 0.05
    assert pause > duration / 2, (duration, pause)


def test_small_calls_stay_on_one_thread_by_default_with_the_same_bits() -> None:
    """Under the default threshold (2^22 element operations) a call runs on one thread;
    the chunks and their order are the same, so the bits are too."""
    from fastsgd._ext import _core

    rng = np.random.default_rng(7)
    X = rng.standard_normal((300_000, 3)).astype(np.float32)  # 9e5 < 2^22
    y = rng.standard_normal(300_000).astype(np.float32)
    w = np.array([0.5, -1.0, 2.0], np.float32)
    before = _core.get_parallel_min_work()
    try:
        fastsgd.set_num_threads(2)
        _core.set_parallel_min_work(0)
        threaded = fastsgd.mse_grad(X, y, w, 0.25)
        _core.set_parallel_min_work(1 << 22)
        assert _core.get_parallel_min_work() == 1 << 22
        serial = fastsgd.mse_grad(X, y, w, 0.25)
    finally:
        _core.set_parallel_min_work(before)
        fastsgd.set_num_threads(None)
    assert threaded[0] == serial[0]
    np.testing.assert_array_equal(threaded[1], serial[1])
    assert threaded[2] == serial[2]


def test_parallel_threshold_from_the_environment() -> None:
    import subprocess
    import sys

    code = "from fastsgd._ext import _core; print(_core.get_parallel_min_work())"
    env = {**__import__("os").environ, "FASTSGD_PARALLEL_MIN_WORK": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "12345"
    env.pop("FASTSGD_PARALLEL_MIN_WORK")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(1 << 22)


@pytest.mark.skipif(
    fastsgd._core.build_info()["openmp"] is None, reason="built without OpenMP (one thread)"
)
def test_another_library_setting_openmp_threads_leaves_fastsgds_own() -> None:
    """A library that calls omp_set_num_threads(1) in the same process (snapml does in some
    fits) changes neither fastsgd's count nor the threads its kernels start: the process
    gains an OpenMP worker thread when a large kernel runs, unless fastsgd is set to 1."""
    code = """
import ctypes, os, sys
import numpy as np
import fastsgd
gomp = next(line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line)
ctypes.CDLL(gomp).omp_set_num_threads(1)  # what the other library does
fastsgd.set_num_threads(int(sys.argv[1]))
X = np.ones((4_000_000, 4), dtype=np.float32); y = np.ones(4_000_000, dtype=np.float32)
before = len(os.listdir("/proc/self/task"))
fastsgd.mse_grad(X, y, np.zeros(4))
print(fastsgd.get_num_threads(), len(os.listdir("/proc/self/task")) - before)
"""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "2"}
    env.pop("FASTSGD_PARALLEL_MIN_WORK", None)
    out = {}
    for n in ("2", "1"):
        proc = subprocess.run([sys.executable, "-c", code, n], env=env, capture_output=True,
                              text=True, timeout=120, check=True)  # fmt: skip
        out[n] = tuple(int(v) for v in proc.stdout.split())
    assert out["2"][0] == 2
    assert out["2"][1] >= 1  # fastsgd's own 2 threads: libgomp started a worker
    assert out["1"] == (1, 0)  # the control: set to one thread, no worker


# --- the row helper: a second thread reading shuffled rows ahead of an epoch ------------------
# (toucher.hpp). It reads, never writes: an epoch's bits are the same with it and without it.
# The tests' parallel threshold is 0, so every shuffled epoch of 8192 rows or more with two
# threads allowed takes it.

_HELPER_ROWS = 20_000


def _helper_problem(case: str) -> tuple[Any, Any, Any, int]:
    rng = np.random.default_rng(7)
    sparse = case.startswith("csr")
    d = {"dense-d2-f32-b64": 2, "dense-d30-b64": 30, "dense-d20-sklearn-order": 20}.get(case, 12)
    dtype = np.float32 if "f32" in case else np.float64
    X = rng.standard_normal((_HELPER_ROWS, d)).astype(dtype)
    score = X @ rng.standard_normal(d)
    if sparse:
        X[rng.random(X.shape) < 0.7] = 0.0
        import scipy.sparse as sp

        M = sp.csr_matrix(X)
        X = _core.CsrMatrix(M.data, M.indices, M.indptr, d)
    options: dict[str, Any] = {"batch_size": 64, "seed": 3}
    classify = "hinge" in case
    if classify:
        labels = (score > 0).astype(np.int64)
        targets = _core.Targets(labels=labels, positive_mask=(labels == 1).view(np.uint8))
        loss = _core.LossSpec("hinge", [1.0])
    else:
        targets = _core.Targets(
            Y=(score + rng.standard_normal(_HELPER_ROWS)).astype(dtype)[:, None]
        )
        loss = _core.LossSpec("squared", [1.0])
    if "sklearn-order" in case:  # the drop-in's per-row epoch on its own shuffled order
        options.update(batch_size=1, sklearn_arithmetic=True, sum_loss=False)
    if "sums" in case:  # the per-row loop that sums the rows' losses
        options["sum_loss"] = True
    if "skip" in case:  # rows held out (early stopping's validation rows)
        options["skip"] = (rng.random(_HELPER_ROWS) < 0.1).astype(np.uint8)
    if "blocks" in case:
        options["shuffle"] = 16
    opts = _core.EpochOptions(
        loss,
        penalty=_core.PenaltySpec(alpha=1e-4),
        schedule=_core.ScheduleSpec("constant", eta0=0.01),
        **options,
    )
    if "sklearn-order" in case:
        opts.order = rng.permutation(_HELPER_ROWS).astype(np.int64)
    return X, targets, opts, d


HELPER_CASES = [
    "dense-d2-f32-b64",  # narrow rows: gathered into a buffer a batch at a time
    "dense-d30-b64",  # wide rows: read in place
    "dense-d20-sklearn-order",  # the per-row loop (sequential.hpp)
    "dense-d20-sklearn-order-hinge",
    "dense-d20-sklearn-order-sums",
    "dense-sklearn-order-skip",  # the drop-in's early stopping: the order and skipped rows
    "dense-skip-b64",
    "dense-blocks-b64",
    "csr-b64",
    "csr-sklearn-order-hinge",
]


@pytest.mark.parametrize("case", HELPER_CASES)
def test_the_row_helper_runs_with_two_threads_and_changes_no_bits(case: str) -> None:
    X, targets, opts, d = _helper_problem(case)
    results, helped = {}, {}
    for threads in (1, 2):
        model = _core.Model(1, d, True)
        trainer = _core.Trainer(X, targets)
        helped[threads] = []
        for epoch in range(5):
            opts.epoch = epoch
            stats = trainer.epoch(model, opts, threads=threads)
            assert stats.steps > 0
            helped[threads].append(stats.row_helper)
            # the helper reads rows 512 or more ahead of the epoch (skipping any it lags:
            # an epoch this short may end before it has started)
            assert stats.helper_rows <= (stats.rows - 512 if stats.row_helper else 0), case
        results[threads] = (model.coef().tobytes(), model.bias().tobytes(), model.scale)
    # a trainer's first four such epochs take the helper, not, not, and take it (the
    # fifth follows the faster: either)
    assert helped[1] == [False] * 5, (case, helped)
    assert helped[2][:4] == [True, False, False, True], (case, helped)
    assert results[1] == results[2]
    assert np.any(np.frombuffer(results[1][0]) != 0.0)  # the epochs did train


def test_the_row_helper_stays_off_where_it_cannot_help() -> None:
    X, targets, opts, d = _helper_problem("dense-d30-b64")

    def helper(X: Any, threads: int = 2) -> bool:
        tg = targets if len(X) == _HELPER_ROWS else _core.Targets(Y=np.zeros((len(X), 1)))
        stats = _core.Trainer(X, tg).epoch(_core.Model(1, d, True), opts, threads=threads)
        return bool(stats.row_helper)

    assert helper(X)
    assert not helper(X, threads=1)
    opts.shuffle = 0  # rows in order: the hardware prefetcher follows them
    assert not helper(X)
    opts.shuffle = 1
    opts.batch_size = 0  # one batch of every row, in order
    assert not helper(X)
    opts.batch_size = 513  # batches longer than the window's near end (512 rows)
    assert not helper(X)
    opts.batch_size = 64
    opts.skip = np.zeros(_HELPER_ROWS, np.uint8)
    opts.shuffle = 0  # in order, with rows held out
    assert not helper(X)
    opts.shuffle = 1
    assert helper(X)
    opts.skip = None
    assert not helper(X[:8000])  # fewer rows than the helper's window (4 x 2048)
    before = _core.get_parallel_min_work()
    _core.set_parallel_min_work(1 << 30)
    try:  # rows whose lines are below the threads' threshold (they fit the caches)
        assert not helper(X)
    finally:
        _core.set_parallel_min_work(before)


def test_the_row_helper_stays_off_when_a_step_runs_threads() -> None:
    # sparse mini-batch steps of another update rule sum their rows on threads past 256
    X, targets, _, d = _helper_problem("csr-b64")

    def helper(batch: int) -> bool:
        opts = _core.EpochOptions(
            _core.LossSpec("squared", [1.0]),
            update=_core.UpdateSpec("sgd", momentum=0.9),
            schedule=_core.ScheduleSpec("constant", eta0=0.01),
            batch_size=batch,
        )
        stats = _core.Trainer(X, targets).epoch(_core.Model(1, d, True), opts, threads=2)
        return bool(stats.row_helper)

    assert helper(256)
    assert not helper(257)


def test_the_row_helper_reads_ahead_of_a_long_epoch() -> None:
    rng = np.random.default_rng(3)
    n, d = 200_000, 30  # 48 MB of float64 rows: an epoch of tens of milliseconds
    X = rng.standard_normal((n, d))
    targets = _core.Targets(Y=rng.standard_normal((n, 1)))
    opts = _core.EpochOptions(
        _core.LossSpec("squared", [1.0]), schedule=_core.ScheduleSpec("constant", eta0=1e-3),
        batch_size=64,
    )  # fmt: skip
    stats = _core.Trainer(X, targets).epoch(_core.Model(1, d, True), opts, threads=2)
    assert stats.row_helper
    assert 0 < stats.helper_rows <= n - 512


@pytest.mark.parametrize(
    ("n_jobs", "n_threads", "expected"), [(1, None, 0), (2, None, 1), (2, 2, 2)]
)
def test_one_vs_rest_jobs_side_by_side_take_one_thread_each(
    monkeypatch: pytest.MonkeyPatch, n_jobs: int, n_threads: int | None, expected: int
) -> None:
    # each binary problem's epochs get `threads` (0: all of fastsgd's, so a row helper each)
    from fastsgd import _driver
    from fastsgd.linear_model import SGDClassifier

    seen: list[int] = []
    init = _driver.CoreBackend.__init__

    def spy(self: Any, data: Any, validation: Any, n_threads: int) -> None:
        seen.append(n_threads)
        init(self, data, validation, n_threads)

    monkeypatch.setattr(_driver.CoreBackend, "__init__", spy)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((300, 4)), rng.integers(0, 3, 300)
    SGDClassifier(max_iter=3, tol=None, n_jobs=n_jobs, n_threads=n_threads).fit(X, y)
    assert seen == [expected] * 3
