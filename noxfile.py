"""Tasks: `nox -s tests` (the default), lint, bench, build, and the rarer ones."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import zipfile
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
PYTHON = None  # the interpreter nox runs on


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Build and install the package (not editable) with every optional part, then run the
    test suite against it; then the C++ core's own tests (cpp_tests)."""
    session.install(".[test,all]")
    session.run("pytest", *session.posargs)
    session.notify("cpp_tests")


@nox.session(python=PYTHON)
def cpp_tests(session: nox.Session) -> None:
    """The C++ core's tests, without Python (cpp/tests/): built with CMake into
    build/cpp-tests and run by CTest, once per instruction set this machine runs."""
    session.install("cmake>=3.18", "ninja")
    build = ROOT / "build" / "cpp-tests"
    session.run(
        "cmake", "-S", str(ROOT / "cpp" / "tests"), "-B", str(build), "-G", "Ninja",
        "-DCMAKE_BUILD_TYPE=Release", "-DFASTSGD_WERROR=ON",
    )  # fmt: skip
    session.run("cmake", "--build", str(build))
    session.run("ctest", "--test-dir", str(build), "--output-on-failure")


@nox.session(python=PYTHON, default=False)
def tests_slow(session: nox.Session) -> None:
    """The large and long cases (marked slow): >2^31 elements, memory bounds, long fuzzing."""
    session.install(".[test]")
    session.run("pytest", "-m", "slow", "--timeout=3600", *session.posargs)


def _group(name: str) -> list[str]:
    """The requirements of a dependency group of pyproject.toml (PEP 735, with includes)."""
    groups = nox.project.load_toml(ROOT / "pyproject.toml")["dependency-groups"]
    out: list[str] = []
    for item in groups[name]:
        out += _group(item["include-group"]) if isinstance(item, dict) else [item]
    return out


# Python files, and the Python in the docs pages' code blocks (not the README drafts there).
LINTED = [
    "src",
    "tests",
    "benchmarks",
    "docs",
    "noxfile.py",
    "--extend-exclude",
    "*-readme-section.md",
]


@nox.session(python=PYTHON, default=False)
def lint(session: nox.Session) -> None:
    """ruff (check and format), mypy --strict on src/, and src/fastsgd/_core.pyi against
    the compiled module (tests/test_typing.py, with mypy.stubtest), which builds the package."""
    session.install(*_group("lint"))
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("mypy")
    session.install(".[test]")  # tests/conftest.py needs the test extra
    session.run("pytest", "tests/test_typing.py", "-p", "no:cacheprovider", *session.posargs)


