"""Tasks: `nox -s tests` (the default), lint, bench, build, and the rarer ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
PYTHON = None  # the interpreter nox runs on


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Build and install the package (not editable), then run the test suite against it."""
    session.install(".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON, default=False)
def tests_slow(session: nox.Session) -> None:
    """The large and long cases (marked slow): >2^31 elements, memory bounds, long fuzzing."""
    session.install(".[test]")
    session.run("pytest", "-m", "slow", "--timeout=3600", *session.posargs)


@nox.session(python=PYTHON, default=False)
def lint(session: nox.Session) -> None:
    """ruff (check and format) and mypy --strict on src/."""
    session.install("ruff", "mypy", "numpy", "scikit-learn", "types-tqdm")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Run every benchmark side by side with its baselines; writes benchmarks/results/.

    PyTorch is raced when present: set FASTSGD_BENCH_TORCH to a requirement
    (for example "torch==2.13.0" for a CPU wheel on disk) to install it here.
    """
    session.install(".[bench]")
    torch_req = os.environ.get("FASTSGD_BENCH_TORCH")
    if torch_req:
        session.install(torch_req)
    args = session.posargs or []
    for script in ("bench_kernels.py", "bench_sgd.py", "bench_classify.py"):
        path = ROOT / "benchmarks" / script
        if path.exists():
            session.run("python", str(path), *args)


@nox.session(python=PYTHON, default=False)
def build(session: nox.Session) -> None:
    """An sdist and a wheel in dist/."""
    session.install("build")
    shutil.rmtree(ROOT / "dist", ignore_errors=True)
    session.run("python", "-m", "build")


@nox.session(python=PYTHON, default=False)
def sanitize(session: nox.Session) -> None:
    """The test suite with the extension built with AddressSanitizer + UBSan."""
    session.install("scikit-build-core>=0.10", "pybind11>=3.0", "numpy")
    session.install(
        "--no-build-isolation",
        "-Ccmake.define.FASTSGD_SANITIZE=address,undefined",
        "-Ccmake.build-type=Debug",
        "-Cbuild-dir=build/sanitize",
        ".[test]",
    )
    libasan = session.run("g++", "-print-file-name=libasan.so", silent=True, external=True)
    env = {
        "LD_PRELOAD": str(libasan).strip(),
        "ASAN_OPTIONS": "detect_leaks=0",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }
    session.run("pytest", "-x", "-p", "no:cacheprovider", *session.posargs, env=env)
