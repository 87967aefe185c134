"""The ``fastsgd`` command: ``fastsgd demo``, ``animate``, ``overfit``, ``digits``, ``info``.

Each subcommand lives in ``fastsgd._commands.<name>`` with ``add_arguments(parser)``
and ``run(args) -> int``; a subcommand whose optional dependencies are missing
says which extra to install.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = {
    "demo": "the lesson: fit the line y = 3x + 2 by gradient descent",
    "animate": "animate SGD on the lesson's line for several learning rates",
    "overfit": "draw the lesson's warning: too many epochs overfit",
    "digits": "classify handwritten digits with a softmax: '92%% it's an 8'",
    "info": "show the build: instruction set in use, OpenMP, threads",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastsgd",
        description="Linear models trained by SGD, as fast.ai's Lesson 2 teaches it.",
    )
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
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except ImportError as exc:
        print(f"fastsgd {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
