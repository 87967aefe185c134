"""Animate gradient descent on the lesson's line, one panel per learning rate, side by
side: the data as an orange scatter, the current line over it, one frame per step.
A learning rate that diverges is shown diverging. Also draws the loss surface with
each run's path (--surface) and the loss curves (--curves)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fastsgd._commands._common import (
    add_progress_argument,
    animation_file,
    check_progress,
    count,
    learning_rate,
    number,
    picture_file,
    positive_int,
    progress_bar,
    require,
)

DEFAULT_LRS = (0.01, 0.1, 0.9, 1.1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lr",
        type=learning_rate,
        action="append",
        metavar="LR",
        help="a learning rate; repeat for more panels (default: "
        + " ".join(f"--lr {lr:g}" for lr in DEFAULT_LRS)
        + ")",
    )
    p.add_argument(
        "--out", metavar="FILE", type=animation_file,
        help="the animation, .gif or .html (default sgd.gif)",
    )  # fmt: skip
    p.add_argument(
        "--surface", metavar="FILE.png", type=picture_file,
        help="also draw the loss surface with the paths",
    )  # fmt: skip
    p.add_argument(
        "--curves", metavar="FILE.png", type=picture_file, help="also draw the loss curves"
    )
    p.add_argument(
        "--steps", type=positive_int, default=100, help="gradient-descent steps (default 100)"
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=None, help="rows per SGD step (default: the "
        "full batch; then a frame is an epoch)",
    )  # fmt: skip
    p.add_argument("--n", type=positive_int, default=100, help="number of points (default 100)")
    p.add_argument("--seed", type=count, default=0, help="seed of the data (default 0)")
    p.add_argument(
        "--fps", type=positive_int, default=None, help="frames per second (default 12.5)"
    )
    p.add_argument("--dpi", type=number(above=0), default=80, help="dots per inch (default 80)")
    add_progress_argument(p, "the frames rendered")


def requires(args: argparse.Namespace) -> None:
    check_progress(args)
    require("matplotlib", "this command")


def run(args: argparse.Namespace) -> int:
    from fastsgd import plotting
    from fastsgd.datasets import make_line

    lrs = list(args.lr) if args.lr else list(DEFAULT_LRS)
    out = args.out
    if out is None and args.surface is None and args.curves is None:
        out = "sgd.gif"
    X, y = make_line(n=args.n, seed=args.seed)
    options = {"w0": (-1.0, 1.0), "epochs": args.steps, "batch_size": args.batch_size}
    written = []
    if out is not None:
        anim = plotting.animate_fit(X, y, learning_rates=lrs, dpi=args.dpi, **options)
        with progress_bar(args, total=args.steps + 1, desc=f"rendering {out}", unit="frame") as bar:
            written.append(plotting.save_animation(anim, out, fps=args.fps, progress=bar.update_to))
    if args.surface is not None or args.curves is not None:
        runs = plotting.fit_paths(X, y, lrs, **options)
        if args.surface is not None:
            plotting.plot_loss_surface(X, y, runs).savefig(args.surface)
            written.append(Path(args.surface))
        if args.curves is not None:
            plotting.plot_loss_curves(runs).savefig(args.curves)
            written.append(Path(args.curves))
    for path in written:
        print(f"wrote {path}")
    return 0
