"""Python threads and the core's OpenMP threads together.

- Eight Python threads running fit, the kernels and the estimators at once, on shared
  read-only data with a model each, get the same bits as one thread running them in turn.
- Ctrl-C reaches a long fit in the main thread promptly, from a signal sent by another
  thread, while other threads keep training; the process is healthy afterwards.
- OpenMP teams started from many Python threads, and a process forked after OpenMP ran,
  do not deadlock (every test here is bounded by a timeout).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import fastsgd

N_THREADS = 8
ROUNDS = 3  # each thread runs every task this many times, in its own order


def _readonly(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    a.flags.writeable = False
    return a


def _shared_data() -> dict[str, np.ndarray[Any, Any]]:
    """Data every thread reads (and none may write): big enough for several OpenMP chunks."""
    rng = np.random.default_rng(7)
    X64 = rng.standard_normal((40_000, 24))
    return {
        "X64": _readonly(X64),
        "X32": _readonly(X64.astype(np.float32)),
        "y": _readonly(X64 @ np.linspace(-1.0, 1.0, 24) + 0.1 * rng.standard_normal(40_000)),
        "Y2": _readonly(rng.standard_normal((40_000, 2))),
        "labels3": _readonly(rng.integers(0, 3, 40_000)),
        "labels2": _readonly((X64[:, 0] > 0).astype(np.int64)),
        "W": _readonly(rng.standard_normal((24, 3)) * 0.1),
        "w": _readonly(rng.standard_normal(24) * 0.1),
    }


def _digest(*parts: Any) -> str:
    """The exact bits of a result (arrays, floats, None), for comparing runs."""
    h = hashlib.sha256()
    for p in parts:
        h.update(b"|" if p is None else np.ascontiguousarray(np.asarray(p)).tobytes())
    return h.hexdigest()


def _tasks(data: dict[str, np.ndarray[Any, Any]]) -> dict[str, Callable[[], str]]:
    """Named jobs, each building its own model state and returning the digest of its result."""
    X64, X32, y, Y2 = data["X64"], data["X32"], data["y"], data["Y2"]
    l3, l2, W, w = data["labels3"], data["labels2"], data["W"], data["w"]

    def fit_mse32() -> str:
        r = fastsgd.fit(X32, y, learning_rate=0.01, batch_size=256, epochs=2, momentum=0.9,
                        fit_intercept=True, seed=1, n_threads=2)  # fmt: skip
        return _digest(r.w, r.b, r.loss_history)

    def fit_mse64_multi() -> str:
        r = fastsgd.fit(X64, Y2, learning_rate="auto", batch_size=None, epochs=3, n_threads=2)
        return _digest(r.w, r.loss_history)

    def fit_softmax() -> str:
        r = fastsgd.fit(X64, l3, loss="softmax", learning_rate=0.1, batch_size=512, epochs=2,
                        fit_intercept=True, seed=3)  # fmt: skip
        return _digest(r.w, r.b, r.loss_history)

    def fit_logistic32() -> str:
        r = fastsgd.fit(X32, l2, loss="logistic", learning_rate=0.1, batch_size=64, epochs=1,
                        nesterov=True, momentum=0.5, seed=4, n_threads=1)  # fmt: skip
        return _digest(r.w, r.loss_history)

    def kernels64() -> str:
        loss, g, gb = fastsgd.mse_grad(X64, y, w, 0.5)
        return _digest(loss, g, gb, fastsgd.dot(X64, W, np.ones(3)), fastsgd.mse(X64, Y2, W[:, :2]))

    def kernels32() -> str:
        loss, g, gb = fastsgd.mse_grad(X32, y, w, 0.5)
        return _digest(loss, g, gb, fastsgd.dot(X32, W))

    def classify() -> str:
        Z = fastsgd.dot(X64, W)
        return _digest(
            fastsgd.softmax(Z),
            fastsgd.log_softmax(Z),
            *fastsgd.softmax_xent_grad(X64, l3, W, np.zeros(3)),
            *fastsgd.logistic_xent_grad(X32, l2, w, 0.0),
        )

    def steps() -> str:
        p, v, g = np.zeros((24, 24)), np.zeros((24, 24)), np.outer(w, w)
        for _ in range(50):
            fastsgd.sgd_step(p, g, 0.01, momentum=0.9, nesterov=True, velocity=v, weight_decay=0.1)
        return _digest(p, v)

    def rates() -> str:
        return _digest(
            fastsgd.suggest_learning_rate(X32, fit_intercept=True),
            fastsgd.auto_learning_rate(X64, "softmax", batch_size=32),
        )

    def estimators() -> str:
        from fastsgd import SGDClassifier, SGDRegressor

        reg = SGDRegressor(epochs=2, random_state=0).fit(X32, y)
        clf = SGDClassifier(epochs=1, batch_size=128, random_state=0).fit(X64, l3)
        return _digest(reg.coef_, reg.intercept_, reg.predict(X32), clf.predict_proba(X64))

    return {f.__name__: f for f in (fit_mse32, fit_mse64_multi, fit_softmax, fit_logistic32,
                                    kernels64, kernels32, classify, steps, rates, estimators)}  # fmt: skip


@pytest.fixture(scope="module")
def workload() -> tuple[dict[str, Callable[[], str]], dict[str, str]]:
    """The tasks and their results when run one after another in this thread."""
    tasks = _tasks(_shared_data())
    return tasks, {name: run() for name, run in tasks.items()}


@pytest.mark.timeout(300)
def test_eight_threads_get_the_sequential_bits(workload: Any) -> None:
    tasks, expected = workload
    names = sorted(tasks)
    start = threading.Barrier(N_THREADS)

    def worker(i: int) -> list[tuple[str, str]]:
        order = np.random.default_rng(i).permutation(len(names) * ROUNDS) % len(names)
        start.wait()  # all eight begin together
        return [(names[j], tasks[names[j]]()) for j in order]

    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        results = list(pool.map(worker, range(N_THREADS)))
    runs = [r for per_thread in results for r in per_thread]
    assert len(runs) == N_THREADS * ROUNDS * len(names)
    wrong = [(name, i) for i, (name, digest) in enumerate(runs) if digest != expected[name]]
    assert not wrong, f"{len(wrong)} of {len(runs)} concurrent runs differ: {wrong[:5]}"


@pytest.mark.timeout(300)
def test_the_shared_data_is_not_written(workload: Any) -> None:
    """The read-only inputs would raise if written; their contents are also checked."""
    data = _shared_data()
    before = {k: v.copy() for k, v in data.items()}
    tasks = _tasks(data)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda name: tasks[name](), sorted(tasks)))
    for k, v in data.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


@pytest.mark.timeout(300)
def test_thread_settings_changing_underneath_change_no_bits(workload: Any) -> None:
    """The main thread flips the global thread count while eight threads compute."""
    tasks, expected = workload
    names = ["fit_softmax", "kernels64", "kernels32", "classify"]  # follow the global setting
    stop = threading.Event()
    before = fastsgd.get_num_threads()

    def flip() -> None:
        for n in [1, 2, None, 3] * 1000:
            if stop.is_set():
                break
            fastsgd.set_num_threads(n)
            time.sleep(0.001)

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
            got = list(pool.map(lambda i: [(n, tasks[n]()) for n in names], range(N_THREADS)))
    finally:
        stop.set()
        flipper.join()
        fastsgd.set_num_threads(None)
        if fastsgd.get_num_threads() != before:
            fastsgd.set_num_threads(before)
    for per_thread in got:
        for name, digest in per_thread:
            assert digest == expected[name], name


# --- Ctrl-C ---------------------------------------------------------------------------------------


def _long_problem() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200_000, 16)).astype(np.float32)
    return X, (X @ np.linspace(-1.0, 1.0, 16)).astype(np.float32)


@pytest.mark.timeout(120)
def test_a_signal_from_another_thread_stops_a_long_fit_promptly(
    workload: Any, sigint_raises: None
) -> None:
    """SIGINT sent to the main thread (pthread_kill) from another thread, while the main thread
    is inside the C++ epoch loop and four other threads train their own models."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    tasks, expected = workload
    X, y = _long_problem()
    main_id = threading.main_thread().ident
    assert main_id is not None
    sent: list[float] = []
    stop_background = threading.Event()

    def send_sigint() -> None:
        time.sleep(0.2)  # well inside epoch 2, which alone takes seconds
        sent.append(time.perf_counter())
        signal.pthread_kill(main_id, signal.SIGINT)

    def on_epoch(epoch: int, loss: float, w: Any) -> None:
        if epoch == 1:
            threading.Thread(target=send_sigint).start()

    def background(i: int) -> list[bool]:
        ok = []
        while not stop_background.is_set():
            name = ["kernels64", "fit_logistic32", "classify", "steps"][i]
            ok.append(tasks[name]() == expected[name])
        return ok

    with ThreadPoolExecutor(max_workers=4) as pool:
        others = [pool.submit(background, i) for i in range(4)]
        try:
            with pytest.raises(KeyboardInterrupt):
                fastsgd.fit(X, y, learning_rate=1e-3, batch_size=256, epochs=10**6,
                            callback=on_epoch)  # fmt: skip
            latency = time.perf_counter() - sent[0]
        finally:
            stop_background.set()
        background_ok = [ok for f in others for ok in f.result(timeout=60)]
    assert latency < 2.0, f"KeyboardInterrupt came {latency:.2f} s after the signal"
    assert background_ok, "the background threads did no work"
    assert all(background_ok), "a background result changed while the main fit was interrupted"
    # the process is healthy: the next fit gives the same bits as before
    assert tasks["fit_mse32"]() == expected["fit_mse32"]


