"""Shared helpers of the benchmarks: the command line, the machine, a timer, Markdown tables,
result files.

Nothing here imports NumPy at module level, so a script can call
:func:`reexec_without_openblas_overrides` before NumPy loads OpenBLAS.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
KEEP_OPENBLAS_FLAG = "--keep-openblas-env"
_UNSET_MARK = "FASTSGD_BENCH_OPENBLAS_UNSET"  # set in the re-executed process: what was removed


# --- OpenBLAS environment ------------------------------------------------------------------


def reexec_without_openblas_overrides() -> None:
    """Re-run this script without ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE``.

    Some machines set these variables because older OpenBLAS builds compute
    wrong results or crash on their processor. A current NumPy runs slower
    with them (a generic kernel instead of the one for the CPU), which would
    flatter fastsgd. The benchmark process alone drops both, together: this
    function replaces the process with a copy of itself without them, and the
    removed values are recorded in the results. It must run before NumPy is
    imported (OpenBLAS reads them when it loads). ``--keep-openblas-env`` on
    the command line keeps them.
    """
    if _UNSET_MARK in os.environ or KEEP_OPENBLAS_FLAG in sys.argv:
        return
    found = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if not found:
        return
    if "numpy" in sys.modules:  # too late: OpenBLAS has read them already
        raise RuntimeError("reexec_without_openblas_overrides() must run before numpy is imported")
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
    env[_UNSET_MARK] = json.dumps(found)
    shown = " ".join(f"{k}={v}" for k, v in found.items())
    print(f"[bench] re-running without {shown} (this process only)", file=sys.stderr, flush=True)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def openblas_env_note() -> dict[str, Any]:
    """What happened to the OpenBLAS variables in this process."""
    removed = json.loads(os.environ.get(_UNSET_MARK, "{}"))
    present = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    return {"removed_for_benchmark": removed, "in_effect": present}


# --- the command line ----------------------------------------------------------------------


class BenchParser(argparse.ArgumentParser):
    """The options every timing script has; :meth:`parse_checked` also checks the counts."""

    counts: tuple[str, ...] = ()  # the options that must be >= 1, besides --threads

    def parse_checked(self, argv: list[str] | None = None) -> argparse.Namespace:
        """Parse ``argv``; exit with a usage error unless every count and ``--threads``
        is >= 1 and ``--warmup`` >= 0."""
        args = self.parse_args(argv)
        threads = args.threads if isinstance(args.threads, list) else [args.threads]
        counts = [getattr(args, flag[2:].replace("-", "_")) for flag in self.counts]
        if min(*counts, *threads) < 1 or args.warmup < 0:
            flags = [*self.counts, "--threads"]
            self.error(f"{', '.join(flags[:-1])} and {flags[-1]} must be >= 1, --warmup >= 0")
        return args


def base_parser(
    description: str,
    *,
    quick_help: str,
    repeats: tuple[int, str],
    warmup: tuple[int, str],
    threads: tuple[int | list[int], str],
    more_repeats: Mapping[str, tuple[int, str]] | None = None,
    own_options: Callable[[argparse.ArgumentParser], object] | None = None,
) -> BenchParser:
    """A parser with ``--quick``, ``--repeats``, ``--warmup``, ``--threads``, ``--no-write``
    and ``--keep-openblas-env``, in that order.

    ``repeats``, ``warmup`` and ``threads`` are (default, help) pairs; a list default
    makes ``--threads`` take one or more counts, an int default exactly one.
    ``more_repeats`` maps further count options (each >= 1, like ``--repeats``) to
    (default, help); they follow ``--repeats``. ``own_options(parser)`` adds the
    script's own options after ``--threads``; a script may also add more to the parser
    it gets back (they come last).
    """
    p = BenchParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help=quick_help)
    counts = {"--repeats": repeats, **(more_repeats or {})}
    for flag, (default, help_text) in counts.items():
        p.add_argument(flag, type=int, default=default, help=help_text)
    p.counts = tuple(counts)
    p.add_argument("--warmup", type=int, default=warmup[0], help=warmup[1])
    default_threads, threads_help = threads
    if isinstance(default_threads, list):
        p.add_argument("--threads", type=int, nargs="+", default=default_threads, help=threads_help)
    else:
        p.add_argument("--threads", type=int, default=default_threads, help=threads_help)
    if own_options is not None:
        own_options(p)
    p.add_argument("--no-write", action="store_true", help="print only, write no results files")
    p.add_argument(
        KEEP_OPENBLAS_FLAG,
        action="store_true",
        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (default: drop them here)",
    )
    return p


# --- the machine ---------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _physical_cores() -> int | None:
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
        if n:
            return int(n)
    except ImportError:
        pass
    cores = set()
    phys = core = None
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("physical id"):
            phys = line.split(":", 1)[1].strip()
        elif line.startswith("core id"):
            core = line.split(":", 1)[1].strip()
            cores.add((phys, core))
    return len(cores) or None


def _caches() -> str:
    out = []
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        level = _read(str(idx / "level")).strip()
        kind = _read(str(idx / "type")).strip()
        size = _read(str(idx / "size")).strip()
        if level and size:
            tag = {"Data": "d", "Instruction": "i"}.get(kind, "")
            out.append(f"L{level}{tag} {size}")
    return ", ".join(out)


def _mem_total_gib() -> float | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=HERE, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src", "cpp")
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+local changes in src/ or cpp/" if dirty else "")


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process (threadpoolctl), NumPy's first."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    libs = [
        {
            "library": Path(i.get("filepath", "")).name,
            "internal_api": i.get("internal_api"),
            "version": i.get("version"),
            "architecture": i.get("architecture"),
            "threading_layer": i.get("threading_layer"),
            "num_threads": i.get("num_threads"),
            "numpy": "numpy" in str(i.get("filepath", "")),
        }
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return sorted(libs, key=lambda lib: not lib["numpy"])


def numpy_blas_kernel() -> str:
    """``internal_api version (architecture)`` of the BLAS NumPy uses, e.g. the
    OpenBLAS kernel chosen for this CPU."""
    for lib in blas_info():
        if lib["numpy"]:
            return f"{lib['internal_api']} {lib['version']} ({lib['architecture']} kernel)"
    return "unknown"


def hardware_info() -> dict[str, Any]:
    """The machine alone (no fastsgd imported): CPU, cores, caches, memory, load, OS."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count() or 1
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": _physical_cores(),
        "usable_cpus": affinity,
        "caches": _caches(),
        "memory_gib": _mem_total_gib(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def machine_info(**extra: Any) -> dict[str, Any]:
    """A description of the machine and the software the numbers were measured with."""
    import numpy as np

    import fastsgd
    from fastsgd._ext import _core

    build = dict(_core.build_info())
    return {
        **hardware_info(),
        "fastsgd": fastsgd.__version__,
        "fastsgd_commit": _git_commit(),
        "fastsgd_isa": _core.active_isa(),
        "fastsgd_build": build,
        "fastsgd_default_threads": fastsgd.get_num_threads(),
        "numpy": np.__version__,
        "scikit-learn": _version("scikit-learn"),
        "torch": _version("torch"),
        "threadpoolctl": _version("threadpoolctl"),
        "blas": blas_info(),
        "numpy_blas": numpy_blas_kernel(),
        "openblas_env": openblas_env_note(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "FASTSGD_ISA") if k in os.environ},
        **extra,
    }


