"""The ``fastsgd`` command: ``fastsgd demo``, ``animate``, ``overfit``, ``digits``, ``info``.

Each subcommand lives in ``fastsgd._commands.<name>`` with ``add_arguments(parser)``,
``run(args) -> int`` and, when it needs optional packages, ``requires(args)``: the
packages it will import for these arguments, checked before any work.

A mistake is one line on standard error, ``fastsgd CMD: error: ...``, and exit status 2:
arguments are checked by their argparse types before anything runs, and while a command
runs, the errors a user can cause (a ValueError, fastsgd.DivergenceError, an OSError on a
file, a missing optional package) are caught in ``main``. Anything else is a bug and
raises with its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

from fastsgd._commands._common import EXTRAS, install_hint

COMMANDS = {
    "demo": "the lesson: fit the line y = 3x + 2 by gradient descent",
    "animate": "animate SGD on the lesson's line for several learning rates",
    "overfit": "draw the lesson's warning: too many epochs overfit",
    "noise": "draw the noise floor of a constant step, and what averaging does",
    "digits": "classify handwritten digits with a softmax: '92%% it's an 8'",
    "info": "show the build: instruction set in use, OpenMP, threads",
}


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _version() -> str:
    try:
        return metadata.version("fastsgd")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        import fastsgd

        return fastsgd.__version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastsgd",
        description="Linear models trained by SGD, as fast.ai's Lesson 2 teaches it.",
    )
    parser.add_argument("--version", action="version", version=f"fastsgd {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f"fastsgd._commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"fastsgd._commands.{name}":
                continue  # not part of this build
            raise
        p = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _requires=getattr(module, "requires", None), _parser=p)
    return parser


def _user_error(exc: Exception) -> str | None:
    """The one-line message for an error the user caused, or None for a bug."""
    if isinstance(exc, ValueError):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name in EXTRAS:
        return f"{EXTRAS[exc.name][0]} is not installed: {install_hint(exc.name)}"
    if isinstance(exc, ImportError) and "pip install 'fastsgd[" in str(exc):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:  # writing a file
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    if isinstance(exc, FloatingPointError):
        from fastsgd.training import DivergenceError

        if isinstance(exc, DivergenceError):
            return str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)  # a bad argument: one line, SystemExit(2)
    if unknown:  # said by the command's parser: "fastsgd demo: error: ..."
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    prog = f"fastsgd {args.command}"
    try:
        if args._requires is not None:
            args._requires(args)  # the optional packages, before any work
        return int(args._run(args) or 0)
    except Exception as exc:
        message = _user_error(exc)
        if message is None:
            raise
        print(f"{prog}: error: {_one_line(message)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
