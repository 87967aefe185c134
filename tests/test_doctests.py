"""The examples in the docstrings run and print what they say; public functions have one.

Every docstring example of the public modules is one test case (named after the
function), run with the standard library's doctest against the installed
package. Modules whose optional dependency is missing are skipped;
``fastsgd.dask`` is left to tests/test_dask.py (its examples need a cluster).
The option flags come from pytest's ``doctest_optionflags`` setting when it is
set (pyproject.toml), else ELLIPSIS and NORMALIZE_WHITESPACE.

The ``pycon`` code blocks of the documentation pages (docs/*.md) run too, one
test per page, when the source tree is at hand.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# module -> the package it needs beyond fastsgd's own dependencies
MODULES = {
    "fastsgd": None,
    "fastsgd._buildinfo": None,
    "fastsgd.kernels": None,
    "fastsgd._threads": None,
    "fastsgd.config": None,
    "fastsgd.training": None,
    "fastsgd.datasets": None,
    "fastsgd.reference": None,
    "fastsgd.estimators": "sklearn",
    "fastsgd.plotting": "matplotlib",
}

DOCS = Path(__file__).resolve().parent.parent / "docs"

DEFAULT_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _available(package: str | None) -> bool:
    return package is None or importlib.util.find_spec(package) is not None


def _collect() -> list[Any]:
    params: list[Any] = []
    finder = doctest.DocTestFinder(exclude_empty=True)
    for name, needs in MODULES.items():
        if not _available(needs):
            params.append(
                pytest.param(None, id=name, marks=pytest.mark.skip(reason=f"needs {needs}"))
            )
            continue
        module = importlib.import_module(name)
        for test in sorted(finder.find(module, name), key=lambda t: t.name):
            if test.examples:
                params.append(pytest.param(test, id=test.name))
    return params


def _flags(config: pytest.Config) -> int:
    names = config.getini("doctest_optionflags")
    flags = 0
    for flag in names or ():
        flags |= doctest.OPTIONFLAGS_BY_NAME.get(flag, 0)  # pytest-only flags are ignored
    return flags or DEFAULT_FLAGS


@pytest.fixture
def _numpy_print_defaults() -> Any:
    """NumPy's print options as the examples were written, restored afterwards."""
    with np.printoptions(legacy=False):
        yield


@pytest.mark.usefixtures("_numpy_print_defaults", "restore_threads")
@pytest.mark.parametrize("test", _collect())
def test_docstring_examples(test: doctest.DocTest, request: pytest.FixtureRequest) -> None:
    test.globs = dict(test.globs)  # a fresh namespace for each run
    runner = doctest.DocTestRunner(optionflags=_flags(request.config))
    out: list[str] = []
    result = runner.run(test, out=out.append, clear_globs=True)
    assert result.attempted > 0
    assert result.failed == 0, "".join(out)


# --- every public function shows how it is called ---------------------------------------------

PUBLIC = ["fastsgd", "fastsgd.kernels", "fastsgd.training", "fastsgd.datasets"]
PUBLIC_OPTIONAL = {"fastsgd.estimators": "sklearn", "fastsgd.plotting": "matplotlib"}

# Known gaps: public functions without an Examples section yet. Strict xfail, so adding
# the example makes the test pass and (by xfail_strict) asks for the entry to go.
WITHOUT_EXAMPLES: set[str] = set()


def _public_functions() -> list[Any]:
    seen: set[int] = set()
    params: list[Any] = []
    modules = dict.fromkeys(PUBLIC) | {
        m: needs for m, needs in PUBLIC_OPTIONAL.items() if _available(needs)
    }
    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if not inspect.isfunction(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            qualname = f"fastsgd.{attr}" if name == "fastsgd" else f"{name}.{attr}"
            reexported = getattr(importlib.import_module("fastsgd"), attr, None) is obj
            shown = f"fastsgd.{attr}" if reexported else qualname
            marks = []
            if shown in WITHOUT_EXAMPLES:
                marks.append(pytest.mark.xfail(reason="no Examples section yet", strict=True))
            params.append(pytest.param(obj, id=shown, marks=marks))
    return params


@pytest.mark.parametrize("func", _public_functions())
def test_public_function_has_numpydoc_example(func: Any) -> None:
    doc = inspect.getdoc(func) or ""
    sections = re.findall(r"^(\w[\w ]*)\n-{3,}$", doc, flags=re.MULTILINE)
    assert "Examples" in sections, f"{func.__qualname__}: no numpydoc Examples section"
    examples = doc.split("Examples\n--------", 1)[1]
    assert ">>> " in examples, f"{func.__qualname__}: the Examples section has no >>> lines"


# --- the documentation pages ------------------------------------------------------------------

_PYCON = re.compile(r"^```pycon\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)


def _doc_pages() -> list[Any]:
    if not DOCS.is_dir():
        return [pytest.param(None, id="docs", marks=pytest.mark.skip(reason="no docs/ here"))]
    pages = sorted(p for p in DOCS.glob("*.md") if _PYCON.search(p.read_text(encoding="utf-8")))
    return [pytest.param(p, id=p.name) for p in pages]


@pytest.mark.usefixtures("_numpy_print_defaults", "restore_threads")
@pytest.mark.parametrize("page", _doc_pages())
def test_documentation_page_examples(page: Path, request: pytest.FixtureRequest) -> None:
    """The page's ```pycon blocks, in order, sharing one namespace (as a reader runs them)."""
    text = page.read_text(encoding="utf-8")
    blocks = _PYCON.findall(text)
    needs = re.findall(r"<!-- doctest-requires: (\S+) -->", text)
    for package in needs:
        if not _available(package):
            pytest.skip(f"{page.name} needs {package}")
    source = "\n".join(blocks)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(source, {"__name__": "__docs__"}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=_flags(request.config))
    out: list[str] = []
    result = runner.run(test, out=out.append, clear_globs=True)
    assert result.attempted > 0
    assert result.failed == 0, "".join(out)
