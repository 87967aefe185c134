"""fastsgd.plotting and the `fastsgd animate` / `overfit` commands, headless.

Pictures are not compared pixel by pixel: their content is checked through the
matplotlib objects that drew them (Line2D data against fit's record_path), and
saved files through Pillow (frame count, pixel size).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastsgd
from fastsgd.cli import main
from fastsgd.datasets import make_line

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAS_MPL, reason="needs matplotlib (the plot extra)")

if HAS_MPL:
    from fastsgd import plotting

EXTRA = "pip install 'fastsgd[plot]'"
A0 = np.array([-1.0, 1.0])
# On the lesson's line the largest stable learning rate is about 1.0: 1.1 diverges after
# 19 steps, 3.0 after 3 (few frames, so the tests stay fast).
FAST_DIVERGING = 3.0


@pytest.fixture(scope="module")
def line() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    return make_line(n=40, seed=3)


def fig_of(anim: Any) -> Any:
    """The Figure a FuncAnimation draws on (matplotlib keeps it as ``_fig``)."""
    return anim._fig


def sorted_rows(X: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return X[np.argsort(X[:, 0], kind="stable")]


# --- without matplotlib -----------------------------------------------------------------------


def test_without_matplotlib_import_works_and_calls_name_the_extra(tmp_path: Path) -> None:
    # sys.modules[name] = None makes every `import matplotlib...` raise ImportError
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["matplotlib"] = None
        import fastsgd, fastsgd.plotting as P
        from fastsgd.cli import main
        from fastsgd.datasets import make_line

        X, y = make_line(n=10)
        calls = {{
            "animate_fit": lambda: P.animate_fit(X, y, epochs=2),
            "save_animation": lambda: P.save_animation(object(), "a.gif"),
            "plot_loss_curves": lambda: P.plot_loss_curves([[2.0, 1.0]]),
            "plot_loss_surface": lambda: P.plot_loss_surface(X, y, [[[0.0, 0.0], [1.0, 1.0]]]),
            "plot_overfitting": lambda: P.plot_overfitting(epochs=5),
            "plot_lesson": lambda: P.plot_lesson(X, y, (1.0, 1.0)),
            "save_lesson_pictures": lambda: P.save_lesson_pictures(
                X, y, (1.0, 1.0), (2.0, 2.0), {str(tmp_path / "lesson")!r}),
        }}
        for name, call in calls.items():
            try:
                call()
            except ImportError as exc:
                assert "pip install 'fastsgd[plot]'" in str(exc), (name, str(exc))
            else:
                raise AssertionError(name + " did not raise ImportError")
        assert main(["overfit", "--out", {str(tmp_path / "o.png")!r}, "--epochs", "5"]) == 2
        print("fits:", fastsgd.fit(X, y, epochs=1).n_epochs)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "fits: 1" in proc.stdout
    assert EXTRA in proc.stderr  # the command's message names the extra
    assert not (tmp_path / "o.png").exists()
    assert not list(tmp_path.glob("lesson*"))


def test_importing_plotting_does_not_import_matplotlib() -> None:
    code = "import sys, fastsgd.plotting; print('matplotlib' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


# --- fit_paths ---------------------------------------------------------------------------------


@needs_mpl
def test_fit_paths_are_fits_record_path(line: Any) -> None:
    X, y = line
    runs = plotting.fit_paths(X, y, [0.05, 0.5], epochs=12)
    for run, lr in zip(runs, [0.05, 0.5], strict=True):
        r = fastsgd.fit(
            X, y, w0=A0, learning_rate=lr, epochs=12, record_path=True, loss_record="exact"
        )
        assert run.learning_rate == lr
        assert not run.diverged
        np.testing.assert_array_equal(run.path, r.path_w)
        np.testing.assert_array_equal(run.loss_history, r.loss_history)
        assert run.path.shape == (13, 2)


@needs_mpl
def test_fit_paths_mini_batches_one_row_per_epoch(line: Any) -> None:
    X, y = line
    (run,) = plotting.fit_paths(X, y, 0.1, epochs=3, batch_size=8, seed=5)
    r = fastsgd.fit(X, y, w0=A0, learning_rate=0.1, epochs=3, batch_size=8, seed=5,
                    record_path=True)  # fmt: skip
    assert r.n_steps == 15  # 5 batches of 8 rows per epoch
    np.testing.assert_array_equal(run.path, r.path_w)


@needs_mpl
@pytest.mark.parametrize("lr", [1.1, FAST_DIVERGING, 50.0], ids=["lr1.1", "lr3", "lr50"])
def test_diverging_learning_rates_are_kept_not_raised(line: Any, lr: float) -> None:
    X, y = line
    with pytest.raises(fastsgd.DivergenceError) as info:
        fastsgd.fit(X, y, w0=A0, learning_rate=lr, epochs=200, loss_record="exact")
    (run,) = plotting.fit_paths(X, y, [lr], epochs=200)
    assert run.diverged
    assert run.diverged_at == info.value.epoch
    assert run.result is None
    # the steps before the divergence are fit's own path
    before = fastsgd.fit(X, y, w0=A0, learning_rate=lr, epochs=run.diverged_at - 1,
                         record_path=True, loss_record="exact")  # fmt: skip
    np.testing.assert_array_equal(run.path, before.path_w)
    np.testing.assert_allclose(run.loss_history, before.loss_history, rtol=1e-12)


@needs_mpl
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"learning_rates": []}, "learning_rates is empty"),
        ({"learning_rates": [0.1, -1.0]}, "learning_rates must hold numbers > 0"),
        ({"learning_rates": [0.1], "w0": (1.0, 2.0, 3.0)}, "w0 must have shape"),
        ({"learning_rates": [0.1], "record_path": False}, "record_path"),
        ({"learning_rates": [0.1], "fit_intercept": True}, "fit_intercept"),
        ({"learning_rates": [0.1], "epochs": -1}, "epochs"),
    ],
    ids=["empty", "negative", "w0-shape", "record_path", "fit_intercept", "epochs"],
)
def test_fit_paths_bad_input(line: Any, kwargs: dict[str, Any], match: str) -> None:
    X, y = line
    with pytest.raises(ValueError, match=match):
        plotting.fit_paths(X, y, **kwargs)


@needs_mpl
def test_fit_paths_bad_types(line: Any) -> None:
    X, y = line
    with pytest.raises(TypeError, match="learning_rates"):
        plotting.fit_paths(X, y, ["fast"])
    with pytest.raises(ValueError, match="y must have shape"):
        plotting.fit_paths(X, y[:-1], [0.1])


# --- the animation -----------------------------------------------------------------------------


@needs_mpl
def test_gif_has_one_frame_per_step_and_the_documented_size(line: Any, tmp_path: Path) -> None:
    from PIL import Image

    X, y = line
    epochs, panel, dpi = 7, 2.0, 40
    anim = plotting.animate_fit(
        X, y, learning_rates=[0.3, FAST_DIVERGING], epochs=epochs, panel_size=panel, dpi=dpi
    )
    path = plotting.save_animation(anim, tmp_path / "sgd.gif")
    assert path == tmp_path / "sgd.gif"
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames == epochs + 1
        assert im.size == (round(panel * 2 * dpi), round((panel + 0.35) * dpi))

    # after saving, the figure shows the last frame: the fit's last line, the divergence note
    fig = fig_of(anim)
    ax_ok, ax_div = fig.axes
    r = fastsgd.fit(X, y, w0=A0, learning_rate=0.3, epochs=epochs, loss_record="exact")
    (line_ok,) = ax_ok.get_lines()
    np.testing.assert_allclose(line_ok.get_ydata(), sorted_rows(X) @ r.w, rtol=1e-12)
    assert ax_ok.get_title().startswith("lr = 0.3\nloss ")
    assert f"{r.loss:.4g}" in ax_ok.get_title()
    (run,) = plotting.fit_paths(X, y, [FAST_DIVERGING], epochs=epochs)
    notes = [t for t in ax_div.texts if t.get_visible()]
    assert len(notes) == 1
    assert f"diverged at step {run.diverged_at}" in notes[0].get_text()
    assert not ax_div.get_lines()[0].get_visible()
    assert fig.texts[0].get_text() == f"gradient descent, step {epochs} of {epochs}"


@needs_mpl
def test_html_contains_every_frame(line: Any, tmp_path: Path) -> None:
    X, y = line
    epochs = 4
    anim = plotting.animate_fit(X, y, learning_rates=[0.1], epochs=epochs, panel_size=1.5, dpi=40)
    page = plotting.save_animation(anim, tmp_path / "sgd.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('"data:image/png;base64,') == epochs + 1
    for i in range(epochs + 1):
        assert f"frames[{i}] = " in page
    assert f"frames[{epochs + 1}] = " not in page


@needs_mpl
@pytest.mark.parametrize("suffix", [".gif", ".html"])
def test_save_animation_reports_progress(line: Any, tmp_path: Path, suffix: str) -> None:
    X, y = line
    epochs = 3
    anim = plotting.animate_fit(X, y, learning_rates=[0.1], epochs=epochs, panel_size=1.5, dpi=20)
    calls: list[tuple[int, int]] = []
    plotting.save_animation(
        anim, tmp_path / f"sgd{suffix}", progress=lambda i, n: calls.append((i, n))
    )
    n = epochs + 1
    assert calls == [*((i, n) for i in range(n)), (n, n)]  # each frame, then the file written


@needs_mpl
def test_saved_frames_are_those_of_a_full_draw(
    line: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save_animation draws what no frame changes once (its fast path): every frame has the
    pixels of matplotlib's own full redraw, and the figure draws whole afterwards."""
    from PIL import Image, ImageSequence

    X, y = line
    kw = {"learning_rates": [0.1, FAST_DIVERGING], "epochs": 6, "panel_size": 2.0, "dpi": 40}
    taken = []
    static_background = plotting._static_background

    def spy(*args: Any) -> Any:
        taken.append(True)
        return static_background(*args)

    monkeypatch.setattr(plotting, "_static_background", spy)
    fast = plotting.animate_fit(X, y, **kw)
    plotting.save_animation(fast, tmp_path / "fast.gif")
    assert taken == [True]
    full = plotting.animate_fit(X, y, **kw)
    full.save(tmp_path / "full.gif", writer="pillow")  # every frame drawn whole

    def frames(path: Path) -> list[np.ndarray[Any, Any]]:
        with Image.open(path) as im:
            return [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]

    ours, theirs = frames(tmp_path / "fast.gif"), frames(tmp_path / "full.gif")
    assert len(ours) == len(theirs) == 7
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"frame {i}")
    fig_of(fast).savefig(tmp_path / "after.png")
    fig_of(full).savefig(tmp_path / "after_full.png")
    with Image.open(tmp_path / "after.png") as a, Image.open(tmp_path / "after_full.png") as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@needs_mpl
