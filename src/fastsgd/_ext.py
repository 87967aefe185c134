"""Import of the compiled core, with a hint when it is missing."""

from __future__ import annotations

try:
    from fastsgd import _core
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "fastsgd's compiled core (fastsgd._core) could not be imported. Install the package "
        "with `pip install .` (a C++17 compiler and CMake are needed) rather than importing it "
        f"from the source tree. Original error: {exc}"
    ) from exc

__all__ = ["_core"]
