"""The README's and the documentation pages' code blocks run as a reader runs them.

Every ```python block of README.md and docs/*.md is written to ``snippet.py`` in an
empty temporary folder and run with ``python snippet.py`` in a fresh process. Every
```bash block is split into commands; a command of this package (``fastsgd ...``,
``python -c ...``) runs the same way, in the same folder, and the others are skipped
only by their program, for the reason SKIPPED_PROGRAMS gives. A block is skipped as a
whole only when the line before it says why: ``<!-- snippet: skip REASON -->``. Anything
else fails, so a new block either runs or has been looked at.

A snippet that fails only because an optional package is not installed here (it names
the fastsgd extra, or Python cannot find the module) is skipped with that name; with
every extra installed (``nox -s tests``) every snippet runs. The ```pycon blocks are
doctests: tests/test_doctests.py runs them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The pages a reader reads: the README and the site's pages (not the README drafts kept
# beside the pictures in docs/, which the site excludes too).
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES = [p for p in PAGES if p.is_file() and not p.name.endswith("-readme-section.md")]

_BLOCK = re.compile(r"^```(python|bash)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_SKIP = re.compile(r"<!--\s*snippet:\s*skip\s+(.+?)\s*-->")

# Shell commands that are not run, by program, and why.
SKIPPED_PROGRAMS = {
    "pip": "installs packages: the tests run against the package as installed",
    "nox": "makes environments and builds the package (minutes); CI runs nox -s tests",
    "pytest": "runs the test suite this test belongs to",
    "dask": "starts a dask scheduler or worker that runs until stopped",
    "brew": "installs packages (macOS)",
    "export": "sets a variable for the build commands around it",
    ".": "activates a virtual environment",
    "source": "activates a virtual environment",
}
# `python -m MODULE` for a module that is not fastsgd's
SKIPPED_MODULES = {
    "venv": "makes a virtual environment",
    "pytest": "runs the test suite this test belongs to",
}
# `python SCRIPT` runs a file of the source tree, not of the package
SKIPPED_SCRIPTS = {
    "benchmarks/": "a benchmark (nox -s bench runs them); it measures, it does not check",
}
# the optional modules each fastsgd extra brings (as the hints name the extras)
EXTRA_MODULES = {
    "plot": ("matplotlib", "PIL"),
    "sklearn": ("sklearn",),
    "dask": ("dask", "distributed"),
    "progress": ("tqdm",),
}

TIMEOUT = 240


@dataclass
class Snippet:
    page: Path
    line: int
    language: str
    code: str
    skip: str | None

    @property
    def name(self) -> str:
        return f"{self.page.name}:{self.line}"


def _snippets() -> list[Snippet]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in _BLOCK.finditer(text):
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            skip = _SKIP.search(before)
            line = text.count("\n", 0, m.start()) + 1
            found.append(
                Snippet(page, line, m.group(1), m.group(2), skip.group(1) if skip else None)
            )
    return found


SNIPPETS = _snippets()


# --- shell commands -------------------------------------------------------------------------


def _commands(block: str) -> list[list[str]]:
    """The commands of a bash block, as argument lists: lines joined at a trailing
    backslash, comments dropped, split at ``&&``."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            if words[:cut]:
                commands.append(words[:cut])
            words = words[cut + 1 :]
    return commands


def _fastsgd_script() -> list[str]:
    """The console script installed with this interpreter's fastsgd."""
    script = shutil.which("fastsgd", path=sysconfig.get_path("scripts"))
    return [script] if script else [sys.executable, "-m", "fastsgd.cli"]


def _plan(words: list[str]) -> tuple[dict[str, str], list[str] | None, str | None]:
    """(environment, argv to run, or None and the reason it is not run)."""
    env = {}
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name, value = words[0].split("=", 1)
        env[name] = value
        words = words[1:]
    program, args = words[0], words[1:]
    if program in SKIPPED_PROGRAMS:
        return env, None, SKIPPED_PROGRAMS[program]
    if program == "fastsgd":
        return env, [*_fastsgd_script(), *args], None
    if program == "python":
        if args[:1] == ["-c"] or (args[:1] == ["-m"] and args[1].startswith("fastsgd")):
            return env, [sys.executable, *args], None
        if args[:1] == ["-m"] and args[1] in SKIPPED_MODULES:
            return env, None, SKIPPED_MODULES[args[1]]
        script = next((a for a in args if not a.startswith("-")), "")
        for prefix, reason in SKIPPED_SCRIPTS.items():
            if script.startswith(prefix):
                return env, None, reason
    raise AssertionError(
        f"no rule for the command {shlex.join(words)!r}: run it (a command of fastsgd) or "
        "add its program to SKIPPED_PROGRAMS with the reason"
    )


# --- running -------------------------------------------------------------------------------


@dataclass
class Outcome:
    failure: str | None = None  # what went wrong, for pytest.fail
    skipped: str | None = None  # why it was not run, for pytest.skip


def _missing_extra(output: str) -> str | None:
    """The optional package a failure names, when it is not installed here."""
    for extra in re.findall(r"pip install 'fastsgd\[(\w+)\]'", output):
        for module in EXTRA_MODULES.get(extra, ()):
            if importlib.util.find_spec(module) is None:
                return f"{module} (fastsgd[{extra}])"
    optional = {m for modules in EXTRA_MODULES.values() for m in modules}
    for module in re.findall(r"ModuleNotFoundError: No module named '([\w.]+)'", output):
        top = module.split(".")[0]
        if top in optional and importlib.util.find_spec(top) is None:
            return top
    return None


