"""What the commands share: argument types checked before any work, the optional packages
and the extra that brings each, and the progress bar.

An argument type raises ``argparse.ArgumentTypeError``; argparse turns it into
``fastsgd CMD: error: argument --NAME: ...`` and exit status 2 (see fastsgd.cli).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# import name -> (the package's name on PyPI, the fastsgd extra that installs it)
EXTRAS = {
    "matplotlib": ("matplotlib", "plot"),
    "PIL": ("Pillow", "plot"),
    "tqdm": ("tqdm", "progress"),
    "sklearn": ("scikit-learn", "sklearn"),
    "dask": ("dask", "dask"),
    "distributed": ("distributed", "dask"),
}

# The file types matplotlib's Agg canvas writes (FigureCanvasAgg.get_supported_filetypes()).
PICTURE_SUFFIXES = (
    ".png", ".pdf", ".svg", ".svgz", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".eps", ".ps",
)  # fmt: skip
ANIMATION_SUFFIXES = (".gif", ".html", ".htm")


def install_hint(module: str) -> str:
    """``pip install 'fastsgd[EXTRA]'`` for an optional package's import name."""
    _, extra = EXTRAS[module]
    return f"pip install 'fastsgd[{extra}]'"


def require(module: str, what: str) -> None:
    """Import ``module`` or raise ImportError saying what needs it and how to install it."""
    try:
        importlib.import_module(module)
    except ImportError:
        name, _ = EXTRAS[module]
        raise ImportError(f"{what} needs {name}: {install_hint(module)}") from None


# --- argument types ---------------------------------------------------------------------------


def integer(minimum: int) -> Callable[[str], int]:
    """An argument type: a whole number >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def number(*, above: float | None = None, at_least: float | None = None) -> Callable[[str], float]:
    """An argument type: a finite number > above (or >= at_least)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be > {above:g}, got {text}")
        if at_least is not None and not value >= at_least:
            raise argparse.ArgumentTypeError(f"must be >= {at_least:g}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = integer(1)
count = integer(0)  # counts and seeds: 0, 1, 2, ...
learning_rate = number(above=0)


def _writable_folder(path: Path, text: str) -> None:
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"the folder {str(folder)!r} of {text!r} {what}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write into the folder {str(folder)!r}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")


def output_file(suffixes: tuple[str, ...]) -> Callable[[str], str]:
    """An argument type: a file to write, with one of ``suffixes``, in a folder that exists."""

    def parse(text: str) -> str:
        path = Path(text)
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(
                f"must end in {', '.join(suffixes[:-1])} or {suffixes[-1]}, got {text!r}"
            )
        _writable_folder(path, text)
        return text

    parse.__name__ = "file"
    return parse


picture_file = output_file(PICTURE_SUFFIXES)
animation_file = output_file(ANIMATION_SUFFIXES)


def output_prefix(text: str) -> str:
    """An argument type: the start of file names to write (PREFIX-before.png, ...)."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    _writable_folder(Path(text), text)
    return text


# --- the progress bar -------------------------------------------------------------------------


def add_progress_argument(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"show a progress bar over {what} on standard error (needs tqdm: "
        f"{install_hint('tqdm')}; default: a bar when standard error is a terminal, "
        "tqdm's or a plain one)",
    )


def check_progress(args: argparse.Namespace) -> None:
    """``--progress`` asks for tqdm's bar: without tqdm it is an error, before any work."""
    if args.progress:
        require("tqdm", "--progress")


class Bar:
    """A progress bar: ``update_to(done, total)``, and ``write(line)`` to print a line to
    standard output above it. This one shows nothing."""

    def update_to(self, done: int, total: int | None = None) -> None:
        del done, total

    def write(self, line: str) -> None:
        print(line)

    def close(self) -> None:
        pass


class _Plain(Bar):
    """A bar drawn with ``\\r`` on standard error, for when tqdm is not installed."""

    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n, self._shown, self._width = 0, -1.0, 0

    def update_to(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.n = done
        now = time.monotonic()
        if now - self._shown >= 0.1 or (self.total is not None and done >= self.total):
            self._shown = now
            self._draw()

    def _draw(self) -> None:
        if self.total:
            filled = min(20, 20 * self.n // self.total)
            text = f"{self.desc}: {100 * self.n // self.total:3d}% |{'#' * filled:<20}| "
            text += f"{self.n}/{self.total} {self.unit}"
        else:
            text = f"{self.desc}: {self.n} {self.unit}"
        self._width = max(self._width, len(text))
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()

    def _clear(self) -> None:
        if self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()

    def write(self, line: str) -> None:
        self._clear()
        print(line, flush=True)
        if self._width:
            self._draw()

    def close(self) -> None:
        self._clear()


class _Tqdm(Bar):
    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)

    def update_to(self, done: int, total: int | None = None) -> None:
        if total is not None and total != self._bar.total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def write(self, line: str) -> None:
        self._tqdm.write(line, file=sys.stdout)  # above the bar, not through it

    def close(self) -> None:
        self._bar.close()


@contextmanager
def progress_bar(
    args: argparse.Namespace, *, total: int | None = None, desc: str, unit: str
) -> Iterator[Bar]:
    """A bar on standard error when ``--progress`` was given, or by default when standard
    error is a terminal: tqdm's when it is installed, else a plain one. ``--no-progress``
    (or, by default, standard error not a terminal) shows none."""
    wanted = args.progress if args.progress is not None else sys.stderr.isatty()
    bar = Bar()
    if wanted:
        try:
            bar = _Tqdm(total, desc, unit)
        except ImportError:
            bar = _Plain(total, desc, unit)
    try:
        yield bar
    finally:
        bar.close()