@pytest.mark.timeout(120)
def test_ctrl_c_while_a_worker_thread_fits_reaches_the_main_thread(
    workload: Any, sigint_raises: None
) -> None:
    """The core releases the GIL, so the main thread runs its signal handler at once even
    while another thread is deep in a long fit; the worker's fit carries on to the end."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    X, y = _long_problem()
    result: dict[str, Any] = {}
    in_fit = threading.Event()

    def work() -> None:
        def note_epoch(epoch: int, loss: float, w: Any) -> bool:
            in_fit.set()
            return epoch < 3

        result["fit"] = fastsgd.fit(X, y, learning_rate=1e-3, batch_size=64, epochs=100,
                                    callback=note_epoch)  # fmt: skip

    worker = threading.Thread(target=work)
    worker.start()
    assert in_fit.wait(60)
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        _interrupt_and_wait(worker)
    latency = time.perf_counter() - t0
    worker.join(60)
    assert latency < 1.0, f"the main thread took {latency:.2f} s to see Ctrl-C"
    assert result["fit"].n_epochs == 3  # the worker's fit was not disturbed


def _interrupt_and_wait(thread: threading.Thread) -> None:
    """SIGINT to this (the main) thread, then wait for thread; the signal handler raises
    KeyboardInterrupt between two of these bytecodes, if the GIL lets this thread run."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
    while thread.is_alive():
        thread.join(0.01)