def _run(argv: list[str], cwd: Path, env: dict[str, str], what: str) -> Outcome | None:
    """Run one command; None when it succeeded."""
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if proc.returncode == 0:
        return None
    missing = _missing_extra(proc.stdout + proc.stderr)
    if missing is not None:
        return Outcome(skipped=f"needs {missing}, not installed here")
    return Outcome(
        failure=f"{what} exited with status {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )


def _execute(snippet: Snippet, folder: Path) -> Outcome:
    """Run a snippet in ``folder`` (empty, but for docs/: the README's commands write
    into docs/, as from a checkout)."""
    (folder / "docs").mkdir(parents=True)
    where = f"the {snippet.language} block at {snippet.page.relative_to(ROOT)}:{snippet.line}"
    if snippet.language == "python":
        (folder / "snippet.py").write_text(snippet.code, encoding="utf-8")
        return _run([sys.executable, "snippet.py"], folder, {}, where) or Outcome()
    reasons = {}
    ran = 0
    for words in _commands(snippet.code):
        try:
            env, argv, reason = _plan(words)
        except AssertionError as exc:
            return Outcome(failure=f"{where}: {exc}")
        if argv is None:
            shown = 1 if words[0] != "python" else 3 if words[1:2] == ["-m"] else 2
            reasons[" ".join(words[:shown])] = reason
            continue
        outcome = _run(argv, folder, env, f"{shlex.join(words)!r} in {where}")
        if outcome is not None:
            return outcome
        ran += 1
    if ran == 0:
        return Outcome(skipped="; ".join(f"{p}: {r}" for p, r in reasons.items()))
    return Outcome()


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Outcome]]]:
    """The selected snippets, started two at a time (a process each, one per core) as soon
    as the first of them is tested; each test waits for its own."""
    selected = [
        item.callspec.params["snippet"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_snippet_runs" and hasattr(item, "callspec")
    ]
    base = tmp_path_factory.mktemp("snippets")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            s.name: pool.submit(_execute, s, base / f"{s.page.stem}-{s.line}")
            for s in selected
            if s.skip is None
        }
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("snippet", [pytest.param(s, id=s.name) for s in SNIPPETS])
def test_snippet_runs(snippet: Snippet, outcomes: dict[str, Future[Outcome]]) -> None:
    if snippet.skip is not None:
        pytest.skip(snippet.skip)
    outcome = outcomes[snippet.name].result()
    if outcome.skipped is not None:
        pytest.skip(outcome.skipped)
    if outcome.failure is not None:
        pytest.fail(outcome.failure, pytrace=False)


def test_the_pages_have_snippets() -> None:
    """The blocks are found (a README without any would make the test above vacuous)."""
    readme = [s for s in SNIPPETS if s.page.name == "README.md"]
    assert sum(s.language == "python" for s in readme) >= 5
    assert sum(s.language == "bash" for s in readme) >= 3


def test_every_skip_gives_a_reason() -> None:
    for s in SNIPPETS:
        assert s.skip is None or len(s.skip.split()) >= 3, f"{s.name}: say why it is skipped"


# --- install commands ---------------------------------------------------------------------------


def _pip_installs() -> list[tuple[Snippet, list[str]]]:
    """Every ``pip install`` command of the pages' bash blocks, with its block."""
    return [
        (s, words)
        for s in SNIPPETS
        if s.language == "bash"
        for words in _commands(s.code)
        if words[:2] == ["pip", "install"]
    ]


def test_no_page_installs_fastsgd_from_an_index() -> None:
    """fastsgd is not published: a page installs it from a clone (., '.[extra]'), an sdist or
    a wheel file, never by its name from a package index."""
    for s, words in _pip_installs():
        for arg in words[2:]:
            assert not re.fullmatch(r"fastsgd(\[[\w,]+\])?([<>=!~].*)?", arg), (
                f"{s.name}: {shlex.join(words)!r} would look for fastsgd on a package index"
            )


def test_no_build_isolation_comes_after_the_build_requirements() -> None:
    """A block that builds with --no-build-isolation first installs what the build needs
    (pyproject.toml's [build-system] requires), and one that then runs the tests installs
    the test extra: the commands work in a fresh virtual environment."""
    tomllib = pytest.importorskip("tomllib")
    with open(ROOT / "pyproject.toml", "rb") as f:
        requires = tomllib.load(f)["build-system"]["requires"]
    needed = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requires}  # type: ignore[union-attr]
    checked = 0
    for s in SNIPPETS:
        if s.language != "bash":
            continue
        installed: set[str] = set()
        extras: set[str] = set()
        built = False
        for words in _commands(s.code):
            if words[:2] == ["pip", "install"]:
                args = words[2:]
                if "--no-build-isolation" in args:
                    assert needed <= installed, (
                        f"{s.name}: {shlex.join(words)!r} needs {sorted(needed - installed)} "
                        "installed before it"
                    )
                    checked += 1
                    built = True
                    for arg in args:
                        extras |= set(re.findall(r"\w+", arg.partition("[")[2]))
                installed |= {a.lower() for a in args if not a.startswith("-")}
            elif built and (words[0] == "pytest" or words[:3] == ["python", "-m", "pytest"]):
                assert "test" in extras, f"{s.name}: the tests run without the test extra"
    assert checked >= 2  # the README's Development section and docs/install.md
