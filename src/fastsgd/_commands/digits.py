"""Classify handwritten digits with a linear model and a softmax: one score per class,
softmax turns the ten scores into probabilities that sum to 1, the largest wins, and
SGD minimises the cross-entropy. The data are scikit-learn's bundled 8×8 digits
(1797 images, no download), standardised with the training rows' mean and standard
deviation, split 80/20 (stratified, random_state=0). Prints the test accuracy and a
few test images as ASCII art with their top-3 class probabilities ("92.1% it's an 8");
--out FILE.png draws a grid of test digits, the wrong ones in red."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastsgd._commands._common import count, learning_rate, picture_file, positive_int, require

# Gray levels 0..16 of the digits, light to dark.
RAMP = " .:-=+*#%@"
SPLIT_SEED = 0
TEST_SIZE = 0.2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--epochs", type=positive_int, default=20, help="passes over the data (default 20)"
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=32, help="rows per SGD step (default 32)"
    )
    p.add_argument(
        "--lr",
        type=parse_lr,
        default="auto",
        help="learning rate, or 'auto' (default): from the curvature of the cross-entropy",
    )
    p.add_argument("--seed", type=count, default=0, help="seed of the shuffle (default 0)")
    p.add_argument("--show", type=count, default=4, help="test images drawn as text (default 4)")
    p.add_argument(
        "--out",
        metavar="FILE.png",
        type=picture_file,
        help="also draw a grid of test digits (needs matplotlib)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="also time scikit-learn's SGDClassifier(loss='log_loss') on the same split",
    )
    p.add_argument(
        "--repeat",
        type=positive_int,
        default=5,
        help="timed fits with --compare (median; default 5)",
    )


def requires(args: argparse.Namespace) -> None:
    require("sklearn", "this command")  # the digits data come with it
    if args.out:
        require("matplotlib", "--out")


@dataclass
class Digits:
    """The split: standardised features, labels, and the raw 0..16 images of the test rows."""

    X_train: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    X_test: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]
    images_test: np.ndarray[Any, Any]


def load_split() -> Digits:
    """scikit-learn's digits, split 80/20 (stratified, random_state=0) and standardised."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise ImportError(
            "the digits demo needs scikit-learn (its bundled digits data): "
            "pip install 'fastsgd[sklearn]'"
        ) from exc
    data = load_digits()
    X = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=y
    )
    scaler = StandardScaler().fit(X_tr)  # the training rows' mean and spread only
    return Digits(
        np.ascontiguousarray(scaler.transform(X_tr)),
        y_tr,
        np.ascontiguousarray(scaler.transform(X_te)),
        y_te,
        X_te.reshape(-1, 8, 8),
    )


def train(d: Digits, *, epochs: int, batch_size: int, lr: float | str, seed: int) -> Any:
    """A multinomial (softmax) fastsgd.SGDClassifier: mini-batch SGD on the cross-entropy,
    the loop running in C++. Its scores are X @ coef_.T + intercept_, one per class, and
    predict_proba is their softmax."""
    from fastsgd import SGDClassifier

    clf = SGDClassifier(learning_rate=lr, batch_size=batch_size, epochs=epochs, random_state=seed)
    return clf.fit(d.X_train, d.y_train)


def parse_lr(text: str) -> float | str:
    """--lr: a number > 0 or 'auto'."""
    if text == "auto":
        return "auto"
    try:
        return learning_rate(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a finite number > 0 or 'auto', got {text!r}"
        ) from None


def article(c: int) -> str:
    """'an 8', 'a 3'."""
    return f"an {c}" if c == 8 else f"a {c}"


def ascii_art(image: np.ndarray[Any, Any]) -> list[str]:
    """An 8×8 image of gray levels 0..16 as 8 lines of text, two characters per pixel."""
    levels = np.clip(np.rint(image / 16 * (len(RAMP) - 1)), 0, len(RAMP) - 1).astype(int)
    return ["".join(RAMP[v] * 2 for v in row) for row in levels]


def describe(image: np.ndarray[Any, Any], p: np.ndarray[Any, Any], truth: int, index: int) -> str:
    """The image as text, with its top-3 class probabilities and the true label beside it."""
    top = np.argsort(-p, kind="stable")[:3]
    side = [f"{100 * p[c]:5.1f}% it's {article(int(c))}" for c in top]
    verdict = "right" if top[0] == truth else f"WRONG: it is {article(truth)}"
    side += ["", f"test image {index}, true label {truth}: {verdict}"]
    art = ascii_art(image)
    lines = [
        f"  |{row}|   {side[i] if i < len(side) else ''}".rstrip() for i, row in enumerate(art)
    ]
    border = "  +" + "-" * 16 + "+"
    return "\n".join([border, *lines, border])


def pick_examples(y_pred: np.ndarray[Any, Any], y_true: np.ndarray[Any, Any], n: int) -> list[int]:
    """The first n test images, the last of them the first wrong one (when there is one)."""
    if n <= 0:
        return []
    wrong = np.flatnonzero(y_pred != y_true)
    first = list(range(min(n, len(y_true))))
    if len(wrong) and wrong[0] not in first:
        first[-1] = int(wrong[0])
    return first


