"""The lesson's pictures: SGD animated, learning rates compared, the loss surface, overfitting.

fast.ai's Lesson 2 suggests running the animation of gradient descent with a
big learning rate and a small one to get a feel for it. This module draws it,
and the pictures that go with it:

- :func:`animate_fit` — the data as an orange scatter and the current line drawn
  over it, one frame per step, one panel per learning rate;
- :func:`plot_loss_curves` — the loss after every step, per learning rate;
- :func:`plot_loss_surface` — the mean squared error over the two parameters
  (a1, a2) with each run's path on it;
- :func:`plot_overfitting` — training and validation loss over epochs on a small
  noisy problem: the validation loss turns up, early stopping keeps its best epoch;
- :func:`plot_lesson` and :func:`save_lesson_pictures` — the line before and after
  training (``fastsgd demo --plot``).

matplotlib is optional (``pip install 'fastsgd[plot]'``): this module imports
without it, and each function imports it when called. Figures are
:class:`matplotlib.figure.Figure` objects drawn on the Agg canvas, never through
pyplot, so nothing opens a window. Save one with ``fig.savefig(path)``, or leave
it as the value of a Jupyter cell to see it.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fastsgd._validation import FloatArray, as_array, as_rows, check_finite, check_int, shape_str
from fastsgd.kernels import mse
from fastsgd.training import DivergenceError, FitResult, fit

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "Trajectory",
    "animate_fit",
    "fit_paths",
    "plot_lesson",
    "plot_loss_curves",
    "plot_loss_surface",
    "plot_noise_floor",
    "plot_overfitting",
    "save_animation",
    "save_lesson_pictures",
]

INSTALL_HINT = "pip install 'fastsgd[plot]'"
DATA_COLOR = "tab:orange"  # the lesson's scatter
LINE_COLOR = "tab:blue"
NOTE_COLOR = "#b2182b"
# one color per run on the surface and the loss curves (Okabe-Ito, readable by the color-blind)
RUN_COLORS = ("#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#E69F00", "#000000")
# fit() options the pictures set themselves, or that would change what a path means
# (the pictures pair each epoch's parameters with the full-data loss: loss_record="exact")
_RESERVED_FIT_OPTIONS = (
    "loss", "fit_intercept", "b0", "callback", "record_path", "w0", "loss_record",
)  # fmt: skip


def _need_matplotlib() -> None:
    """Raise ImportError naming the extra when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"fastsgd.plotting needs matplotlib: {INSTALL_HINT}") from exc