# --- no deadlocks -----------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_many_threads_each_with_an_openmp_team_do_not_deadlock() -> None:
    """Sixteen Python threads, each asking for a team of four OpenMP threads (on 2 cores),
    alternating with single-threaded calls, many times over."""
    rng = np.random.default_rng(3)
    X = _readonly(rng.standard_normal((50_000, 8)))
    y = _readonly(rng.standard_normal(50_000))
    want = fastsgd.fit(X, y, learning_rate=0.01, batch_size=None, epochs=2, n_threads=1).w

    def work(i: int) -> bool:
        same = True
        for j in range(6):
            r = fastsgd.fit(X, y, learning_rate=0.01, batch_size=None, epochs=2,
                            n_threads=4 if (i + j) % 2 else 1)  # fmt: skip
            same &= bool(np.array_equal(r.w, want))
        return same

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert all(pool.map(work, range(16)))


_FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import fastsgd

    X = np.random.default_rng(0).standard_normal((400_000, 8))
    y = X.sum(axis=1)
    w = np.zeros(8)
    fastsgd.set_num_threads(2)
    before = fastsgd.mse(X, y, w)  # the parent's OpenMP team exists now
    pid = os.fork()
    if pid == 0:
        import signal
        signal.alarm(8)  # a deadlocked child ends itself (SIGALRM) and the test fails
        ok = fastsgd.mse(X, y, w) == before  # OpenMP again, in the child
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


@pytest.mark.timeout(120)
def test_a_forked_child_can_use_the_kernels() -> None:
    """multiprocessing's default start method on Linux (before Python 3.14) forks."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    proc = subprocess.run([sys.executable, "-c", _FORK_SCRIPT], timeout=100, check=False)
    assert proc.returncode == 0, f"the forked child failed or hung (exit code {proc.returncode})"


# --- ThreadSanitizer is live (in `nox -s tsan`) -------------------------------------------------------

_RACE = textwrap.dedent(
    """
    import threading
    import numpy as np
    import fastsgd

    # two threads step the same w at once: a real data race (the GIL is released inside)
    w, g = np.zeros(1_000_000), np.ones(1_000_000)
    start = threading.Barrier(2)

    def step():
        start.wait()
        for _ in range(20):
            fastsgd.sgd_step(w, g, 0.1)

    threads = [threading.Thread(target=step) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    """
)


def _tsan_preloaded() -> bool:
    from fastsgd._ext import _core

    return "thread" in str(_core.build_info().get("sanitize", "")) and "libtsan" in os.environ.get(
        "LD_PRELOAD", ""
    )


@pytest.mark.timeout(600)
@pytest.mark.skipif(not _tsan_preloaded(), reason="needs the ThreadSanitizer build (nox -s tsan)")
def test_threadsanitizer_reports_a_real_race(tmp_path: Any) -> None:
    """The canary: with ThreadSanitizer loaded as `nox -s tsan` loads it, a deliberate race
    (two threads updating one array in place) is reported, so a clean run means something."""
    env = dict(os.environ)
    env["TSAN_OPTIONS"] = f"halt_on_error=1:exitcode=66:log_path={tmp_path}/tsan"
    proc = subprocess.run(
        [sys.executable, "-c", _RACE], env=env, timeout=500, check=False, capture_output=True
    )
    reports = "".join(p.read_text() for p in tmp_path.glob("tsan*"))
    assert proc.returncode == 66, reports[-2000:]
    assert "WARNING: ThreadSanitizer: data race" in reports
    assert "sgd_update" in reports
