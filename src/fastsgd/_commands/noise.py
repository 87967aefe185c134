"""Draw why fastsgd's estimators average by default: mini-batch SGD on the lesson's line
with noise. A constant step stalls at a noise floor; a decaying step and the averaged
iterates reach the optimum. A second panel shows momentum 0, 0.5 and 0.9 at one rate."""

from __future__ import annotations

import argparse

from fastsgd._commands._common import count, number, picture_file, positive_int, require


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="FILE.png", type=picture_file, default="noise.png",
                   help="where to write the picture (default noise.png)")  # fmt: skip
    p.add_argument("--noise", type=number(at_least=0), default=1.0,
                   help="noise standard deviation (default 1)")  # fmt: skip
    p.add_argument("--lr", type=number(above=0), default=0.2, help="learning rate (default 0.2)")
    p.add_argument("--batch-size", type=positive_int, default=4, help="batch size (default 4)")
    p.add_argument("--epochs", type=positive_int, default=100, help="epochs (default 100)")
    p.add_argument("--seed", type=count, default=0, help="seed of the data (default 0)")


def requires(args: argparse.Namespace) -> None:
    del args
    require("matplotlib", "this command")


def run(args: argparse.Namespace) -> int:
    from fastsgd import plotting

    fig = plotting.plot_noise_floor(
        noise=args.noise, learning_rate=args.lr, batch_size=args.batch_size,
        epochs=args.epochs, seed=args.seed,
    )  # fmt: skip
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0