def machine_markdown(m: Mapping[str, Any]) -> str:
    """The machine as a short bullet list (the header of every results file)."""
    cores = m["physical_cores"] or "?"
    build = m["fastsgd_build"]
    machine = (
        f"- Machine: {m['cpu']}, {cores} cores / {m['logical_cpus']} logical CPUs "
        f"({m['usable_cpus']} usable), {m['caches']}, {m['memory_gib']} GiB; "
        f"load average at start {m['load_average_at_start']} (shared machine: numbers are noisy)"
    )
    compiled = "/".join(build.get("isas_compiled", []))
    software = (
        f"- Software: Python {m['python']}, fastsgd {m['fastsgd']} "
        f"(commit {m['fastsgd_commit']}, ISA {m['fastsgd_isa']}, "
        f"{build.get('compiler', '?')}, compiled {compiled}), "
        f"NumPy {m['numpy']}, scikit-learn {m['scikit-learn']}, torch {m['torch'] or 'absent'}, "
        f"threadpoolctl {m['threadpoolctl']}"
    )
    lines = [machine, software, f"- NumPy's BLAS: {m['numpy_blas']}"]
    ob = m["openblas_env"]
    if ob["removed_for_benchmark"]:
        gone = ", ".join(f"{k}={v}" for k, v in ob["removed_for_benchmark"].items())
        lines.append(f"- Removed for this benchmark process only: {gone}")
    if ob["in_effect"]:
        kept = ", ".join(f"{k}={v}" for k, v in ob["in_effect"].items())
        lines.append(f"- In effect (kept with {KEEP_OPENBLAS_FLAG}): {kept}")
    if m["env"]:
        lines.append("- Environment: " + ", ".join(f"{k}={v}" for k, v in m["env"].items()))
    if "during_run" in m:
        r = m["during_run"]
        lines.append(
            f"- During the run ({r['wall_s']} s): other processes kept {r['other_processes_cores']}"
            f" cores busy on average, hypervisor steal {r['steal_cores']} cores"
        )
    lines.append(f"- Date: {m['date']}")
    return "\n".join(lines)