def test_animation_of_mini_batches_counts_epochs(line: Any, tmp_path: Path) -> None:
    from PIL import Image

    X, y = line
    anim = plotting.animate_fit(X, y, learning_rates=0.1, epochs=2, batch_size=10, dpi=30)
    path = plotting.save_animation(anim, tmp_path / "sgd.GIF", fps=5)
    with Image.open(path) as im:
        assert im.n_frames == 3
        assert im.info["duration"] == 200  # fps=5
    assert fig_of(anim).texts[0].get_text() == "SGD, batch size 10, epoch 2 of 2"


@needs_mpl
def test_save_animation_and_animate_fit_bad_input(line: Any, tmp_path: Path) -> None:
    X, y = line
    with pytest.raises(ValueError, match=r"\.gif, \.html"):
        plotting.save_animation(object(), tmp_path / "sgd.mp4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="panel_size"):
        plotting.animate_fit(X, y, epochs=1, panel_size=0)
    with pytest.raises(ValueError, match="interval"):
        plotting.animate_fit(X, y, epochs=1, interval=0)


# --- loss curves and surface -------------------------------------------------------------------


@needs_mpl
def test_loss_curves_draw_each_history_on_a_log_scale(line: Any) -> None:
    X, y = line
    runs = plotting.fit_paths(X, y, [0.01, 0.5, FAST_DIVERGING], epochs=15)
    fig = plotting.plot_loss_curves(runs)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "step"
    by_label = {ln.get_label(): ln for ln in ax.get_lines()}
    for run in runs:
        label = f"lr = {run.learning_rate:g}" + (" (diverged)" if run.diverged else "")
        np.testing.assert_array_equal(by_label[label].get_ydata(), run.loss_history)
    assert runs[2].diverged
    assert not runs[0].diverged
    # plain histories and labels work too
    fig2 = plotting.plot_loss_curves([runs[0].loss_history], labels=["mine"])
    assert fig2.axes[0].get_lines()[0].get_label() == "mine"
    with pytest.raises(ValueError, match="labels has 1 entries for 2 runs"):
        plotting.plot_loss_curves(runs[:2], labels=["one"])


@needs_mpl
def test_surface_paths_are_fits_record_path(line: Any) -> None:
    X, y = line
    results = [
        fastsgd.fit(X, y, w0=A0, learning_rate=lr, epochs=25, record_path=True)
        for lr in (0.05, 0.9)
    ]
    fig = plotting.plot_loss_surface(X, y, results)
    ax = fig.axes[0]
    by_label = {ln.get_label(): ln for ln in ax.get_lines()}
    for r in results:
        drawn = by_label[f"lr = {r.learning_rate:g}"].get_xydata()
        np.testing.assert_array_equal(drawn, r.path_w)
    np.testing.assert_array_equal(by_label["start"].get_xydata(), [A0])
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(by_label["optimum"].get_xydata()[0], best, rtol=1e-12)
    # the default view holds the start and the optimum
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for a1, a2 in (A0, best):
        assert x0 < a1 < x1
        assert y0 < a2 < y1


@needs_mpl
def test_surface_with_a_diverging_run_and_arrays(line: Any) -> None:
    X, y = line
    runs = plotting.fit_paths(X, y, [0.1, FAST_DIVERGING], epochs=10)
    own = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 1.5]])
    fig = plotting.plot_loss_surface(X, y, [*runs, own], extent=(-2.0, 5.0, -1.0, 4.0))
    ax = fig.axes[0]
    by_label = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_array_equal(by_label["lr = 3 (diverged)"].get_xydata(), runs[1].path)
    np.testing.assert_array_equal(by_label["path 3"].get_xydata(), own)
    assert ax.get_xlim() == (-2.0, 5.0)
    assert ax.get_ylim() == (-1.0, 4.0)