BENCHMARKS = (
    "bench_kernels.py", "bench_epoch.py", "bench_sgd.py", "bench_classify.py",
    "bench_scaling.py", "bench_dropin.py", "bench_quality.py",
)  # fmt: skip
PLOT_OPTIONS = ("--quick", "--no-write")  # the options of plot_results.py among the bench ones


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Run every benchmark side by side with its baselines, then draw the plots; writes
    benchmarks/results/ (Markdown and JSON reports, PNG plots and plots.md).

    `nox -s bench -- ARGS` passes ARGS to every benchmark (use the options they share:
    --quick, --repeats N, --warmup N, --no-write) and --quick / --no-write to plot_results.py.
    PyTorch is raced when present: set FASTSGD_BENCH_TORCH to a requirement
    (for example "torch==2.13.0" for a CPU wheel on disk) to install it here.
    benchmarks/bench_dask.py (minutes, a local dask cluster) is not run here: run it by hand
    (`python benchmarks/bench_dask.py`, dask extra) and its results are plotted too.
    """
    session.install(".[bench]")
    torch_req = os.environ.get("FASTSGD_BENCH_TORCH")
    if torch_req:
        session.install(torch_req)
    args = session.posargs or []
    for script in BENCHMARKS:
        path = ROOT / "benchmarks" / script
        if path.exists():
            session.run("python", str(path), *args)
    plot_args = [a for a in args if a in PLOT_OPTIONS]
    session.run("python", str(ROOT / "benchmarks" / "plot_results.py"), *plot_args)


DIST = ROOT / "dist"


@nox.session(python=PYTHON, default=False)
def build(session: nox.Session) -> None:
    """An sdist and a wheel in dist/; on Linux a manylinux wheel with libgomp inside.

    `python -m build` makes the sdist, unpacks it in a temporary directory and builds
    the wheel from that copy, so the wheel proves the sdist holds all it needs. On
    Linux, auditwheel (with patchelf) then copies the OpenMP runtime into the wheel
    (fastsgd.libs/) and gives it the manylinux tag of the oldest glibc it allows.
    On macOS and Windows the plain wheel is kept (cibuildwheel repairs those).
    """
    session.install("build")
    shutil.rmtree(DIST, ignore_errors=True)
    raw = Path(session.create_tmp()) / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(raw), *session.posargs)
    DIST.mkdir()
    for sdist in raw.glob("*.tar.gz"):
        shutil.copy2(sdist, DIST)
    (wheel,) = raw.glob("*.whl")
    if not sys.platform.startswith("linux"):
        shutil.copy2(wheel, DIST)
        session.log(f"{wheel.name}: not repaired (auditwheel is for Linux)")
        return
    session.install("auditwheel", "patchelf")
    session.run("auditwheel", "show", str(wheel))
    session.run("auditwheel", "repair", "--wheel-dir", str(DIST), str(wheel))
    (repaired,) = DIST.glob("*.whl")
    session.run("auditwheel", "show", str(repaired))
    with zipfile.ZipFile(repaired) as zf:
        libs = [n for n in zf.namelist() if n.startswith("fastsgd.libs/") and n[-1] != "/"]
    session.log(f"{repaired.name}: bundled {', '.join(libs) or 'no libraries'}")
    if not any("libgomp" in n or "libomp" in n for n in libs):
        session.warn("no OpenMP runtime in the wheel: was the core built without OpenMP?")


# Compilers that must not be reachable when the wheel is tested.
COMPILERS = ("gcc", "g++", "cc", "c++", "clang", "clang++", "cl")

_NO_COMPILER_CHECK = """
import os, shutil, sys
found = {c: shutil.which(c) for c in sys.argv[1:] if shutil.which(c)}
if found:
    sys.exit(f"compilers on PATH: {found}")