class OtherLoad:
    """How busy the CPUs were with other processes while the benchmark ran.

    Reads the machine's busy time from ``/proc/stat`` and this process's own
    CPU time at start and at :meth:`stop`; the difference is the work of
    everything else (other people's jobs on a shared machine), given as the
    average number of cores they kept busy, plus the hypervisor's steal time.
    """

    def __init__(self, *, children: bool = False) -> None:
        # children: count the CPU time of this process's finished child processes as
        # its own (for a script that runs its measurements in subprocesses)
        self._children = children
        self._t0 = time.perf_counter()
        self._busy0, self._steal0 = self._machine()
        self._own0 = self._own()

    @staticmethod
    def _machine() -> tuple[float, float]:
        for line in _read("/proc/stat").splitlines():
            if line.startswith("cpu "):
                f = [int(x) for x in line.split()[1:]]
                hz = os.sysconf("SC_CLK_TCK")
                busy = f[0] + f[1] + f[2] + f[5] + f[6]  # user nice system irq softirq
                steal = f[7] if len(f) > 7 else 0
                return busy / hz, steal / hz
        return math.nan, math.nan

    def _own(self) -> float:
        t = os.times()
        own = t.user + t.system
        return own + t.children_user + t.children_system if self._children else own

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._t0
        busy, steal = self._machine()
        others = (busy - self._busy0) - (self._own() - self._own0)
        return {
            "wall_s": round(wall, 1),
            "other_processes_cores": round(max(others, 0.0) / wall, 2),
            "steal_cores": round((steal - self._steal0) / wall, 2),
        }


