"""PNG plots of the benchmark results, drawn from the JSON files in benchmarks/results/.

Reads whatever is there (kernels, sgd, classify, scaling, dask) and writes, beside them:

- ``scaling_time_vs_n.png`` (scaling.json): time per call against n, log-log, fastsgd vs
  NumPy vs the streaming read for mse_grad at d = 2 and 100, and fastsgd.fit vs the NumPy
  loop for one epoch, per thread count;
- ``scaling_throughput_vs_n.png`` (scaling.json): the same kernels as GB/s of X against n;
- ``kernels_throughput.png`` (kernels.json): GB/s of fastsgd and NumPy per shape and thread
  count, next to the streaming read of the same run (the bandwidth limit);
- ``speedups.png`` (kernels.json, sgd.json, classify.json): fastsgd's speedup over NumPy,
  scikit-learn and PyTorch on a log scale, with the issues' targets;
- ``dask.png`` (dask.json): seconds per epoch and the workers' peak memory;
- ``plots.md``: the list of the PNGs written, one sentence each.

Every figure names the machine (CPU, cores), the thread counts, the date of the run and what
each ratio is relative to. For each benchmark the full run's JSON is used, or its ``--quick``
run's when there is no full one (flagged in red on the figure as a smoke test). With
``--quick`` only the quick runs are read and the files are named ``*-quick.png`` and
``plots-quick.md``, so the full plots are never overwritten.

    python benchmarks/plot_results.py             # after the benchmarks
    python benchmarks/plot_results.py --no-write  # draw, but write nothing
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCHMARKS = ("kernels", "sgd", "classify", "scaling", "dask")
DPI = 110

# The issues' targets: fastsgd / NumPy for mse_grad per d (issue 2); fastsgd's speedup at
# batch 64 over each baseline (issue 3); scikit-learn's SGDClassifier time / fastsgd's on
# digits (issue 4).
KERNEL_TARGETS = {2: 5.0, 100: 2.5, 1000: 1.6}
KERNEL_STREAM_TARGET = (100, 0.85)  # d, share of the read with the same threads
SGD_TARGETS = {"numpy": 12.0, "sklearn": 8.0, "torch": 150.0}
SGD_TARGET_BATCH = 64
CLASSIFY_TARGETS = {("digits", "sk_sgd"): 1.0}

COLORS = {
    "fastsgd": "#1f77b4",
    "numpy": "#ff7f0e",
    "stream": "#555555",
    "sklearn": "#2ca02c",
    "sk_lbfgs": "#8c564b",
    "torch": "#9467bd",
    "target": "#000000",
    "missed": "#c00000",
}
NAMES = {
    "numpy": "NumPy",
    "sklearn": "scikit-learn SGDRegressor / SGDClassifier",
    "torch": "PyTorch loop",
    "sk_lbfgs": "scikit-learn LogisticRegression",
}


@dataclass(frozen=True)
class Result:
    name: str
    data: dict[str, Any]
    path: Path
    quick: bool

    @property
    def machine(self) -> dict[str, Any]:
        return dict(self.data["machine"])


def load_results(results_dir: Path, quick: bool) -> dict[str, Result]:
    """name -> the results to plot: the full run's, else (or with ``quick``, only) the quick
    run's."""
    out = {}
    for name in BENCHMARKS:
        candidates = [f"{name}-quick.json"] if quick else [f"{name}.json", f"{name}-quick.json"]
        for file in candidates:
            path = results_dir / file
            if path.is_file():
                data = json.loads(path.read_text())
                is_quick = (
                    file.endswith("-quick.json")
                    or bool(data["machine"].get("quick"))
                    or bool((data.get("args") or {}).get("quick"))
                )
                out[name] = Result(name, data, path, is_quick)
                break
    return out


# --- text -----------------------------------------------------------------------------------


def machine_text(m: dict[str, Any]) -> str:
    """CPU, cores, the ISA fastsgd ran, the date and how busy the machine was."""
    cores = m.get("physical_cores") or "?"
    text = (
        f"{m['cpu']}, {cores} cores / {m['logical_cpus']} logical CPUs, fastsgd ISA "
        f"{m['fastsgd_isa']}, NumPy {m['numpy']}; run {m['date']}"
    )
    busy = (m.get("during_run") or {}).get("other_processes_cores")
    if busy is not None:
        text += f"; other processes kept {busy} cores busy"
    return text


