"""Draw the lesson's warning about too many epochs: a degree-12 polynomial fitted by
gradient descent to 12 noisy points around y = 3x + 2. The training loss keeps
falling; the validation loss turns up; early stopping keeps the best epoch."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="FILE.png", default="overfit.png",
                   help="where to write the picture (default overfit.png)")  # fmt: skip
    p.add_argument("--n", type=int, default=12, help="training points (default 12)")
    p.add_argument("--degree", type=int, default=12, help="highest power of x (default 12)")
    p.add_argument(
        "--noise", type=float, default=0.7, help="noise standard deviation (default 0.7)"
    )
    p.add_argument("--epochs", type=int, default=20000, help="epochs (default 20000)")
    p.add_argument("--patience", type=int, default=100,
                   help="early stopping's patience in epochs (default 100)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the data (default 0)")


def run(args: argparse.Namespace) -> int:
    from fastsgd import plotting

    fig = plotting.plot_overfitting(
        n_train=args.n, degree=args.degree, noise=args.noise, epochs=args.epochs,
        patience=args.patience, seed=args.seed,
    )  # fmt: skip
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0