# --- timing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``repeats`` timed calls (after the warm-up ones)."""

    median: float
    min: float
    q1: float
    q3: float
    repeats: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @classmethod
    def from_samples(cls, samples: Sequence[float]) -> Timing:
        s = sorted(samples)
        if not s:
            raise ValueError("no samples")
        if len(s) == 1:
            q1 = q3 = s[0]
        else:
            q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
        return cls(statistics.median(s), s[0], q1, q3, len(s))

    def as_dict(self) -> dict[str, float | int]:
        return {
            "median_s": self.median,
            "min_s": self.min,
            "q1_s": self.q1,
            "q3_s": self.q3,
            "iqr_s": self.iqr,
            "repeats": self.repeats,
        }


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def measure(fn: Callable[[], object], *, repeats: int = 10, warmup: int = 1) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed (the garbage
    collector off during each call); the median, min and quartiles of those calls."""
    return measure_interleaved({"fn": fn}, repeats=repeats, warmup=warmup)["fn"]


def measure_interleaved(
    fns: Mapping[str, Callable[[], object]], *, repeats: int = 10, warmup: int = 1
) -> dict[str, Timing]:
    """Time several functions side by side: every round calls each once, in turn.

    Interleaving spreads a slow spell of a shared machine over all contenders
    instead of landing on one, so their ratios are steadier than when each is
    timed in a block of its own. Each gets ``warmup`` untimed calls first.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_timed(fn))
    return {name: Timing.from_samples(s) for name, s in samples.items()}


# --- output --------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A Markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default: the
    first column left, the others right)."""
    ncol = len(headers)
    align = align or "l" + "r" * (ncol - 1)
    if len(align) != ncol or any(len(r) != ncol for r in rows):
        raise ValueError("every row and the alignment need one entry per header")
    cells = [[str(h) for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(3, *(len(row[i]) for row in cells)) for i in range(ncol)]

    def line(row: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if a == "l" else c.rjust(w)
                for c, w, a in zip(row, widths, align, strict=True)
            )
            + " |"
        )

    rule = (
        "| "
        + " | ".join(
            "-" * (w - 1) + ":" if a == "r" else ":" + "-" * (w - 1)
            for w, a in zip(widths, align, strict=True)
        )
        + " |"
    )
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


@dataclass(frozen=True)
class Target:
    """One of an issue's targets and whether this run met it: ``value >= goal`` (or
    ``value <= goal`` with ``at_most=True``)."""

    what: str
    value: float
    goal: float
    unit: str = "x"
    at_most: bool = False

    @property
    def met(self) -> bool:
        return self.value <= self.goal if self.at_most else self.value >= self.goal

    def line(self) -> str:
        verdict = "met" if self.met else "NOT met"
        op = "<=" if self.at_most else ">="
        return (
            f"- {self.what}: {self.value:.2f}{self.unit} (target {op} {self.goal:g}{self.unit}): "
            f"{verdict}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "value": self.value,
            "goal": self.goal,
            "unit": self.unit,
            "at_most": self.at_most,
            "met": self.met,
        }


def results_name(name: str, quick: bool) -> str:
    """Quick (smoke-test) runs write beside the full results, never over them."""
    return f"{name}-quick" if quick else name


def write_results(name: str, markdown: str, data: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``results/<name>.md`` and ``results/<name>.json``; return both paths."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    md = RESULTS_DIR / f"{name}.md"
    js = RESULTS_DIR / f"{name}.json"
    md.write_text(markdown.rstrip() + "\n")
    js.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    return md, js


def announce(script: str, machine: Mapping[str, Any], *details: str) -> None:
    """The start line on stderr: ``[script] CPU, fastsgd ISA ...`` and ``details``."""
    line = ", ".join([f"{machine['cpu']}", f"fastsgd ISA {machine['fastsgd_isa']}", *details])
    print(f"[{script}] {line}", file=sys.stderr, flush=True)


def save_results(
    benchmark: str, quick: bool, markdown: str, machine: Mapping[str, Any], **data: Any
) -> None:
    """Write ``results/<benchmark>[-quick].md`` and ``.json`` (the JSON holds ``benchmark``,
    ``machine`` and ``data``, in that order) and say so on stderr."""
    record = {"benchmark": benchmark, "machine": machine, **data}
    paths = write_results(results_name(benchmark, quick), markdown, record)
    print(f"[bench_{benchmark}] wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    if hasattr(obj, "tolist"):  # NumPy scalars and arrays
        return obj.tolist()
    return str(obj)


def fmt_ms(seconds: float) -> str:
    """Milliseconds with three significant figures."""
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x" if x < 100 else f"{x:.0f}x"
