"""The lesson, run: make points around the line y = 3x + 2 (X = [x, 1], a = (3, 2)),
start from the guess a = (-1, 1), and take 100 steps of gradient descent with
learning rate 0.1, printing the mean squared error every 10 steps."""

from __future__ import annotations

import argparse
import time

import numpy as np

from fastsgd._commands._common import (
    add_progress_argument,
    check_progress,
    count,
    learning_rate,
    output_prefix,
    positive_int,
    progress_bar,
    require,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=positive_int, default=100, help="number of points (default 100)")
    p.add_argument("--lr", type=learning_rate, default=0.1, help="learning rate (default 0.1)")
    p.add_argument(
        "--steps", type=positive_int, default=100, help="gradient-descent steps (default 100)"
    )
    p.add_argument("--seed", type=count, default=0, help="seed of the data (default 0)")
    add_progress_argument(p, "the steps")
    p.add_argument(
        "--plot",
        metavar="PREFIX",
        nargs="?",
        type=output_prefix,
        const="lesson",
        help="also write PREFIX-before.png and PREFIX-after.png (needs matplotlib)",
    )


def requires(args: argparse.Namespace) -> None:
    check_progress(args)
    if args.plot:
        require("matplotlib", "--plot")


def run(args: argparse.Namespace) -> int:
    import fastsgd
    from fastsgd.datasets import make_line

    truth = np.array([3.0, 2.0])
    X, y = make_line(n=args.n, a=truth, seed=args.seed)
    a0 = np.array([-1.0, 1.0])
    # said with the first step's line: a rate that diverges at once prints only its error
    header = [
        f"y = X @ a with X = [x, 1]: {args.n} points around the line y = 3x + 2 (+ U[0,1) noise)",
        f"start from a = {a0}, learning rate {args.lr}, {args.steps} full-batch steps\n",
    ]

    with progress_bar(args, total=args.steps, desc="demo", unit="step") as bar:

        def say_header() -> None:
            while header:
                bar.write(header.pop(0))

        def report(epoch: int, loss: float, w: np.ndarray) -> None:
            bar.update_to(epoch)
            if epoch % 10 == 0:
                say_header()
                bar.write(f"  step {epoch:4d}   loss {loss:10.6f}   a = [{w[0]:7.4f}, {w[1]:7.4f}]")

        t0 = time.perf_counter()
        result = fastsgd.fit(
            X, y, w0=a0, learning_rate=args.lr, batch_size=None, epochs=args.steps,
            shuffle=False, callback=report, loss_record="exact",
        )  # fmt: skip
        say_header()
    elapsed = time.perf_counter() - t0
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    print(f"\nstart loss {result.loss_history[0]:.6f} -> final loss {result.loss:.6f}")
    print(f"fitted a = [{result.w[0]:.4f}, {result.w[1]:.4f}]")
    print(
        f"truth  a = [{truth[0]:.4f}, {truth[1]:.4f}]  (the noise's mean 0.5 moves the "
        f"best intercept: least squares gives [{best[0]:.4f}, {best[1]:.4f}])"
    )
    print(f"({args.steps} steps in {elapsed * 1e3:.1f} ms)")
    if args.plot:
        from fastsgd import plotting

        before, after = plotting.save_lesson_pictures(X, y, a0, result.w, args.plot)
        print(f"wrote {before} and {after}")
    return 0
