"""Draw the lesson's warning about too many epochs: a degree-12 polynomial fitted by
gradient descent to 12 noisy points around y = 3x + 2. The training loss keeps
falling; the validation loss turns up; early stopping keeps the best epoch."""

from __future__ import annotations

import argparse

from fastsgd._commands._common import count, integer, number, picture_file, positive_int, require


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="FILE.png", type=picture_file, default="overfit.png",
                   help="where to write the picture (default overfit.png)")  # fmt: skip
    p.add_argument("--n", type=integer(2), default=12, help="training points (default 12)")
    p.add_argument(
        "--degree", type=positive_int, default=12, help="highest power of x (default 12)"
    )
    p.add_argument(
        "--noise", type=number(at_least=0), default=0.7,
        help="noise standard deviation (default 0.7)",
    )  # fmt: skip
    p.add_argument("--epochs", type=positive_int, default=20000, help="epochs (default 20000)")
    p.add_argument("--patience", type=positive_int, default=100,
                   help="early stopping's patience in epochs (default 100)")  # fmt: skip
    p.add_argument("--seed", type=count, default=0, help="seed of the data (default 0)")


def requires(args: argparse.Namespace) -> None:
    del args
    require("matplotlib", "this command")


def run(args: argparse.Namespace) -> int:
    from fastsgd import plotting

    fig = plotting.plot_overfitting(
        n_train=args.n, degree=args.degree, noise=args.noise, epochs=args.epochs,
        patience=args.patience, seed=args.seed,
    )  # fmt: skip
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0