def machines_text(results: Sequence[Result]) -> str:
    """One machine line per distinct CPU (normally one), with the runs' dates."""
    by_cpu: dict[tuple[Any, ...], list[Result]] = {}
    for r in results:
        m = r.machine
        key = (m["cpu"], m.get("physical_cores"), m["logical_cpus"], m["fastsgd_isa"])
        by_cpu.setdefault(key, []).append(r)
    lines = []
    for (cpu, cores, logical, isa), rs in by_cpu.items():
        dates = ", ".join(f"{r.name} {r.machine['date']}" for r in rs)
        lines.append(
            f"{cpu}, {cores or '?'} cores / {logical} logical CPUs, fastsgd ISA {isa}; "
            f"runs: {dates}"
        )
    return "\n".join(lines)


def fmt_time(seconds: float, _pos: object = None) -> str:
    for unit, scale in (("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3)):
        if seconds < 999.5 * scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


def fmt_n(n: int) -> str:
    """10_000_000 -> '10M', 100_000 -> '100k'."""
    for suffix, scale in (("M", 1_000_000), ("k", 1_000)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{suffix}"
    return f"{n:_}"


def threads_text(ts: Sequence[int]) -> str:
    ts = sorted(set(ts))
    return " and ".join(str(t) for t in ts) + (" thread" if ts == [1] else " threads")


def cache_bytes(caches: str) -> dict[str, int]:
    """'L1d 32K, L1i 32K, L2 1024K, L3 32768K' -> {'L2': 1048576, 'L3': 33554432}."""
    out = {}
    for level, size, unit in re.findall(r"\b(L[23])\s+(\d+)([KMG])", caches or ""):
        out[level] = int(size) * {"K": 2**10, "M": 2**20, "G": 2**30}[unit]
    return out


def new_figure(width: float, height: float, title: str, caption: str, quick: bool) -> Figure:
    """A figure with a title (what, machine) on top and a caption (how to read it) below."""
    # about 4.4 points per character at 8 points (DejaVu Sans)
    wrapped = textwrap.fill(" ".join(caption.split()), width=int(width * 72 / 4.4))
    n_lines = wrapped.count("\n") + 1
    bottom = min(0.45, (0.15 + 0.135 * n_lines) / height)  # the caption's share of the height
    layout = ConstrainedLayoutEngine(rect=(0.0, bottom, 1.0, 1.0 - bottom))
    fig = Figure(figsize=(width, height), layout=layout)
    if quick:
        title += "\nQUICK RUN (--quick): small sizes, a smoke test, not a measurement"
    fig.suptitle(title, fontsize=10.5, color=COLORS["missed"] if quick else "black")
    fig.text(0.01, 0.01, wrapped, fontsize=8, va="bottom", ha="left", color="#333333")
    return fig


def time_axis(ax: Axes) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_major_formatter(FuncFormatter(fmt_time))
    ax.yaxis.set_minor_formatter(NullFormatter())


def mark_caches(ax: Axes, caches: dict[str, int], bytes_per_row: float) -> None:
    """Dotted vertical lines where X fills the L2 and the L3 cache."""
    lo, hi = ax.get_xlim()
    for level, size in caches.items():
        n = size / bytes_per_row
        if lo < n < hi:
            ax.axvline(n, color="#999999", linestyle=":", linewidth=1)
            ax.text(
                n, 0.98, f"X = {level} ", transform=ax.get_xaxis_transform(), rotation=90,
                fontsize=7, color="#777777", va="top", ha="right",
            )  # fmt: skip


# --- scaling.json ---------------------------------------------------------------------------


def _seconds(row: dict[str, Any], key: str) -> float:
    return float(row[key]["median_s"])


def plot_scaling_time(res: Result) -> Figure:
    data, m = res.data, res.machine
    threads = sorted({r["threads"] for r in data["kernel_rows"] + data["fit_rows"]})
    ds = sorted({r["d"] for r in data["kernel_rows"]})
    panels: list[tuple[str, int | None]] = [("kernel", d) for d in ds]
    if data["fit_rows"]:
        panels.append(("fit", None))
    caches = cache_bytes(m.get("caches", ""))
    caption = (
        "Median time per call (log-log) of each contender, timed side by side in one run. Each "
        "timed sample repeats the call until it lasts >= 2 ms on the same X, so small X stay in "
        "the caches (dotted: n where X fills L2 / L3). NumPy = fastsgd.reference.mse_grad "
        "(X @ w, then X.T @ r) with threadpoolctl limiting its BLAS to the same threads; "
        "stream = fastsgd._core.stream_read(X), a plain read of X. fit: one epoch of "
        f"fastsgd.fit vs fastsgd.reference.fit (same trainer, loop in Python + NumPy), batch "
        f"{data['batch_size']}, lr {data['learning_rate']}, make_line(n, float32); includes the "
        "full-data loss before and after the epoch."
    )
    fig = new_figure(
        5.0 * len(threads) + 0.6,
        3.3 * len(panels) + 1.6,
        f"Time per call vs n: fastsgd vs NumPy ({threads_text(threads)})\n{machine_text(m)}",
        caption,
        res.quick,
    )
    axes = fig.subplots(len(panels), len(threads), squeeze=False, sharex="row", sharey="row")
    for i, (kind, d) in enumerate(panels):
        for j, t in enumerate(threads):
            ax = axes[i][j]
            if kind == "kernel":
                rows = [r for r in data["kernel_rows"] if r["d"] == d and r["threads"] == t]
                lines = [
                    ("fastsgd", "fastsgd.mse_grad (one pass)", "-"),
                    ("numpy", "NumPy reference.mse_grad", "-"),
                    ("stream", "streaming read of X", "--"),
                ]
                title = f"mse_grad, float32 X (n, {d}), {t} thread{'s' * (t > 1)}"
            else:
                rows = [r for r in data["fit_rows"] if r["threads"] == t]
                lines = [
                    ("fastsgd", "fastsgd.fit", "-"),
                    ("numpy", "NumPy loop (reference.fit)", "-"),
                ]
                title = (
                    f"one epoch of SGD, batch {data['batch_size']}, X (n, 2) float32, "
                    f"{t} thread{'s' * (t > 1)}"
                )
            rows.sort(key=lambda r: r["n"])
            if not rows:
                ax.set_visible(False)
                continue
            ns = [r["n"] for r in rows]
            for key, label, style in lines:
                ax.plot(
                    ns, [_seconds(r, key) for r in rows], style, marker="o", markersize=3,
                    color=COLORS[key], label=label,
                )  # fmt: skip
            ax.set_xscale("log")
            time_axis(ax)
            first, last = rows[0], rows[-1]
            ax.set_title(
                f"{title}\nNumPy time / fastsgd time: {fmt_ratio(first['speedup_vs_numpy'])} at "
                f"n = {fmt_n(first['n'])}, {fmt_ratio(last['speedup_vs_numpy'])} at n = "
                f"{fmt_n(last['n'])}",
                fontsize=9,
            )
            ax.grid(True, which="major", alpha=0.3)
            ax.set_xlabel("n (rows)", fontsize=8.5)
            if j == 0:
                ax.set_ylabel("time per call", fontsize=8.5)
            ax.legend(fontsize=7.5, loc="best")
            mark_caches(ax, caches, last["x_bytes"] / last["n"])
    return fig


def plot_scaling_throughput(res: Result) -> Figure | None:
    data, m = res.data, res.machine
    if not data["kernel_rows"]:
        return None
    threads = sorted({r["threads"] for r in data["kernel_rows"]})
    ds = sorted({r["d"] for r in data["kernel_rows"]})
    caches = cache_bytes(m.get("caches", ""))
    caption = (
        "GB/s = bytes of X / median time per call (y, 1/d of X's bytes, is read too but not "
        "counted). stream = fastsgd._core.stream_read(X) with the same threads: the bandwidth "
        "limit of a kernel that reads X once. NumPy = fastsgd.reference.mse_grad (two BLAS "
        "passes), BLAS limited to the same threads. Small X are read from the caches (dotted: "
        "n where X fills L2 / L3), so the limit there is above memory bandwidth. fastsgd's "
        "share of the streaming read = stream time / fastsgd time."
    )
    fig = new_figure(
        5.0 * len(threads) + 0.6,
        3.2 * len(ds) + 1.5,
        f"mse_grad throughput vs n against the streaming-read limit ({threads_text(threads)})"
        f"\n{machine_text(m)}",
        caption,
        res.quick,
    )
    axes = fig.subplots(len(ds), len(threads), squeeze=False, sharex="row", sharey="row")
    for i, d in enumerate(ds):
        for j, t in enumerate(threads):
            ax = axes[i][j]
            rows = sorted(
                (r for r in data["kernel_rows"] if r["d"] == d and r["threads"] == t),
                key=lambda r: r["n"],
            )
            if not rows:
                ax.set_visible(False)
                continue
            ns = [r["n"] for r in rows]
            for key, label, style in (
                ("fastsgd", "fastsgd.mse_grad", "-"),
                ("numpy", "NumPy reference.mse_grad", "-"),
                ("stream", "streaming read of X", "--"),
            ):
                ax.plot(
                    ns, [r[f"{key}_gbs"] for r in rows], style, marker="o", markersize=3,
                    color=COLORS[key], label=label,
                )  # fmt: skip
            ax.set_xscale("log")
            ax.set_ylim(bottom=0)
            ax.grid(True, which="major", alpha=0.3)
            last = rows[-1]
            ax.set_title(
                f"float32 X (n, {d}), {t} thread{'s' * (t > 1)}\nfastsgd at n = "
                f"{fmt_n(last['n'])}: {last['pct_of_stream']:.0f}% of the streaming read",
                fontsize=9,
            )
            ax.set_xlabel("n (rows)", fontsize=8.5)
            if j == 0:
                ax.set_ylabel("GB/s of X", fontsize=8.5)
            ax.legend(fontsize=7.5, loc="best")
            mark_caches(ax, caches, last["x_bytes"] / last["n"])
    return fig


# --- kernels.json ---------------------------------------------------------------------------


def _bar_labels(
    ax: Axes, xs: Sequence[float], values: Sequence[float], texts: Sequence[str]
) -> None:
    for x, v, s in zip(xs, values, texts, strict=True):
        ax.annotate(
            s, (x, v), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
            fontsize=7,
        )  # fmt: skip


def mse_rows(res: Result) -> list[dict[str, Any]]:
    """kernels.json's mse rows of float32 X (the rows the plots show)."""
    return [
        r
        for r in res.data["rows"]
        if r.get("loss", "mse") == "mse" and r.get("dtype", "float32") == "float32"
    ]


def plot_kernels_throughput(res: Result) -> Figure:
    m = res.machine
    rows = mse_rows(res)
    shapes = list(dict.fromkeys((r["n"], r["d"]) for r in rows))
    threads = sorted({r["threads"] for r in rows})
    caption = (
        "GB/s = bytes of X / median time of one call (y, 1/d of X's bytes, is read too but not "
        "counted). fastsgd = fastsgd.mse_grad(X, y, w), loss and gradient in one pass; NumPy = "
        "the plain r = X @ w - y; g = X.T @ r (no validation), its BLAS limited to the same "
        "threads by threadpoolctl. read = fastsgd._core.stream_read(X) with the same threads in "
        "the same rounds: the bandwidth limit of a one-pass kernel. Dotted: the target at "
        "d = 100, 85 % of that read. Above the fastsgd bars: GB/s and its share of the read."
    )
    fig = new_figure(
        4.3 * len(shapes) + 0.6,
        5.6,
        "mse_grad throughput against the read of X (GB/s of X, "
        f"{threads_text(threads)})\n{machine_text(m)}",
        caption,
        res.quick,
    )
    axes = fig.subplots(1, len(shapes), squeeze=False, sharey=True)[0]
    width = 0.26
    for ax, (n, d) in zip(axes, shapes, strict=True):
        mine = [r for r in rows if (r["n"], r["d"]) == (n, d)]
        mine.sort(key=lambda r: r["threads"])
        xs = list(range(len(mine)))
        for k, (key, label, field) in enumerate(
            (
                ("fastsgd", "fastsgd.mse_grad", "fastsgd_gbs"),
                ("numpy", "plain NumPy", "numpy_gbs"),
                ("stream", "read of X, same threads", "read_gbs"),
            )
        ):
            pos = [x + (k - 1) * width for x in xs]
            vals = [r[field] for r in mine]
            ax.bar(
                pos, vals, width, label=label, color=COLORS[key],
                alpha=0.35 if key == "stream" else 0.9,
                hatch="//" if key == "stream" else None, edgecolor=COLORS[key],
            )  # fmt: skip
            texts = [f"{v:.1f}" for v in vals]
            if key == "fastsgd":
                texts = [
                    f"{v:.1f}\n{r['pct_of_read']:.0f}%" for v, r in zip(vals, mine, strict=True)
                ]
            _bar_labels(ax, pos, vals, texts)
            if key == "stream" and d == KERNEL_STREAM_TARGET[0]:
                for x, v in zip(pos, vals, strict=True):
                    ax.hlines(
                        KERNEL_STREAM_TARGET[1] * v, x - 1.5 * width, x + 0.5 * width,
                        color=COLORS["target"], linestyle=":", linewidth=1.2,
                    )  # fmt: skip
        ax.set_xticks(xs, [f"{r['threads']} thread{'s' * (r['threads'] > 1)}" for r in mine])
        ax.set_xlim(-0.55, len(mine) - 0.45)
        goal = KERNEL_TARGETS.get(d)
        ax.set_title(
            f"X ({n:_}, {d}) float32, {mine[0]['x_bytes'] / 1e6:.0f} MB\n"
            "NumPy time / fastsgd time: "
            + ", ".join(f"{fmt_ratio(r['speedup_vs_numpy'])} ({r['threads']} thr)" for r in mine)
            + (f"; target {goal:g}x" if goal else ""),
            fontsize=9,
        )
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("GB/s of X")
    handles, _ = axes[0].get_legend_handles_labels()
    handles += [
        Line2D(
            [], [], color=COLORS["target"], linestyle=":",
            label=f"target at d = {KERNEL_STREAM_TARGET[0]}: {KERNEL_STREAM_TARGET[1]:.0%} of the read",
        ),
    ]  # fmt: skip
    axes[0].legend(handles=handles, fontsize=7.5, loc="upper left")
    top = max(max(r["read_gbs"], r["fastsgd_gbs"]) for r in rows)
    axes[0].set_ylim(0, top * 1.45)
    return fig


# --- speedups -------------------------------------------------------------------------------


@dataclass
class Bar:
    label: str
    value: float  # fastsgd's speedup: the baseline's time / fastsgd's
    baseline: str  # a key of COLORS / NAMES
    target: float | None = None
    note: str = ""


def kernel_bars(res: Result) -> list[Bar]:
    return [
        Bar(
            f"d = {r['d']}\n{r['threads']} thr",
            r["speedup_vs_numpy"],
            "numpy",
            KERNEL_TARGETS.get(r["d"]),
        )
        for r in sorted(mse_rows(res), key=lambda r: (r["d"], r["threads"]))
    ]


def sgd_bars(res: Result) -> list[Bar]:
    rows = [r for r in res.data["rows"] if r["contender"] != "fastsgd"]
    order = {"numpy": 0, "sklearn": 1, "torch": 2}
    short = {"numpy": "NumPy", "sklearn": "sklearn", "torch": "PyTorch"}
    rows.sort(key=lambda r: (order.get(r["contender"], 9), r["batch_group"], r["threads"]))
    return [
        Bar(
            f"{short.get(r['contender'], r['contender'])}\nB {r['batch_group']}\n"
            f"{r['threads']} thr",
            r["fastsgd_speedup"],
            r["contender"],
            SGD_TARGETS.get(r["contender"]) if r["batch_group"] == SGD_TARGET_BATCH else None,
        )
        for r in rows
    ]


def classify_bars(res: Result) -> list[Bar]:
    out = []
    for r in res.data["rows"]:
        if r["contender"] not in ("sk_sgd", "sk_lbfgs", "numpy"):
            continue
        short = {"sk_sgd": "SGDClf", "sk_lbfgs": "LogReg", "numpy": "NumPy"}[r["contender"]]
        baseline = {"sk_sgd": "sklearn"}.get(r["contender"], r["contender"])
        out.append(
            Bar(
                f"{r['problem']}\n{short}",
                r["time_vs_fastsgd"],
                baseline,
                CLASSIFY_TARGETS.get((r["problem"], r["contender"])),
                f"acc {r['test_accuracy']:.3f}",
            )
        )
    return out


def draw_bars(ax: Axes, bars: Sequence[Bar]) -> None:
    """Log-scale bars from 1 (equal time) to each speedup, the targets as black ticks."""
    xs = list(range(len(bars)))
    for x, b in zip(xs, bars, strict=True):
        ax.bar(x, b.value - 1, 0.7, bottom=1, color=COLORS[b.baseline], alpha=0.9)
        if b.target is not None:
            ax.hlines(b.target, x - 0.45, x + 0.45, color=COLORS["target"], linewidth=2)
        missed = b.target is not None and b.value < b.target
        text = fmt_ratio(b.value) + (f"\n{b.note}" if b.note else "")
        if b.target is not None:
            text += f"\n(target {b.target:g}x)"
        ax.annotate(
            text, (x, max(b.value, b.target or 0, 1)), xytext=(0, 3), textcoords="offset points",
            ha="center", va="bottom", fontsize=6.8,
            color=COLORS["missed"] if missed else "black",
        )  # fmt: skip
    ax.axhline(1, color="#444444", linewidth=0.8)
    ax.set_xticks(xs, [b.label for b in bars], fontsize=7.5)
    ax.set_xlim(-0.6, len(bars) - 0.4)
    ax.grid(True, axis="y", which="major", alpha=0.3)


def plot_speedups(results: dict[str, Result]) -> Figure | None:
    panels: list[tuple[Result, list[Bar], str]] = []
    if "kernels" in results:
        r = results["kernels"]
        t = threads_text([row["threads"] for row in mse_rows(r)])
        shapes = ", ".join(dict.fromkeys(f"({fmt_n(row['n'])}, {row['d']})" for row in mse_rows(r)))
        panels.append(
            (r, kernel_bars(r), f"mse_grad: NumPy time / fastsgd time\n(X float32 {shapes}; {t})")
        )
    if "sgd" in results:
        r = results["sgd"]
        t = threads_text([row["threads"] for row in r.data["rows"]])
        panels.append(
            (
                r,
                sgd_bars(r),
                (
                    f"one epoch of SGD, n = {fmt_n(r.data['n'])}, d = 2: baseline time / "
                    f"fastsgd.fit time\n(B = fastsgd's batch; scikit-learn is per-sample; {t})"
                ),
            )
        )
    if "classify" in results:
        r = results["classify"]
        rows = r.data["rows"]
        t = r.machine.get("threads", "?")
        acc = ", ".join(
            f"{row['problem']} {row['test_accuracy']:.3f}"
            for row in rows
            if row["contender"] == "fastsgd"
        )
        panels.append(
            (
                r,
                classify_bars(r),
                (
                    f"classification fit: baseline time / fastsgd SGDClassifier time\n({t} "
                    f"thread{'s' * (t != 1)}; fastsgd's test accuracy: {acc})"
                ),
            )
        )
    if not panels:
        return None
    all_bars = [b for _, bars, _ in panels for b in bars]
    quick = any(r.quick for r, _, _ in panels)
    caption = (
        "Speedup = the baseline's median time / fastsgd's median time, measured side by side in "
        "the same run with the same thread count (log scale; 1 = equal time, below 1 the "
        "baseline is faster). Black ticks: the issues' targets; a red label misses its target."
    )
    if "kernels" in results:
        caption += (
            " mse_grad (issue 2): NumPy = the plain r = X @ w - y; g = X.T @ r, BLAS limited to "
            "the same threads."
        )
    if "sgd" in results:
        torch_note = "" if results["sgd"].data.get("torch_used") else " PyTorch was not raced."
        caption += (
            f" SGD (issue 3, at batch {SGD_TARGET_BATCH}: {SGD_TARGETS['numpy']:g}x NumPy, "
            f"{SGD_TARGETS['sklearn']:g}x scikit-learn, {SGD_TARGETS['torch']:g}x PyTorch): NumPy "
            "= fastsgd.reference.fit, the same trainer with its loop in Python; scikit-learn = "
            f"SGDRegressor, per-sample; PyTorch = the lesson's loop.{torch_note}"
        )
    if "classify" in results:
        caption += (
            " Classification (issue 4: on digits faster than scikit-learn's SGDClassifier): the "
            "baselines reach different accuracies (acc = test accuracy); SGDClf = SGDClassifier, "
            "one-vs-rest per-sample SGD; LogReg = LogisticRegression, full-batch lbfgs; NumPy = "
            "fastsgd's trainer with its loop in Python."
        )
    caption += " Sources: " + ", ".join(
        f"{r.path.name} ({r.machine['date']})" for r, _, _ in panels
    )
    fig = new_figure(
        max(11.0, 0.62 * len(all_bars) + 2.5),
        6.2,
        "fastsgd's speedup over NumPy, scikit-learn and PyTorch\n"
        + machines_text([r for r, _, _ in panels]),
        caption,
        quick,
    )
    axes = fig.subplots(
        1, len(panels), squeeze=False, sharey=True,
        gridspec_kw={"width_ratios": [max(len(b), 2) for _, b, _ in panels]},
    )[0]  # fmt: skip
    for ax, (_, bars, title) in zip(axes, panels, strict=True):
        draw_bars(ax, bars)
        ax.set_title(title, fontsize=8.5)
        ax.set_yscale("log")
    values = [b.value for b in all_bars] + [b.target for b in all_bars if b.target]
    axes[0].set_ylim(min(0.5, min(values) / 1.5), max(values) * 4)
    axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    axes[0].set_ylabel("fastsgd's speedup (log scale)")
    baselines = list(dict.fromkeys(b.baseline for b in all_bars))
    handles: list[Any] = [Patch(color=COLORS[k], label=NAMES[k]) for k in baselines]
    handles.append(Line2D([], [], color=COLORS["target"], linewidth=2, label="target"))
    big = max(range(len(panels)), key=lambda i: len(panels[i][1]))
    axes[big].legend(handles=handles, loc="upper left", fontsize=7.5)
    return fig


# --- dask.json ------------------------------------------------------------------------------


def parse_bytes(text: str) -> float:
    """'1GiB' -> 2**30, '512 MB' -> 512e6 (NaN when unreadable)."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(i?)B?\s*", text, re.IGNORECASE)
    if not match:
        return math.nan
    value, prefix, binary = match.groups()
    base = 1024 if binary else 1000
    return float(value) * float(base ** " KMGT".index(str(prefix).upper() or " "))


def plot_dask(res: Result) -> Figure | None:
    data, m = res.data, res.machine
    methods = data.get("results") or {}
    if not methods:
        return None
    a = data["args"]
    limit_mib = parse_bytes(str(a["memory_limit"])) / 2**20
    per_worker_mib = data["x_gib"] * 1024 / a["workers"]
    caption = (
        f"fastsgd.dask.fit on X = {data['x_gib']:.2f} GiB of float32 rows ({data['n']:_} x "
        f"{a['d']}, {data['n_blocks']} blocks generated on the workers, never held whole) with "
        f"a distributed.LocalCluster of {a['workers']} worker processes x 1 thread, "
        f"memory_limit {a['memory_limit']} each. Left: seconds of each epoch (the first also "
        "holds the starting loss pass; average = parallel SGD with model averaging, gradient "
        "= full-batch gradient descent). Right: each worker process's peak resident memory "
        "(VmHWM), against its memory limit and its share of X."
    )
    fig = new_figure(
        11.0,
        4.8,
        f"fastsgd.dask: {data['x_gib']:.2f} GiB of X on {a['workers']} workers x "
        f"{a['memory_limit']}\n{machine_text(m)}",
        caption,
        res.quick,
    )
    ax_t, ax_m = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    names = list(methods)
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        epochs = methods[name]["epoch_s"]
        xs = [e + 1 + (k - (len(names) - 1) / 2) * width for e in range(len(epochs))]
        passes = methods[name].get("passes_per_epoch", "?")
        label = (
            f"{name}: {passes} pass{'es' * (passes != 1)} over X per epoch, "
            f"{methods[name]['steady_epoch_s']:.1f} s per epoch after the first (median)"
        )
        ax_t.bar(xs, epochs, width, label=label, color=f"C{k}")
    ax_t.set_xlabel("epoch")
    ax_t.set_ylabel("seconds")
    ax_t.set_title("time of each epoch", fontsize=9.5)
    ax_t.legend(fontsize=7.5)
    ax_t.grid(True, axis="y", alpha=0.3)
    for k, name in enumerate(names):
        rss = methods[name]["peak_worker_rss_mib"]
        xs = [w + (k - (len(names) - 1) / 2) * width for w in range(len(rss))]
        ax_m.bar(xs, rss, width, label=name, color=f"C{k}")
    if math.isfinite(limit_mib):
        ax_m.axhline(limit_mib, color=COLORS["missed"], linestyle="--", linewidth=1)
        ax_m.text(-0.45, limit_mib, f"memory limit {a['memory_limit']}", fontsize=7.5, va="bottom")
    ax_m.axhline(per_worker_mib, color="#444444", linestyle=":", linewidth=1)
    ax_m.text(
        -0.45, per_worker_mib, f"X / {a['workers']} workers = {per_worker_mib / 1024:.2f} GiB",
        fontsize=7.5, va="bottom",
    )  # fmt: skip
    ax_m.set_xticks(range(a["workers"]), [f"worker {w + 1}" for w in range(a["workers"])])
    peaks = [v for r in methods.values() for v in r["peak_worker_rss_mib"]]
    ax_m.set_ylim(0, max(v for v in (limit_mib, per_worker_mib, *peaks) if math.isfinite(v)) * 1.15)
    ax_m.set_ylabel("peak RSS (MiB)")
    ax_m.set_title("peak memory of each worker process", fontsize=9.5)
    ax_m.legend(fontsize=7.5, loc="center right")
    ax_m.grid(True, axis="y", alpha=0.3)
    return fig


# --- main -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plot:
    name: str  # the PNG's name without .png
    needs: tuple[str, ...]  # benchmarks it reads (any of them suffices)
    draw: Callable[[dict[str, Result]], Figure | None]
    about: str  # one sentence for plots.md


PLOTS = [
    Plot(
        "scaling_time_vs_n",
        ("scaling",),
        lambda rs: plot_scaling_time(rs["scaling"]),
        "Time per call against n (log-log): fastsgd.mse_grad vs NumPy vs a plain streaming "
        "read of X at d = 2 and 100, and one epoch of fastsgd.fit vs the NumPy loop, per "
        "thread count.",
    ),
    Plot(
        "scaling_throughput_vs_n",
        ("scaling",),
        lambda rs: plot_scaling_throughput(rs["scaling"]),
        "The same mse_grad runs as GB/s of X against n: where the caches end and how close "
        "fastsgd gets to the streaming-read limit.",
    ),
    Plot(
        "kernels_throughput",
        ("kernels",),
        lambda rs: plot_kernels_throughput(rs["kernels"]),
        "GB/s of fastsgd.mse_grad and NumPy for the three large shapes and each thread count, "
        "next to the streaming read of the same run and issue 2's 85 % target.",
    ),
    Plot(
        "speedups",
        ("kernels", "sgd", "classify"),
        plot_speedups,
        "fastsgd's speedup over NumPy, scikit-learn and PyTorch (the baseline's time / "
        "fastsgd's, log scale) with the targets of issues 2, 3 and 4.",
    ),
    Plot(
        "dask",
        ("dask",),
        lambda rs: plot_dask(rs["dask"]),
        "fastsgd.dask training on more data than its workers can hold: seconds per epoch and "
        "each worker's peak memory against its limit.",
    ),
]


def plots_markdown(written: list[tuple[Plot, str, list[Result]]], quick: bool) -> str:
    lines = [
        "# Plots" + (" (quick runs)" if quick else ""),
        "",
        (
            "Drawn by `python benchmarks/plot_results.py` from the JSON results beside them; "
            "every figure names the machine, the threads and what its ratios are relative to."
        ),
        "",
    ]
    for plot, file, sources in written:
        src = ", ".join(
            f"`{r.path.name}` ({r.machine['date']}{', --quick' if r.quick else ''})"
            for r in sources
        )
        lines += [f"- `{file}`: {plot.about} From {src}.", "", f"  ![{file}]({file})", ""]
    return "\n".join(lines).rstrip() + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="plot only the --quick runs (*-quick.json), into *-quick.png and plots-quick.md",
    )
    p.add_argument("--no-write", action="store_true", help="draw the figures, write no files")
    p.add_argument(
        "--results",
        type=Path,
        default=RESULTS_DIR,
        help=f"the directory to read the JSON from and write the plots to (default {RESULTS_DIR})",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = load_results(args.results, args.quick)
    if not results:
        print(f"[plot_results] no results in {args.results}: run the benchmarks first",
              file=sys.stderr)  # fmt: skip
        return 0 if args.no_write else 1
    suffix = "-quick" if args.quick else ""
    written = []
    for plot in PLOTS:
        have = {k: results[k] for k in plot.needs if k in results}
        if not have:
            continue
        fig = plot.draw(results)
        if fig is None:
            continue
        file = f"{plot.name}{suffix}.png"
        if args.no_write:
            fig.canvas.draw()  # render all the same: errors show without files
        else:
            fig.savefig(args.results / file, dpi=DPI)
        written.append((plot, file, list(have.values())))
        done = "drawn, not written" if args.no_write else "written"
        print(f"[plot_results] {file} ({done}) from " + ", ".join(r.path.name for r in have.values()),
              file=sys.stderr)  # fmt: skip
    if not args.no_write and written:
        md = args.results / f"plots{suffix}.md"
        md.write_text(plots_markdown(written, args.quick))
        print(f"[plot_results] wrote {md} and {len(written)} PNG(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