@needs_mpl
def test_surface_values_are_the_mse(line: Any) -> None:
    X, y = line
    rng = np.random.default_rng(0)
    pts = rng.uniform(-5, 5, size=(20, 2))
    grid = plotting._mse_grid(X, y, pts[:, 0], pts[:, 1])
    expected = [fastsgd.mse(X, y, p) for p in pts]
    np.testing.assert_allclose(grid, expected, rtol=1e-10)


@needs_mpl
def test_surface_bad_input(line: Any) -> None:
    X, y = line
    r = fastsgd.fit(X, y, w0=A0, epochs=2)
    with pytest.raises(ValueError, match="record_path=True"):
        plotting.plot_loss_surface(X, y, [r])
    with pytest.raises(ValueError, match="2 columns"):
        plotting.plot_loss_surface(np.ones((5, 3)), np.ones(5), [np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"paths\[0\] must have shape \(m, 2\)"):
        plotting.plot_loss_surface(X, y, [np.zeros((2, 3))])
    with pytest.raises(ValueError, match="extent"):
        plotting.plot_loss_surface(X, y, [np.zeros((2, 2))], extent=(1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="paths is empty"):
        plotting.plot_loss_surface(X, y, [])


# --- overfitting and the lesson's pictures -----------------------------------------------------


@needs_mpl
def test_overfitting_validation_turns_up_and_early_stopping_is_marked() -> None:
    fig = plotting.plot_overfitting(epochs=3000, patience=50)
    ax_data, ax_loss = fig.axes
    by_label = {ln.get_label(): ln for ln in ax_loss.get_lines()}
    train, val = by_label["training loss"], by_label["validation loss"]
    (mark,) = [ln for ln in ax_loss.get_lines() if ln.get_label().startswith("early stopping")]
    epochs, v = np.asarray(val.get_xdata()), np.asarray(val.get_ydata())
    assert len(epochs) == 3000
    best = int(epochs[np.argmin(v)])
    assert mark.get_label() == f"early stopping: epoch {best}"
    np.testing.assert_array_equal(mark.get_xdata(), [best, best])
    assert 1 < best < 3000
    assert v[-1] > 1.2 * v.min()  # the validation loss turns up...
    t = np.asarray(train.get_ydata())
    assert t[-1] < t[best - 1]  # ...while the training loss keeps falling
    assert ax_loss.get_xscale() == "log"
    labels = [ln.get_label() for ln in ax_data.get_lines()]
    assert f"early stopping (epoch {best})" in labels
    assert "after 3000 epochs" in labels


@needs_mpl
def test_lesson_picture_draws_the_line(line: Any) -> None:
    X, y = line
    fig = plotting.plot_lesson(X, y, (3.0, 2.0))
    ax = fig.axes[0]
    (drawn,) = ax.get_lines()
    Xs = sorted_rows(X)
    np.testing.assert_allclose(drawn.get_xydata(), np.column_stack([Xs[:, 0], Xs @ [3.0, 2.0]]))
    scatter = ax.collections[0]
    np.testing.assert_array_equal(scatter.get_offsets(), np.column_stack([X[:, 0], y]))
    assert f"{fastsgd.mse(X, y, [3.0, 2.0]):.3g}" in ax.get_title()


@needs_mpl
def test_save_lesson_pictures(line: Any, tmp_path: Path) -> None:
    from PIL import Image

    X, y = line
    r = fastsgd.fit(X, y, w0=A0, epochs=50)
    before, after = plotting.save_lesson_pictures(X, y, A0, r.w, tmp_path / "lesson")
    assert (before, after) == (tmp_path / "lesson-before.png", tmp_path / "lesson-after.png")
    for p in (before, after):
        with Image.open(p) as im:
            assert im.format == "PNG"
            assert im.size == (420, 330)


# --- the commands ------------------------------------------------------------------------------


@needs_mpl
def test_cli_animate_writes_gif_surface_and_curves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    gif, surface, curves = tmp_path / "a.gif", tmp_path / "s.png", tmp_path / "c.png"
    code = main([
        "animate", "--lr", "0.1", "--lr", str(FAST_DIVERGING), "--steps", "4", "--n", "30",
        "--dpi", "30", "--out", str(gif), "--surface", str(surface), "--curves", str(curves),
    ])  # fmt: skip
    assert code == 0
    with Image.open(gif) as im:
        assert im.n_frames == 5
    for p in (surface, curves):
        with Image.open(p) as im:
            assert im.format == "PNG"
    out = capsys.readouterr().out
    assert all(f"wrote {p}" in out for p in (gif, surface, curves))


@needs_mpl
def test_cli_animate_html_and_bad_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "a.html"
    assert main(["animate", "--lr", "0.5", "--steps", "2", "--dpi", "30", "--out", str(page)]) == 0
    assert page.read_text(encoding="utf-8").count("data:image/png;base64,") == 3
    with pytest.raises(SystemExit) as exit_info:  # refused by argparse, before any work
        main(["animate", "--out", str(tmp_path / "a.mp4")])
    assert exit_info.value.code == 2
    assert "argument --out: must end in .gif, .html or .htm" in capsys.readouterr().err
    assert not (tmp_path / "a.mp4").exists()


@needs_mpl
def test_cli_overfit_and_demo_plot(tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "overfit.png"
    assert main(["overfit", "--out", str(out), "--epochs", "300"]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG"
    prefix = tmp_path / "lesson"
    assert main(["demo", "--steps", "5", "--plot", str(prefix)]) == 0
    assert (tmp_path / "lesson-before.png").is_file()
    assert (tmp_path / "lesson-after.png").is_file()
