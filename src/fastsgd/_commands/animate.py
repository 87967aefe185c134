"""Animate gradient descent on the lesson's line, one panel per learning rate, side by
side: the data as an orange scatter, the current line over it, one frame per step.
A learning rate that diverges is shown diverging. Also draws the loss surface with
each run's path (--surface) and the loss curves (--curves)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_LRS = (0.01, 0.1, 0.9, 1.1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lr",
        type=float,
        action="append",
        metavar="LR",
        help="a learning rate; repeat for more panels (default: "
        + " ".join(f"--lr {lr:g}" for lr in DEFAULT_LRS)
        + ")",
    )
    p.add_argument("--out", metavar="FILE", help="the animation, .gif or .html (default sgd.gif)")
    p.add_argument(
        "--surface", metavar="FILE.png", help="also draw the loss surface with the paths"
    )
    p.add_argument("--curves", metavar="FILE.png", help="also draw the loss curves")
    p.add_argument("--steps", type=int, default=100, help="gradient-descent steps (default 100)")
    p.add_argument(
        "--batch-size", type=int, default=None, help="rows per SGD step (default: the full batch; "
        "then a frame is an epoch)",
    )  # fmt: skip
    p.add_argument("--n", type=int, default=100, help="number of points (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data (default 0)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default 12.5)")
    p.add_argument("--dpi", type=float, default=80, help="dots per inch (default 80)")


def run(args: argparse.Namespace) -> int:
    from fastsgd import plotting
    from fastsgd.datasets import make_line

    lrs = list(args.lr) if args.lr else list(DEFAULT_LRS)
    out = args.out
    if out is None and args.surface is None and args.curves is None:
        out = "sgd.gif"
    if out is not None and Path(out).suffix.lower() not in (".gif", ".html", ".htm"):
        print(f"fastsgd animate: --out must end in .gif or .html, got {out!r}", file=sys.stderr)
        return 2
    X, y = make_line(n=args.n, seed=args.seed)
    options = {"w0": (-1.0, 1.0), "epochs": args.steps, "batch_size": args.batch_size}
    written = []
    if out is not None:
        anim = plotting.animate_fit(X, y, learning_rates=lrs, dpi=args.dpi, **options)
        written.append(plotting.save_animation(anim, out, fps=args.fps))
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