import fastsgd
print(f"fastsgd {fastsgd.__version__} from {os.path.dirname(fastsgd.__file__)}")
assert "site-packages" in fastsgd.__file__, "fastsgd was not imported from the installed wheel"
fastsgd.show_config(print_info=True)
"""


@nox.session(python=PYTHON, default=False)
def wheel_test(session: nox.Session) -> None:
    """The test suite against dist/'s wheel in a fresh venv, with no compiler on PATH.

    Run `nox -s build` first. The wheel with its test and optional extras is installed; the
    tests, the docs pages they read and pyproject.toml (for pytest's settings) are
    copied to a temporary directory, so nothing is imported from the source tree.
    PATH holds only this venv's bin/ and an empty directory; CC and CXX point nowhere.
    """
    wheels = sorted(DIST.glob("fastsgd-*.whl"))
    if len(wheels) != 1:
        session.error(f"expected one wheel in {DIST}, found {len(wheels)}: run `nox -s build`")
    session.install(f"{wheels[0]}[test,all]")  # all: the plotting and dask tests run too
    tmp = Path(session.create_tmp())
    work = tmp / "wheel-test"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "docs", work / "docs", ignore=shutil.ignore_patterns("*.png", "*.gif"))
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    empty = tmp / "no-compilers"
    empty.mkdir(exist_ok=True)
    # nox puts the venv's bin/ in front of the PATH given here.
    env = {"PATH": str(empty), "CC": str(empty / "cc"), "CXX": str(empty / "c++")}
    with session.chdir(work):
        session.run("python", "-c", _NO_COMPILER_CHECK, *COMPILERS, env=env)
        session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs, env=env)


@nox.session(python=PYTHON, default=False)
def docs(session: nox.Session) -> None:
    """The documentation site in site/ (MkDocs, mkdocstrings), built with --strict: any
    warning fails. `nox -s docs -- serve` serves it with live reload instead."""
    session.install(*_group("docs"))
    env = {"NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner about its end of life (2027)
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:], env=env)
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs, env=env)


# --- sanitizers and fuzzing -------------------------------------------------------------------------
# Each sanitizer build gets its own build directory (the editable build in build/ is untouched) and
# is installed into the session's venv. Sanitizer reports are written to build/sanitizer-logs/<name>/
# (one file per process, subprocesses included): the session fails if any file appears there.

SANITIZER_LOGS = ROOT / "build" / "sanitizer-logs"


def _compiler_file(session: nox.Session, name: str) -> str:
    """The full path of a file shipped with g++ (a sanitizer runtime), or an error."""
    out = session.run("g++", f"-print-file-name={name}", silent=True, external=True)
    path = str(out).strip()
    if not os.path.isabs(path):
        session.error(f"g++ has no {name}: install its sanitizer runtime (e.g. Debian's libasan8)")
    return path


def _install_sanitized(session: nox.Session, extras: str, build_dir: str, *defines: str) -> None:
    session.install("scikit-build-core>=0.10", "pybind11>=3.0", "numpy")
    session.install(
        "--no-build-isolation",
        "-Ccmake.build-type=Debug",  # -O0 -g for the bindings, -O1 for the kernels (cpp/core.cmake)
        f"-Cbuild-dir={build_dir}",
        *(f"-Ccmake.define.{d}" for d in defines),
        f".{extras}",
    )


# What a sanitizer prints when it finds something. GCC's UBSan, linked beside ASan, writes its
# reports to stderr whatever log_path says, so pytest's output is scanned as well.
SANITIZER_MARKS = (
    "runtime error:",
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "WARNING: ThreadSanitizer",
    "ThreadSanitizer: reported",
)


def _run_and_check_logs(session: nox.Session, logs: Path, env: dict[str, str], *args: str) -> None:
    """pytest with a sanitizer preloaded; fails on its reports, in files or in the output."""
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    output = logs.parent / f"{logs.name}-pytest-output.txt"
    pytest = shlex.join(["python", "-m", "pytest", "-p", "no:cacheprovider", *args])
    try:  # tee: the output is shown as it comes and kept for the scan below
        session.run(
            "bash", "-c", f"set -o pipefail; {pytest} 2>&1 | tee {shlex.quote(str(output))}",
            env=env, external=True,
        )  # fmt: skip
    finally:
        reports = sorted(p for p in logs.iterdir() if p.stat().st_size)
        for report in reports:
            session.log(f"--- {report.name}\n{report.read_text()[:20000]}")
        text = output.read_text(errors="replace") if output.exists() else ""
        printed = [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKS)]
        for line in printed[:50]:
            session.log(f"in pytest's output: {line}")
        if reports or printed:
            session.error(
                f"sanitizer reports: {len(reports)} file(s) in {logs}, {len(printed)} line(s) in "
                f"{output}"
            )
        session.log(f"no sanitizer reports (files in {logs}, lines in {output})")


@nox.session(python=PYTHON, default=False)
def sanitize(session: nox.Session) -> None:
    """The whole test suite (not the slow cases) against the extension built with
    AddressSanitizer + UndefinedBehaviorSanitizer; any report fails the session.

    - libasan is preloaded (python itself is not instrumented), with libstdc++: ASan must
      find the real __cxa_throw when it starts, or the first C++ exception aborts.
    - UBSan halts on the first error (-fno-sanitize-recover=all and halt_on_error=1).
    - PYTHONMALLOC=malloc: Python objects come from malloc, so ASan sees overflows of
      the arrays and objects the bindings create.
    - Leaks: CPython keeps some objects to the end on purpose, so the suite runs with
      detect_leaks=0 and tests/test_memory.py::test_no_leaks_under_addresssanitizer runs
      LeakSanitizer on a process that calls every kernel, fit and error path, failing on
      any leak whose allocation stack passes through the extension.
    - allocator_may_return_null=1: a test asking for an impossible allocation gets
      MemoryError, as without ASan.

    `nox -s sanitize -- tests/test_fuzz.py` runs part of the suite.
    """
    _install_sanitized(
        session,
        "[test,all]",
        "build/sanitize",
        "FASTSGD_SANITIZE=address,undefined",
        "CMAKE_CXX_FLAGS=-fno-sanitize-recover=all",
    )
    logs = SANITIZER_LOGS / "address"
    env = {
        "LD_PRELOAD": f"{_compiler_file(session, 'libasan.so')}:"
        f"{_compiler_file(session, 'libstdc++.so')}",
        "ASAN_OPTIONS": f"detect_leaks=0:allocator_may_return_null=1:log_path={logs}/asan",
        "UBSAN_OPTIONS": f"print_stacktrace=1:halt_on_error=1:log_path={logs}/ubsan",
        "PYTHONMALLOC": "malloc",
    }
    _run_and_check_logs(session, logs, env, "-m", "not slow", "--timeout=1800", *session.posargs)


# LLVM's OpenMP runtime with Archer, the OpenMP tool that tells ThreadSanitizer about the
# runtime's barriers and tasks (Debian: apt-get install libomp-14-dev). GNU libgomp is not
# instrumented, so without these the OpenMP regions cannot be checked.
LIBOMP = Path(os.environ.get("FASTSGD_LIBOMP", "/usr/lib/llvm-14/lib/libomp.so.5"))
LIBARCHER = Path(os.environ.get("FASTSGD_LIBARCHER", "/usr/lib/llvm-14/lib/libarcher.so"))

# The tests where threads meet: Python threads, OpenMP teams, signals, fork.
THREAD_TESTS = ["tests/test_concurrency.py", "tests/test_threads.py"]


@nox.session(python=PYTHON, default=False)
def tsan(session: nox.Session) -> None:
    """The threaded tests against the extension built with ThreadSanitizer.

    With LLVM's libomp and Archer installed (see LIBOMP), the extension keeps OpenMP: GCC's
    calls into the OpenMP runtime (GOMP_*) are served by libomp, preloaded in front of
    libgomp, and Archer annotates its synchronisation for TSan. Without them, the extension
    is built with FASTSGD_OPENMP=OFF and only races between Python threads are checked.
    Any report fails the session; reports go to build/sanitizer-logs/thread/.
    """
    with_openmp = LIBOMP.exists() and LIBARCHER.exists()
    _install_sanitized(
        session,
        "[test]",
        "build/tsan" if with_openmp else "build/tsan-noomp",
        "FASTSGD_SANITIZE=thread",
        f"FASTSGD_OPENMP={'ON' if with_openmp else 'OFF'}",
    )
    logs = SANITIZER_LOGS / "thread"
    preload = [_compiler_file(session, "libtsan.so"), _compiler_file(session, "libstdc++.so")]
    env = {
        "TSAN_OPTIONS": f"halt_on_error=1:second_deadlock_stack=1:log_path={logs}/tsan",
    }
    if with_openmp:
        preload.append(str(LIBOMP))
        env["OMP_TOOL_LIBRARIES"] = str(LIBARCHER)
        env["TSAN_OPTIONS"] += ":ignore_noninstrumented_modules=1"
        session.log(f"OpenMP on, runtime {LIBOMP} with {LIBARCHER}")
    else:
        session.log(f"OpenMP off: {LIBOMP} or {LIBARCHER} not found")
    env["LD_PRELOAD"] = ":".join(preload)
    _run_and_check_logs(session, logs, env, "--timeout=1800", *(session.posargs or THREAD_TESTS))


@nox.session(python=PYTHON, default=False)
def fuzz(session: nox.Session) -> None:
    """The fuzz suite with the long hypothesis profile ("fuzz": thousands of random examples per
    test instead of CI's fixed, derandomised budget). Prints how many inputs were tried.
    `nox -s fuzz -- -x` stops at the first failure."""
    session.install(".[test]")
    session.run(
        "python", "-m", "pytest", "tests/test_fuzz.py", "-p", "no:cacheprovider",
        "--timeout=7200", *session.posargs,
        env={"HYPOTHESIS_PROFILE": "fuzz"},
    )  # fmt: skip
