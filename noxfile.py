"""Tasks: `nox -s tests` (the default), lint, bench, build, and the rarer ones."""

from __future__ import annotations

import os
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
    test suite against it."""
    session.install(".[test,all]")
    session.run("pytest", *session.posargs)


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
        libs = [n for n in zf.namelist() if n.startswith("fastsgd.libs/")]
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
