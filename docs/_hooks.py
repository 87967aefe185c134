"""MkDocs hooks: the benchmark report page shows whatever benchmarks/results/ holds, and
the page of a fit's parts shows the registry's tables.

The tables of losses, penalties, update rules and schedules are read from the registry,
src/fastsgd/_registry.py, and the losses' formulas from their C++ types in
cpp/include/fastsgd/losses.hpp, both parsed as source (the site is built without the
compiled module): ``<!-- registry-tables -->`` in docs/parts.md is replaced by them.

``nox -s bench`` writes one Markdown report per benchmark script (and PNG plots)
into benchmarks/results/. The page docs/benchmarks.md has a marker,
``<!-- benchmark-results -->``, that is replaced at build time by those reports,
full runs first; ``--quick`` runs are shown only for a benchmark without a full
run, flagged as smoke tests. The plots are added to the site under results/.

The build is strict (a warning fails it). One known docstring problem is let
through, by name, until it is fixed at its source: see KNOWN_DOCSTRING_ISSUES.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _registry_tables import REGISTRY_MARKER, REGISTRY_PAGE, registry_tables

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MARKER = "<!-- benchmark-results -->"
PAGE = "benchmarks.md"
ORDER = ["kernels", "sgd", "classify", "scaling", "dask", "plots"]  # the rest follow by name

# (file, words griffe takes for parameter names): SGDClassifier's "Parameters" section is a
# sentence ("The same as SGDRegressor. With early_stopping the validation split is ...")
# rather than a numpydoc list. Remove the entry once that docstring is fixed.
KNOWN_DOCSTRING_ISSUES: list[tuple[str, tuple[str, ...]]] = []


class _KnownDocstringIssues(logging.Filter):
    """Drop griffe's warnings about the docstrings listed above, and only those."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for path, words in KNOWN_DOCSTRING_ISSUES:
            if f"{path}:" in message and any(
                f"parameters ['{w}']" in message or f"Parameter '{w}' " in message for w in words
            ):
                return False
        return True


def on_startup(command: str, dirty: bool) -> None:
    del command, dirty
    logging.getLogger("mkdocs.plugins.griffe").addFilter(_KnownDocstringIssues())


def _reports() -> list[tuple[str, Path, bool]]:
    """(name, path, quick) of the reports to show."""
    if not RESULTS.is_dir():
        return []
    full = {p.stem: p for p in RESULTS.glob("*.md") if not p.stem.endswith("-quick")}
    quick = {p.stem[: -len("-quick")]: p for p in RESULTS.glob("*-quick.md")}
    names = sorted(set(full) | set(quick), key=lambda n: (ORDER.index(n) if n in ORDER else 99, n))
    return [(n, full[n], False) if n in full else (n, quick[n], True) for n in names]


def _demote(markdown: str) -> str:
    """Headings one level down (the page has its own title); code blocks untouched."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,5} ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


def _images_to_results(markdown: str) -> str:
    """Relative image links of a report point to results/ on the site."""
    return re.sub(r"(!\[[^\]]*\]\()(?!https?://|/)([^)]+\.png\))", r"\1results/\2", markdown)


def on_files(files: Files, config: Any) -> Files:
    """Publish the benchmark plots as results/<name>.png."""
    if RESULTS.is_dir():
        for png in sorted(RESULTS.glob("*.png")):
            files.append(File.generated(config, f"results/{png.name}", abs_src_path=str(png)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if page.file.src_uri == REGISTRY_PAGE and REGISTRY_MARKER in markdown:
        return markdown.replace(REGISTRY_MARKER, registry_tables())
    if page.file.src_uri != PAGE or MARKER not in markdown:
        return markdown
    reports = _reports()
    if not reports:
        body = (
            "!!! note\n    No results yet: `nox -s bench` writes them to "
            "`benchmarks/results/`, and the next build of this site shows them here.\n"
        )
        return markdown.replace(MARKER, body)
    parts = []
    for name, path, quick in reports:
        text = _images_to_results(_demote(path.read_text(encoding="utf-8")))
        if quick:
            text = (
                f"!!! warning\n    `{name}`: only a `--quick` run is at hand — a smoke test "
                "with small sizes, not a measurement.\n\n" + text
            )
        source = path.relative_to(ROOT).as_posix()
        parts.append(f"{text}\n\n<small>From `{source}`.</small>\n")
    return markdown.replace(MARKER, "\n\n---\n\n".join(parts))