def grid_indices(
    y_pred: np.ndarray[Any, Any], y_true: np.ndarray[Any, Any], size: int
) -> list[int]:
    """Every wrong test image (up to size), filled up with right ones, in test-set order."""
    wrong = np.flatnonzero(y_pred != y_true)[:size]
    right = np.flatnonzero(y_pred == y_true)[: size - len(wrong)]
    return sorted(int(i) for i in np.concatenate([wrong, right]))


def save_grid(
    path: str,
    images: np.ndarray[Any, Any],
    P: np.ndarray[Any, Any],
    y_true: np.ndarray[Any, Any],
    title: str,
    rows: int = 6,
    cols: int = 10,
) -> None:
    """A grid of test digits titled with the predicted class and its probability; the
    wrong ones in red with the true label."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("--out needs matplotlib: pip install 'fastsgd[plot]'") from exc
    y_pred = np.argmax(P, axis=1)
    idx = grid_indices(y_pred, y_true, rows * cols)
    fig = Figure(figsize=(1.25 * cols, 1.45 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)  # render with Agg, whatever pyplot's backend is
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, idx, strict=False):
        ok = y_pred[i] == y_true[i]
        color = "#1a7f37" if ok else "#cf222e"
        ax.set_axis_on()
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=16, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(color)
            spine.set_linewidth(1 if ok else 3)
        label = f"{y_pred[i]} ({100 * P[i, y_pred[i]]:.0f}%)"
        if not ok:
            label += f"\ntrue {y_true[i]}"
        ax.set_title(label, fontsize=9, color=color, fontweight="normal" if ok else "bold")
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=100)


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compare_with_sklearn(d: Digits, train_fn: Callable[[], Any], repeat: int) -> list[str]:
    """Fit times (median of `repeat`, interleaved) and test accuracies of fastsgd and
    scikit-learn's SGDClassifier(loss="log_loss") on the same split."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    def sk_fit() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return SGDClassifier(loss="log_loss", random_state=0).fit(d.X_train, d.y_train)

    ours, theirs = [], []
    for _ in range(max(1, repeat)):  # interleaved, so a busy spell hits both alike
        ours.append(median_time(train_fn, 1))
        theirs.append(median_time(sk_fit, 1))
    t_ours, t_sk = statistics.median(ours), statistics.median(theirs)
    acc_ours = float(train_fn().score(d.X_test, d.y_test))
    acc_sk = float(sk_fit().score(d.X_test, d.y_test))
    return [
        f"side by side, median fit time of {len(ours)} runs each:",
        (
            f"  fastsgd SGDClassifier (softmax)          {1e3 * t_ours:8.1f} ms   "
            f"test accuracy {acc_ours:.4f}"
        ),
        (
            f"  scikit-learn SGDClassifier(log_loss)     {1e3 * t_sk:8.1f} ms   "
            f"test accuracy {acc_sk:.4f}   ({t_sk / t_ours:.1f}× fastsgd's time)"
        ),
    ]


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    lr = args.lr
    d = load_split()
    n_tr, n_te = len(d.y_train), len(d.y_test)

    def train_fn() -> Any:
        return train(d, epochs=args.epochs, batch_size=args.batch_size, lr=lr, seed=args.seed)

    t0 = time.perf_counter()
    model = train_fn()
    fit_s = time.perf_counter() - t0
    P = model.predict_proba(d.X_test)
    y_pred = np.argmax(P, axis=1)
    right = int(np.sum(y_pred == d.y_test))
    acc = right / n_te
    rate = f"{model.learning_rate_:.3g}" + (" (auto)" if lr == "auto" else "")
    out(
        f"digits: {n_tr + n_te} images of 8×8 pixels, {n_tr} to train on and {n_te} to test "
        f"(stratified 80/20 split, random_state={SPLIT_SEED}), standardised"
    )
    out(
        f"model: fastsgd.SGDClassifier, scores = X @ coef_.T + intercept_ (64 pixels → 10 "
        f"classes), probabilities = softmax(scores); trained by SGD on the cross-entropy: "
        f"{args.epochs} epochs, batch {args.batch_size}, learning rate {rate}"
    )
    out(f"fit time: {1e3 * fit_s:.1f} ms   final training loss: {model.loss_history_[-1]:.4f}")
    out(f"test accuracy: {acc:.4f} ({right} of {n_te} right)")
    for i in pick_examples(y_pred, d.y_test, args.show):
        out("")
        out(describe(d.images_test[i], P[i], int(d.y_test[i]), i))
    if args.compare:
        out("")
        for line in compare_with_sklearn(d, train_fn, args.repeat):
            out(line)
    if args.out:
        title = (
            f"fastsgd softmax regression on scikit-learn's digits: test accuracy "
            f"{100 * acc:.1f}% ({n_te - right} wrong, in red)"
        )
        save_grid(args.out, d.images_test, P, d.y_test, title)
        out("")
        out(f"wrote {args.out}")
    return 0