def _figure(width: float, height: float, dpi: float = 100) -> Figure:
    """A Figure outside pyplot (no window), with constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)


@dataclass(frozen=True)
class Trajectory:
    """One run of gradient descent, kept even when it diverges.

    Attributes
    ----------
    learning_rate : float
    path : ndarray (m, d) — the parameters at the start and after every epoch
        (with ``batch_size=None`` every epoch is one step). For a run that
        diverged, the steps up to the one that made ``fit`` stop.
    loss_history : ndarray (m,) — the full-data loss at each row of ``path``.
    diverged_at : int or None — the epoch at which ``fit`` raised
        :class:`fastsgd.DivergenceError`.
    result : FitResult or None — what ``fit`` returned (None after a divergence).
    """

    learning_rate: float
    path: FloatArray
    loss_history: FloatArray
    diverged_at: int | None = None
    result: FitResult | None = None

    @property
    def diverged(self) -> bool:
        """Whether ``fit`` stopped because the loss blew up."""
        return self.diverged_at is not None


def _lesson_data(X: Any, y: Any) -> tuple[FloatArray, FloatArray]:
    Xr = as_rows(X, "X")
    check_finite(Xr, "X")
    y_arr = as_array(y, "y")
    if y_arr.shape != (Xr.shape[0],):
        raise ValueError(
            f"y must have shape ({Xr.shape[0]},) to match X of shape {shape_str(Xr.shape)}, "
            f"got {shape_str(y_arr.shape)}"
        )
    if Xr.shape[0] == 0:
        raise ValueError("X has no rows: there is nothing to draw")
    y64 = np.asarray(y_arr, dtype=np.float64)
    check_finite(y64, "y")
    return Xr, y64


def _learning_rates(learning_rates: Any) -> list[float]:
    if isinstance(learning_rates, (int, float)) and not isinstance(learning_rates, bool):
        learning_rates = (learning_rates,)
    try:
        lrs = [float(lr) for lr in learning_rates]
    except (TypeError, ValueError):
        raise TypeError(
            f"learning_rates must be a sequence of numbers, got {learning_rates!r}"
        ) from None
    if not lrs:
        raise ValueError("learning_rates is empty: give at least one learning rate")
    for lr in lrs:
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning_rates must hold numbers > 0, got {lr!r}")
    return lrs


def fit_paths(
    X: Any,
    y: Any,
    learning_rates: Sequence[float] | float = (0.1,),
    *,
    w0: Any = (-1.0, 1.0),
    epochs: int = 100,
    batch_size: int | None = None,
    **fit_kwargs: Any,
) -> list[Trajectory]:
    """Run :func:`fastsgd.fit` once per learning rate and keep every run's path.

    Each run uses ``record_path=True``. A run that diverges (``fit`` raises
    :class:`fastsgd.DivergenceError`) is kept too, with the steps it took up to
    that point (recorded through ``fit``'s callback) and ``diverged_at`` set.

    Parameters
    ----------
    X : array_like (n, d) — for the lesson, ``[x, 1]`` from :func:`fastsgd.datasets.make_line`.
    y : array_like (n,)
    learning_rates : one learning rate or several.
    w0 : the start, (d,); the lesson's guess ``(-1, 1)`` by default.
    epochs : epochs per run (with ``batch_size=None`` each is one gradient-descent step).
    batch_size : rows per step; None for the full batch.
    **fit_kwargs : more options of :func:`fastsgd.fit` (``seed``, ``shuffle``, ``momentum``,
        ...). The loss is the mean squared error and there is no separate intercept
        (``X``'s column of ones plays that part), so ``loss``, ``fit_intercept``, ``b0``,
        ``callback`` and ``record_path`` are not accepted.

    Returns
    -------
    list of Trajectory, one per learning rate, in order.

    Examples
    --------
    >>> from fastsgd.datasets import make_line
    >>> from fastsgd.plotting import fit_paths
    >>> X, y = make_line()
    >>> slow, fast, too_fast = fit_paths(X, y, [0.01, 0.1, 1.1], epochs=50)
    >>> slow.path.shape, too_fast.diverged, too_fast.diverged_at
    ((51, 2), True, 19)
    """
    lrs = _learning_rates(learning_rates)
    bad = sorted(k for k in fit_kwargs if k in _RESERVED_FIT_OPTIONS)
    if bad:
        raise ValueError(f"fit_paths sets {', '.join(bad)} itself; do not pass {bad[0]}=")
    epochs = check_int(epochs, "epochs", minimum=0)
    Xr, y64 = _lesson_data(X, y)
    start = as_array(w0, "w0")
    if start.shape != (Xr.shape[1],):
        raise ValueError(
            f"w0 must have shape ({Xr.shape[1]},), one number per column of X, "
            f"got {shape_str(start.shape)}"
        )
    start = np.asarray(start, dtype=np.float64)
    check_finite(start, "w0")
    runs = []
    for lr in lrs:
        steps: list[FloatArray] = []
        losses: list[float] = []
        record = _recorder(steps, losses)
        try:
            r = fit(
                Xr, y64, w0=start, learning_rate=lr, epochs=epochs, batch_size=batch_size,
                record_path=True, callback=record, loss_record="exact", **fit_kwargs,
            )  # fmt: skip
        except DivergenceError as exc:
            start_loss = mse(Xr, y64, start)
            path = np.vstack([start[None, :], *[s[None, :] for s in steps]])
            history = np.asarray([start_loss, *losses])
            runs.append(Trajectory(lr, path, history, diverged_at=exc.epoch))
        else:
            assert r.path_w is not None
            runs.append(Trajectory(lr, r.path_w, r.loss_history, result=r))
    return runs


def _recorder(steps: list[FloatArray], losses: list[float]) -> Callable[[int, float, Any], None]:
    """A fit() callback that keeps the parameters and the loss after every epoch."""

    def record(epoch: int, loss: float, w: Any) -> None:
        steps.append(np.array(w, dtype=np.float64))
        losses.append(float(loss))

    return record


def _sorted_rows(X: FloatArray) -> FloatArray:
    """X's rows in order of the first column (x), to draw X @ w as a line or curve."""
    return X[np.argsort(X[:, 0], kind="stable")]


def animate_fit(
    X: Any,
    y: Any,
    *,
    learning_rates: Sequence[float] | float = (0.1,),
    w0: Any = (-1.0, 1.0),
    epochs: int = 100,
    batch_size: int | None = None,
    fit_kwargs: Mapping[str, Any] | None = None,
    interval: int = 80,
    panel_size: float = 2.6,
    dpi: float = 80,
) -> FuncAnimation:
    """Animate gradient descent fitting the line, one panel per learning rate.

    Each panel is the lesson's picture: the data as an orange scatter and the
    current line ``X @ w`` drawn over it, titled with the learning rate and the
    current loss. There is one frame per epoch plus the start; with
    ``batch_size=None`` (the default) an epoch is one gradient-descent step.
    A learning rate that diverges is shown diverging: its line moves until it
    leaves the plot, then the panel says at which step the loss blew up.

    Parameters
    ----------
    X : array_like (n, d) — the line's ``[x, 1]`` (:func:`fastsgd.datasets.make_line`);
        the horizontal axis is the first column.
    y : array_like (n,)
    learning_rates : one learning rate or several (one panel each, side by side).
    w0 : the start, (d,); the lesson's guess ``(-1, 1)`` by default.
    epochs : epochs per run; the animation has ``epochs + 1`` frames (fewer when
        every run stops early).
    batch_size : rows per SGD step; None for the full batch.
    fit_kwargs : more options for :func:`fastsgd.fit` (see :func:`fit_paths`).
    interval : milliseconds between frames.
    panel_size : width and height of each panel, in inches.
    dpi : dots per inch; a saved GIF is ``panel_size · len(learning_rates) · dpi``
        pixels wide and ``(panel_size + 0.35) · dpi`` high (the step counter's room).

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Save it with :func:`save_animation`; in Jupyter, show it with
        ``IPython.display.HTML(anim.to_jshtml())``.
        The animation is drawn when it is saved, so keep a reference until then.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fastsgd.datasets import make_line
    >>> from fastsgd.plotting import animate_fit, save_animation
    >>> X, y = make_line()
    >>> anim = animate_fit(X, y, learning_rates=[0.1, 1.1], epochs=20)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_animation(anim, pathlib.Path(tmp) / "sgd.gif")
    ...     path.stat().st_size > 0
    True
    """
    _need_matplotlib()
    interval = check_int(interval, "interval", minimum=1)
    if not (panel_size > 0 and dpi > 0):
        raise ValueError(f"panel_size and dpi must be > 0, got {panel_size} and {dpi}")
    runs = fit_paths(
        X, y, learning_rates, w0=w0, epochs=epochs, batch_size=batch_size, **dict(fit_kwargs or {})
    )
    Xr, y64 = _lesson_data(X, y)
    from matplotlib.animation import FuncAnimation

    n_frames = max(len(run.path) for run in runs)
    fig = _figure(panel_size * len(runs), panel_size + 0.35, dpi)
    Xs = _sorted_rows(Xr)
    xs = Xs[:, 0]
    x = Xr[:, 0]
    y_lo, y_hi = float(y64.min()), float(y64.max())
    pad = 0.3 * max(y_hi - y_lo, 1e-12)
    x_lo, x_hi = float(x.min()), float(x.max())
    x_pad = 0.05 * max(x_hi - x_lo, 1e-12)
    axes = fig.subplots(1, len(runs), sharey=True, squeeze=False)[0]
    step_word = "step" if batch_size is None else "epoch"
    what = "gradient descent" if batch_size is None else f"SGD, batch size {batch_size}"
    suptitle = fig.suptitle("", fontsize=10)
    panels = []
    for ax, run in zip(axes, runs, strict=True):
        _style(ax)
        ax.scatter(x, y64, s=9, color=DATA_COLOR, linewidths=0, zorder=2)
        (line,) = ax.plot(xs, Xs @ run.path[0], color=LINE_COLOR, linewidth=2, zorder=3)
        ax.set_xlim(x_lo - x_pad, x_hi + x_pad)
        ax.set_ylim(y_lo - pad, y_hi + pad)
        ax.set_xlabel("x", fontsize=8)
        ax.tick_params(labelsize=7)
        title = ax.set_title("", fontsize=9, y=1.0)  # y given: it stays where it is drawn
        note = ax.text(
            0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", fontsize=8,
            color=NOTE_COLOR, bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": NOTE_COLOR},
        )  # fmt: skip
        note.set_visible(False)
        panels.append((run, line, title, note))
    axes[0].set_ylabel("y", fontsize=8)

    def draw(frame: int) -> list[Any]:
        suptitle.set_text(f"{what}, {step_word} {frame} of {n_frames - 1}")
        for run, line, title, note in panels:
            i = min(frame, len(run.path) - 1)
            line.set_ydata(Xs @ run.path[i])
            if run.diverged and frame >= len(run.path):
                line.set_visible(False)
                title.set_text(f"lr = {run.learning_rate:g}\nloss → ∞")
                note.set_text(
                    f"diverged at {step_word} {run.diverged_at}:\n"
                    f"the loss grew past\n1000 × its start"
                )
                note.set_visible(True)
            else:
                line.set_visible(True)
                note.set_visible(False)
                title.set_text(f"lr = {run.learning_rate:g}\nloss {run.loss_history[i]:.4g}")
        return [suptitle, *(a for p in panels for a in p[1:])]

    changing = draw(0)
    # lay the panels out once: the frames change only lines and texts, and a fixed layout
    # keeps them from jittering and saves a layout pass per frame
    fig.draw_without_rendering()
    fig.set_layout_engine(None)
    anim = FuncAnimation(
        fig, draw, frames=n_frames, interval=interval, repeat=True, cache_frame_data=False
    )
    _CHANGING[anim] = (fig, changing)
    return anim


# The artists each frame of an animate_fit animation changes; save_animation draws the rest
# of the figure once (see _static_background).
_CHANGING: weakref.WeakKeyDictionary[Any, tuple[Figure, list[Any]]] = weakref.WeakKeyDictionary()


@contextmanager
def _static_background(fig: Figure, changing: list[Any]) -> Iterator[None]:
    """Draw everything that no frame changes once, as a picture behind the figure, and
    hide it, so that each frame draws only the changing artists over that picture: the
    same pixels, several times faster (axes, ticks and labels are most of a frame's work).
    Everything is shown again afterwards."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    keep = {id(a) for a in changing}
    shown = [(a, a.get_visible()) for a in changing]
    for a in changing:
        a.set_visible(False)
    canvas = fig.canvas
    agg = FigureCanvasAgg(fig)  # drawn on an Agg canvas here, then given back its own
    agg.draw()  # type: ignore[no-untyped-call]
    picture = np.array(agg.buffer_rgba())  # type: ignore[no-untyped-call]  # a copy
    fig.set_canvas(canvas)
    for a, visible in shown:
        a.set_visible(visible)
    static = [fig.patch, *(a for ax in fig.axes for a in ax.get_children() if id(a) not in keep)]
    static += [t for t in fig.texts if id(t) not in keep]
    hidden = [(a, a.get_visible()) for a in static]
    for a in static:
        a.set_visible(False)
    backdrop = fig.figimage(picture, xo=0, yo=0, origin="upper", zorder=-1e9)
    try:
        yield
    finally:
        backdrop.remove()
        for a, visible in hidden:
            a.set_visible(visible)


def save_animation(
    anim: FuncAnimation,
    path: str | Path,
    *,
    fps: int | None = None,
    dpi: float | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> Path:
    """Write an animation as a GIF (Pillow, no ffmpeg needed) or a self-contained HTML page.

    The format comes from the extension: ``.gif``, or ``.html`` / ``.htm``: a page
    with every frame embedded as a PNG image and JavaScript controls, made by
    ``anim.to_jshtml()`` (it needs no other file; only the buttons' icons are
    loaded from a CDN). matplotlib's ``animation.embed_limit`` rcParam caps the
    page's size, 20 MB by default.

    Parameters
    ----------
    anim : matplotlib.animation.Animation, e.g. from :func:`animate_fit`.
    path : where to write.
    fps : frames per second (default: from the animation's interval).
    dpi : dots per inch (default: the figure's own, so the pixel size is
        ``figsize · dpi``).
    progress : called as ``progress(done, total)`` as frames are drawn, and with
        ``done == total`` once the file is written (for a progress bar).

    Returns
    -------
    pathlib.Path — the file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fastsgd.datasets import make_line
    >>> from fastsgd.plotting import animate_fit, save_animation
    >>> anim = animate_fit(*make_line(), epochs=10)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     page = save_animation(anim, pathlib.Path(tmp) / "sgd.html")
    ...     "<script" in page.read_text()
    True
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".html", ".htm"):
        raise ValueError(f"path must end in .gif, .html or .htm, got {str(path)!r}")
    if fps is not None:
        fps = check_int(fps, "fps", minimum=1)
    _need_matplotlib()
    import matplotlib
    from matplotlib.animation import HTMLWriter

    frames = [0]

    def drawn(i: int, n: int) -> None:  # matplotlib calls it as frame i of n is drawn
        frames[0] = n
        if progress is not None:
            progress(i, n)

    drawn_once: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if anim in _CHANGING:  # from animate_fit: draw what no frame changes once
        fig, changing = _CHANGING[anim]
        if dpi is None or float(dpi) == fig.dpi:
            drawn_once = _static_background(fig, changing)
    with (
        matplotlib.rc_context({"savefig.dpi": "figure" if dpi is None else float(dpi)}),
        drawn_once,
    ):
        if suffix == ".gif":
            anim.save(out, writer="pillow", fps=fps, progress_callback=drawn)
        else:
            # what anim.to_jshtml(fps=fps) makes, with the progress callback
            rate = fps if fps is not None else 1000 / getattr(anim, "_interval", 200)
            mode = "loop" if getattr(anim, "_repeat", False) else "once"
            with tempfile.TemporaryDirectory() as tmp:
                frames_page = Path(tmp, "frames.html")
                writer = HTMLWriter(fps=rate, embed_frames=True, default_mode=mode)  # type: ignore[arg-type]
                anim.save(str(frames_page), writer=writer, progress_callback=drawn)
                body = frames_page.read_text(encoding="utf-8")
            out.write_text(_HTML_PAGE.format(title=out.stem, body=body), encoding="utf-8")
    if progress is not None:
        progress(frames[0], frames[0])
    return out


_HTML_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{title}</title>
</head>
<body>
{body}
</body>
</html>
"""


def _as_path(p: Any, i: int) -> FloatArray:
    if isinstance(p, Trajectory):
        return p.path
    if isinstance(p, FitResult):
        if p.path_w is None:
            raise ValueError(f"paths[{i}] is a FitResult without a path: fit with record_path=True")
        return p.path_w
    arr = np.asarray(as_array(p, f"paths[{i}]"), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f"paths[{i}] must have shape (m, 2), got {shape_str(arr.shape)}")
    return arr


def _label_of(obj: Any, i: int, fallback: str) -> str:
    if isinstance(obj, (Trajectory, FitResult)):
        return f"lr = {obj.learning_rate:g}"
    return f"{fallback} {i + 1}"


def _labels(objs: Sequence[Any], labels: Sequence[str] | None, fallback: str) -> list[str]:
    if labels is None:
        return [_label_of(o, i, fallback) for i, o in enumerate(objs)]
    out = [str(s) for s in labels]
    if len(out) != len(objs):
        raise ValueError(f"labels has {len(out)} entries for {len(objs)} runs")
    return out


def _runs(objs: Any, name: str) -> list[Any]:
    if isinstance(objs, (Trajectory, FitResult, np.ndarray)):
        objs = [objs]
    if not isinstance(objs, Sequence) or isinstance(objs, str):
        raise TypeError(f"{name} must be a sequence of runs, got {type(objs).__name__}")
    if len(objs) == 0:
        raise ValueError(f"{name} is empty")
    return list(objs)


def plot_loss_curves(results: Any, labels: Sequence[str] | None = None) -> Figure:
    """The loss after every step, one curve per run, on a log scale.

    Parameters
    ----------
    results : a sequence of :class:`Trajectory` (from :func:`fit_paths`),
        :class:`fastsgd.FitResult` or 1-d loss histories.
    labels : one label per run (default: ``"lr = ..."``).

    Returns
    -------
    matplotlib.figure.Figure — one Axes; a run that diverged ends in a cross.

    Examples
    --------
    >>> from fastsgd.datasets import make_line
    >>> from fastsgd.plotting import fit_paths, plot_loss_curves
    >>> X, y = make_line()
    >>> fig = plot_loss_curves(fit_paths(X, y, [0.01, 0.1, 0.9, 1.1]))
    >>> [line.get_label() for line in fig.axes[0].get_lines()[:2]]
    ['lr = 0.01', 'lr = 0.1']
    """
    _need_matplotlib()
    runs = _runs(results, "results")
    names = _labels(runs, labels, "run")
    fig = _figure(5.6, 3.6)
    ax = fig.add_subplot()
    _style(ax)
    for i, (run, name) in enumerate(zip(runs, names, strict=True)):
        if isinstance(run, (Trajectory, FitResult)):
            hist = np.asarray(run.loss_history, dtype=np.float64)
        else:
            hist = np.asarray(as_array(run, f"results[{i}]"), dtype=np.float64)
            if hist.ndim != 1:
                raise ValueError(
                    f"results[{i}] must be a 1-d loss history, got {shape_str(hist.shape)}"
                )
        color = RUN_COLORS[i % len(RUN_COLORS)]
        diverged = isinstance(run, Trajectory) and run.diverged
        label = f"{name} (diverged)" if diverged else name
        steps = np.arange(len(hist))
        ax.plot(steps, hist, color=color, linewidth=1.8, label=label)
        if diverged and len(hist):
            ax.plot(steps[-1], hist[-1], marker="X", markersize=8, color=color, linestyle="none")
    ax.set_yscale("log")
    ax.set_xlabel("step" if all(_full_batch(r) for r in runs) else "epoch")
    ax.set_ylabel("mean squared error")
    ax.set_title("loss per learning rate", fontsize=11)
    ax.legend(frameon=False, fontsize=9)
    return fig


def plot_noise_floor(
    *, n: int = 200, noise: float = 1.0, learning_rate: float = 0.2, batch_size: int = 4,
    epochs: int = 100, seed: int = 0,
) -> Figure:  # fmt: skip
    """Why the defaults average: mini-batch SGD on the lesson's line with noise.

    Left: the loss above the optimum (least squares) after every epoch for a constant step,
    a decaying step (``invscaling``, ``lr/√t`` per step) and a constant step with its
    iterates averaged from the second epoch (``average="auto"``). The constant step stalls
    at a floor set by the step and the batch's noise; the decaying step and the average
    keep going down. Right: momentum β = 0, 0.5 and 0.9 at the same rate: momentum
    multiplies the step by about 1/(1 − β), and the floor rises with it.

    Parameters
    ----------
    n, noise, seed : the data, :func:`fastsgd.datasets.make_line` with normal noise.
    learning_rate, batch_size, epochs : the runs' settings (every run uses the same ones).

    Returns
    -------
    matplotlib.figure.Figure — two Axes, one curve per run.

    Examples
    --------
    >>> from fastsgd.plotting import plot_noise_floor
    >>> fig = plot_noise_floor(epochs=20)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['constant step', 'decaying step', 'constant step, averaged']
    """
    _need_matplotlib()
    from fastsgd.datasets import make_line

    X, y = make_line(n=n, noise="normal", scale=noise, seed=seed)
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    floor = float(np.mean((X @ best - y) ** 2))
    common: dict[str, Any] = {
        "learning_rate": learning_rate, "batch_size": batch_size, "epochs": epochs,
        "seed": seed, "loss_record": "exact", "w0": np.zeros(2),
    }  # fmt: skip
    runs: dict[str, dict[str, Any]] = {
        "constant step": {},
        "decaying step": {"schedule": "invscaling", "schedule_unit": "step", "power_t": 0.5},
        "constant step, averaged": {"average": "auto"},
    }
    momenta: dict[str, dict[str, Any]] = {f"β = {b:g}": {"momentum": b} for b in (0.0, 0.5, 0.9)}
    fig = _figure(10.0, 3.8)
    for col, (group, title) in enumerate(
        ((runs, "constant, decaying and averaged steps"), (momenta, "momentum, same rate"))
    ):
        ax = fig.add_subplot(1, 2, col + 1)
        _style(ax)
        for i, (label, extra) in enumerate(group.items()):
            hist = fit(X, y, **common, **extra).loss_history - floor
            ax.plot(np.arange(len(hist)), np.maximum(hist, 1e-12), label=label,
                    color=RUN_COLORS[i], linewidth=1.6)  # fmt: skip
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss − optimum's loss")
        ax.set_title(title, fontsize=11)
        ax.legend(frameon=False, fontsize=9)
    fig.suptitle(
        f"the lesson's line with noise: n = {n}, batch {batch_size}, lr = {learning_rate:g}",
        fontsize=11,
    )
    return fig


def _full_batch(run: Any) -> bool:
    """True unless we know the run used mini-batches (then the x axis counts epochs)."""
    result = run.result if isinstance(run, Trajectory) else run
    if isinstance(result, FitResult):
        return result.n_steps == result.n_epochs
    return True


def _mse_grid(X: FloatArray, y: FloatArray, A1: FloatArray, A2: FloatArray) -> FloatArray:
    """mean((X @ a - y)²) at every grid point a = (A1, A2), from XᵀX/n, Xᵀy/n and yᵀy/n."""
    X64 = np.asarray(X, dtype=np.float64)
    n = X64.shape[0]
    G = X64.T @ X64 / n
    g = X64.T @ y / n
    c = float(y @ y) / n
    loss = G[0, 0] * A1**2 + 2 * G[0, 1] * A1 * A2 + G[1, 1] * A2**2
    loss = loss - 2 * (g[0] * A1 + g[1] * A2) + c
    clipped: FloatArray = np.maximum(loss, 0.0)  # rounding can dip below 0 at the optimum
    return clipped


def plot_loss_surface(
    X: Any,
    y: Any,
    paths: Any,
    labels: Sequence[str] | None = None,
    *,
    extent: tuple[float, float, float, float] | None = None,
    resolution: int = 200,
) -> Figure:
    """Contours of the mean squared error over (a1, a2), with each run's path drawn on it.

    The start (the first point of the first path) is marked with a circle and
    the optimum (least squares) with a star. A learning rate near the limit
    bounces across the valley; one past it leaves the picture; a small one crawls.

    Parameters
    ----------
    X : array_like (n, 2) — two parameters, as the lesson's ``[x, 1]``.
    y : array_like (n,)
    paths : a sequence of :class:`Trajectory`, :class:`fastsgd.FitResult` (fitted with
        ``record_path=True``) or (m, 2) arrays of parameters.
    labels : one label per path (default: ``"lr = ..."``).
    extent : ``(a1_min, a1_max, a2_min, a2_max)``; by default the start, the optimum and
        the part of each path whose loss is not above the start's.
    resolution : grid points per axis.

    Returns
    -------
    matplotlib.figure.Figure — one Axes; each path is a Line2D whose data is the path.

    Examples
    --------
    >>> import fastsgd
    >>> from fastsgd.datasets import make_line
    >>> from fastsgd.plotting import plot_loss_surface
    >>> X, y = make_line()
    >>> r = fastsgd.fit(X, y, w0=(-1.0, 1.0), learning_rate=0.1, epochs=30, record_path=True)
    >>> fig = plot_loss_surface(X, y, [r])
    >>> line = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "lr = 0.1"][0]
    >>> bool((line.get_xydata() == r.path_w).all())
    True
    """
    _need_matplotlib()
    Xr, y64 = _lesson_data(X, y)
    if Xr.shape[1] != 2:
        raise ValueError(
            f"X must have 2 columns (the surface is over two parameters), got shape {shape_str(Xr.shape)}"
        )
    resolution = check_int(resolution, "resolution", minimum=10)
    runs = _runs(paths, "paths")
    arrays = [_as_path(p, i) for i, p in enumerate(runs)]
    names = _labels(runs, labels, "path")
    optimum = np.linalg.lstsq(np.asarray(Xr, dtype=np.float64), y64, rcond=None)[0]
    starts = np.array([p[0] for p in arrays])

    def loss_at(points: FloatArray) -> FloatArray:
        return _mse_grid(Xr, y64, points[..., 0], points[..., 1])

    if extent is None:
        ceiling = float(loss_at(starts).max())
        pts = [optimum[None, :], starts]
        for p in arrays:
            finite = p[np.isfinite(p).all(axis=1)]
            pts.append(finite[loss_at(finite) <= ceiling * (1 + 1e-9)])
        allp = np.vstack(pts)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        span = np.maximum(hi - lo, 0.5)
        lo, hi = lo - 0.15 * span, hi + 0.15 * span
        extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
    a1_min, a1_max, a2_min, a2_max = (float(v) for v in extent)
    if not (a1_min < a1_max and a2_min < a2_max):
        raise ValueError(
            f"extent must be (a1_min, a1_max, a2_min, a2_max) with min < max, got {extent}"
        )
    A1, A2 = np.meshgrid(
        np.linspace(a1_min, a1_max, resolution), np.linspace(a2_min, a2_max, resolution)
    )
    Z = _mse_grid(Xr, y64, A1, A2)
    best = float(loss_at(optimum))
    z_top = float(Z.max())
    # contours evenly spaced in sqrt(loss - best): nested ellipses at even steps in the
    # parameters, dense near the optimum
    levels = best + (z_top - best) * np.linspace(0.0, 1.0, 16)[1:] ** 2
    fig = _figure(5.6, 4.4)
    ax = fig.add_subplot()
    filled = ax.contourf(A1, A2, Z, levels=[best, *levels], cmap="Blues", alpha=0.75)
    ax.contour(A1, A2, Z, levels=levels, colors="0.45", linewidths=0.4, alpha=0.6)
    cbar = fig.colorbar(filled, ax=ax, shrink=0.85, ticks=[best, *levels[2::3]], format="%.2g")
    cbar.set_label("mean squared error", fontsize=9)
    cbar.ax.tick_params(labelsize=8)
    for i, (p, run, name) in enumerate(zip(arrays, runs, names, strict=True)):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        diverged = isinstance(run, Trajectory) and run.diverged
        ax.plot(
            p[:, 0], p[:, 1], color=color, linewidth=0.9 if diverged else 1.4, marker="o",
            markersize=2.5, label=f"{name} (diverged)" if diverged else name, zorder=3,
        )  # fmt: skip
    start = arrays[0][0]
    ax.plot(start[0], start[1], marker="o", markersize=9, color="black", markerfacecolor="white",
            markeredgewidth=1.5, linestyle="none", label="start", zorder=4)  # fmt: skip
    ax.plot(optimum[0], optimum[1], marker="*", markersize=15, color="gold",
            markeredgecolor="black", linestyle="none", label="optimum", zorder=4)  # fmt: skip
    ax.set_xlim(a1_min, a1_max)
    ax.set_ylim(a2_min, a2_max)
    ax.set_xlabel("a1 (slope)")
    ax.set_ylabel("a2 (intercept)")
    ax.set_title("the loss surface and the paths of gradient descent", fontsize=11)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    return fig


def _poly_features(x: FloatArray, degree: int) -> FloatArray:
    """[x, x², ..., x^degree, 1]."""
    powers = x[:, None] ** np.arange(1, degree + 1)
    return np.column_stack([powers, np.ones_like(x)])


def plot_overfitting(
    *,
    n_train: int = 12,
    n_val: int = 200,
    degree: int = 12,
    noise: float = 0.7,
    epochs: int = 20000,
    learning_rate: float | str = "auto",
    patience: int = 100,
    seed: int = 0,
) -> Figure:
    """The lesson's warning about too many epochs, seen.

    A few noisy points around the lesson's line ``y = 3x + 2`` are fitted with
    polynomial features ``x, x², ..., x^degree`` (more parameters than points)
    by full-batch gradient descent, with a validation set from the same line.
    The training loss keeps falling; the validation loss falls, then turns up
    as the polynomial starts to follow the noise. Early stopping (``fit`` with
    ``validation_data`` and ``early_stopping=True``) keeps the best epoch.

    Parameters
    ----------
    n_train, n_val : training and validation points.
    degree : highest power of x.
    noise : standard deviation of the Gaussian noise on y.
    epochs : epochs of the run drawn to the end.
    learning_rate : for :func:`fastsgd.fit` (``"auto"``: the stable step for these features).
    patience : early stopping's ``n_iter_no_change``.
    seed : seed of the data (the validation set uses ``seed + 1000``).

    Returns
    -------
    matplotlib.figure.Figure
        Two Axes: the data with the curve at the early-stopping epoch and at the
        end; and the training and validation loss over epochs (log scales) with
        the early-stopping epoch marked.

    Examples
    --------
    >>> from fastsgd.plotting import plot_overfitting
    >>> fig = plot_overfitting(epochs=2000)
    >>> len(fig.axes)
    2
    """
    _need_matplotlib()
    from fastsgd.datasets import make_line

    fig = _figure(9.6, 3.8)
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    n_train = check_int(n_train, "n_train", minimum=2)
    n_val = check_int(n_val, "n_val", minimum=1)
    degree = check_int(degree, "degree", minimum=1)
    epochs = check_int(epochs, "epochs", minimum=1)
    patience = check_int(patience, "patience", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    Xt, yt = make_line(n=n_train, noise="normal", scale=noise, seed=seed)
    Xv, yv = make_line(n=n_val, noise="normal", scale=noise, seed=seed + 1000)
    F, Fv = _poly_features(Xt[:, 0], degree), _poly_features(Xv[:, 0], degree)
    common: dict[str, Any] = {
        "learning_rate": learning_rate, "epochs": epochs, "validation_data": (Fv, yv),
        "loss_record": "exact",
    }  # fmt: skip
    full = fit(F, yt, **common)
    stopped = fit(F, yt, early_stopping=True, n_iter_no_change=patience, **common)
    best = stopped.best_epoch
    assert best is not None
    assert full.val_loss_history is not None

    ax_data, ax_loss = fig.subplots(1, 2, width_ratios=[1, 1.25])
    for ax in (ax_data, ax_loss):
        _style(ax)
    grid = np.linspace(-1.0, 1.0, 400)
    G = _poly_features(grid, degree)
    ax_data.plot(
        grid, 3 * grid + 2, color="0.6", linestyle="--", linewidth=1, label="the line 3x + 2"
    )
    ax_data.scatter(Xv[:, 0], yv, s=6, color="0.75", linewidths=0, label="validation points")
    ax_data.scatter(Xt[:, 0], yt, s=28, color=DATA_COLOR, edgecolors="black", linewidths=0.5,
                    zorder=3, label=f"{n_train} training points")  # fmt: skip
    ax_data.plot(grid, G @ stopped.w, color=LINE_COLOR, linewidth=2,
                 label=f"early stopping (epoch {best})")  # fmt: skip
    ax_data.plot(grid, G @ full.w, color=NOTE_COLOR, linewidth=1.6,
                 label=f"after {full.n_epochs} epochs")  # fmt: skip
    lo, hi = float(min(yt.min(), yv.min())), float(max(yt.max(), yv.max()))
    ax_data.set_ylim(lo - 0.25 * (hi - lo), hi + 0.35 * (hi - lo))
    ax_data.set_xlabel("x")
    ax_data.set_ylabel("y")
    ax_data.set_title(f"degree-{degree} polynomial, {n_train} noisy points", fontsize=10)
    ax_data.legend(fontsize=7, loc="upper left", frameon=False)

    epochs_axis = np.arange(1, len(full.loss_history))
    ax_loss.plot(epochs_axis, full.loss_history[1:], color=LINE_COLOR, linewidth=1.8,
                 label="training loss")  # fmt: skip
    ax_loss.plot(epochs_axis, full.val_loss_history[1:], color=NOTE_COLOR, linewidth=1.8,
                 label="validation loss")  # fmt: skip
    ax_loss.axvline(best, color="0.3", linestyle=":", linewidth=1.2,
                    label=f"early stopping: epoch {best}")  # fmt: skip
    ax_loss.plot(best, full.val_loss_history[best], marker="o", color=NOTE_COLOR, markersize=6,
                 linestyle="none")  # fmt: skip
    ax_loss.set_xscale("log")
    ax_loss.set_yscale("log")
    ax_loss.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    ax_loss.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax_loss.yaxis.set_minor_formatter(NullFormatter())
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("mean squared error")
    ax_loss.set_title("too many epochs: the validation loss turns up", fontsize=10)
    ax_loss.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def plot_lesson(X: Any, y: Any, a: Any, *, title: str | None = None) -> Figure:
    """The lesson's picture: the data as an orange scatter and the line ``X @ a`` over it.

    Parameters
    ----------
    X : array_like (n, d) — ``[x, 1]``; the horizontal axis is the first column.
    y : array_like (n,)
    a : the parameters, (d,).
    title : the title (default: ``a`` and the loss).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from fastsgd.datasets import make_line
    >>> from fastsgd.plotting import plot_lesson
    >>> fig = plot_lesson(*make_line(), a=(3.0, 2.5))
    >>> fig.axes[0].get_title()
    'a = (3, 2.5), loss 0.0906'
    """
    _need_matplotlib()
    Xr, y64 = _lesson_data(X, y)
    a_arr = np.asarray(as_array(a, "a"), dtype=np.float64)
    if a_arr.shape != (Xr.shape[1],):
        raise ValueError(f"a must have shape ({Xr.shape[1]},), got {shape_str(a_arr.shape)}")
    check_finite(a_arr, "a")
    loss = mse(Xr, y64, a_arr)
    if title is None:
        title = f"a = ({', '.join(f'{v:.3g}' for v in a_arr)}), loss {loss:.3g}"
    fig = _figure(4.2, 3.3)
    ax = fig.add_subplot()
    _style(ax)
    Xs = _sorted_rows(Xr)
    ax.scatter(Xr[:, 0], y64, s=14, color=DATA_COLOR, linewidths=0, label="data", zorder=2)
    ax.plot(Xs[:, 0], Xs @ a_arr, color=LINE_COLOR, linewidth=2.2, label="X @ a", zorder=3)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return fig


def save_lesson_pictures(
    X: Any, y: Any, a0: Any, a_fitted: Any, prefix: str | Path
) -> tuple[Path, Path]:
    """Write the lesson's before and after pictures: ``PREFIX-before.png`` and ``PREFIX-after.png``.

    Both show the data as an orange scatter and the line ``X @ a``: for the
    starting guess ``a0`` and for the fitted ``a_fitted``, on the same axes limits.

    Returns
    -------
    (before, after) : the two paths written.

    Examples
    --------
    >>> import tempfile, pathlib, fastsgd
    >>> from fastsgd.datasets import make_line
    >>> from fastsgd.plotting import save_lesson_pictures
    >>> X, y = make_line()
    >>> r = fastsgd.fit(X, y, w0=(-1.0, 1.0), epochs=100)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     before, after = save_lesson_pictures(X, y, (-1, 1), r.w, pathlib.Path(tmp) / "lesson")
    ...     before.name, after.name, after.exists()
    ('lesson-before.png', 'lesson-after.png', True)
    """
    _need_matplotlib()
    figs = []
    for a, when in ((a0, "before"), (a_fitted, "after")):
        fig = plot_lesson(X, y, a)
        ax = fig.axes[0]
        ax.set_title(f"{when} training: {ax.get_title()}", fontsize=10)
        figs.append(fig)
    # the same limits on both, so the line visibly moves
    lims = [f.axes[0].get_ylim() for f in figs]
    ylim = (min(lo for lo, _ in lims), max(hi for _, hi in lims))
    paths = (Path(f"{prefix}-before.png"), Path(f"{prefix}-after.png"))
    for fig, path in zip(figs, paths, strict=True):
        fig.axes[0].set_ylim(*ylim)
        fig.savefig(path)
    return paths
