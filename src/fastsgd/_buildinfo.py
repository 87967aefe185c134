"""How this fastsgd was built and what it runs on here: ``fastsgd.show_config()``."""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from fastsgd._ext import _core
from fastsgd.kernels import get_num_threads

__all__ = ["show_config"]

# Names of OpenMP runtimes as they appear in file names (libgomp-1a2b3c.so.1, libomp.dylib,
# vcomp140.dll, libiomp5.so).
_OPENMP_PREFIXES = ("libgomp", "libomp", "libiomp", "vcomp")


def _cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo (Linux), or None elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def _isa_supported_by_cpu(flags: set[str] | None) -> dict[str, bool] | None:
    """Which instruction sets the CPU offers (the conditions of cpp/src/dispatch.cpp)."""
    if flags is None:
        return None
    return {
        "baseline": True,
        "avx2": {"avx2", "fma"} <= flags,
        "avx512": {"avx512f", "avx512dq", "avx512bw", "avx512vl", "fma"} <= flags,
    }


class _DlInfo(ctypes.Structure):
    _fields_ = [  # the layout of dlfcn.h's Dl_info
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _core_openmp_library() -> str | None:
    """The file of the OpenMP runtime the compiled core calls, or None if unknown.

    ``omp_get_max_threads`` is looked up through the core's own handle (so in the
    core's dependencies, as the dynamic linker bound them) and ``dladdr`` names the
    file it lives in. Several OpenMP runtimes can be loaded in one process (for
    example scikit-learn's and PyTorch's own copies); this finds fastsgd's.
    """
    if sys.platform == "win32":
        return None
    try:
        core = ctypes.CDLL(_core.__file__)
        symbol = core.omp_get_max_threads
        libc = ctypes.CDLL(None)  # the global namespace: dladdr from libc (or libdl)
        info = _DlInfo()
        address = ctypes.cast(symbol, ctypes.c_void_p)
        if libc.dladdr(address, ctypes.byref(info)) == 0 or not info.dli_fname:
            return None
        fname: bytes = info.dli_fname
        return os.path.realpath(fname.decode(errors="replace"))
    except (OSError, AttributeError, TypeError, ValueError):
        return None


def _loaded_openmp_libraries() -> list[dict[str, Any]]:
    """OpenMP runtimes loaded in this process: threadpoolctl's view, else /proc/self/maps."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        return [
            {
                "path": os.path.realpath(str(lib["filepath"])),
                "version": lib.get("version"),
                "num_threads": lib.get("num_threads"),
            }
            for lib in threadpool_info()
            if lib.get("user_api") == "openmp"
        ]
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    if Path(path).name.startswith(_OPENMP_PREFIXES) and path not in paths:
                        paths.append(path)
    except OSError:
        pass
    return [
        {"path": os.path.realpath(p), "version": None, "num_threads": None}
        for p in sorted(set(paths))
    ]


def _openmp_section(openmp: int | None) -> dict[str, Any]:
    loaded = _loaded_openmp_libraries()
    library = _core_openmp_library() if openmp is not None else None
    version = None
    for lib in loaded:
        if library is not None and lib["path"] == library:
            version = lib["version"]
    return {
        "compiled": openmp is not None,
        "spec": openmp,  # the _OPENMP date the core was compiled against
        "library": library,
        "library_version": version,
        "loaded": [lib["path"] for lib in loaded],
        "threads": get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def _config() -> dict[str, Any]:
    build = _core.build_info()
    flags = _cpu_flags()
    return {
        "fastsgd": {
            "version": _core.__version__,
            "location": str(Path(__file__).parent),
            "core": _core.__file__,
        },
        "isa": {
            "active": _core.active_isa(),
            "compiled": list(build["isas_compiled"]),
            "cpu_supports": _isa_supported_by_cpu(flags),
            "FASTSGD_ISA": os.environ.get("FASTSGD_ISA"),
        },
        "openmp": _openmp_section(build["openmp"]),
        "build": {
            "compiler": build["compiler"],
            "native": bool(build["native"]),
            "sanitize": build["sanitize"] or None,
        },
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "numpy": np.__version__,
        "platform": {
            "system": platform.system(),
            "machine": platform.machine(),
            "release": platform.release(),
        },
    }


def _format(config: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, value in config.items():
        if isinstance(value, dict):
            lines.append(f"{section}:")
            width = max(len(key) for key in value)
            for key, item in value.items():
                if isinstance(item, dict):
                    item = ", ".join(f"{k}={v}" for k, v in item.items())
                elif isinstance(item, list):
                    item = ", ".join(str(v) for v in item) or "-"
                lines.append(f"  {key:<{width}} : {item}")
        else:
            lines.append(f"{section}: {value}")
    return "\n".join(lines)


def show_config(*, print_info: bool = False, file: TextIO | None = None) -> dict[str, Any]:
    """How this fastsgd was built and what it runs on in this process.

    Parameters
    ----------
    print_info : bool, default False
        Also print the information as text (to ``file``, or standard output).
    file : text stream, optional
        Where to print; implies ``print_info=True``.

    Returns
    -------
    dict
        Sections of plain Python values:

        - ``"fastsgd"``: version, package location and the compiled core's file;
        - ``"isa"``: the instruction set of the kernels in use (``"active"``: baseline,
          avx2 or avx512), the sets compiled into the core, which of them this CPU
          supports (from /proc/cpuinfo; None where unavailable) and the value of the
          ``FASTSGD_ISA`` environment variable, which forces a set at import (an
          unsupported or unknown value falls back to the best one available);
        - ``"openmp"``: whether the core was built with OpenMP, the OpenMP version it
          was compiled against (``_OPENMP``, a date such as 201511), the file of the
          OpenMP runtime its kernels call, every OpenMP runtime loaded in the process,
          the threads the kernels use and ``OMP_NUM_THREADS``;
        - ``"build"``: the compiler, whether every kernel was built with
          ``-march=native``, the sanitizers;
        - ``"python"``, ``"numpy"``, ``"platform"``: versions and the machine.

    See Also
    --------
    fastsgd.set_num_threads : the thread count.

    Examples
    --------
    >>> import fastsgd
    >>> config = fastsgd.show_config()
    >>> config["isa"]["active"] in config["isa"]["compiled"]
    True
    >>> config["openmp"]["threads"] == fastsgd.get_num_threads()
    True
    >>> _ = fastsgd.show_config(print_info=True)  # doctest: +ELLIPSIS
    fastsgd:
      version  : ...
    """
    config = _config()
    if print_info or file is not None:
        print(_format(config), file=file if file is not None else sys.stdout)
    return config
