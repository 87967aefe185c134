"""The number of threads fastsgd's kernels use.

The count is fastsgd's own: set when the module loads from ``OMP_NUM_THREADS`` (its
first number) or the processors available to the process, and changed by
:func:`set_num_threads` or by threadpoolctl. Another library calling
``omp_set_num_threads`` (some do, in their own fits) does not change it.

threadpoolctl finds fastsgd through a controller registered here when threadpoolctl
is installed; it answers to ``user_api="openmp"`` (fastsgd's threads are OpenMP
threads) and ``internal_api="fastsgd"``.
"""

from __future__ import annotations

from typing import Any

from fastsgd._ext import _core
from fastsgd._validation import check_int

__all__ = ["get_num_threads", "set_num_threads"]

_MAX_THREADS = 2**31 - 1  # the core takes a C int


def set_num_threads(n: int | None) -> None:
    """Set the number of threads the kernels use; ``None`` goes back to the default
    (``OMP_NUM_THREADS``, or the processors available).

    Results do not depend on it: rows are summed in fixed chunks in a fixed order.

    Examples
    --------
    >>> import fastsgd
    >>> fastsgd.set_num_threads(1)
    >>> fastsgd.get_num_threads()
    1
    >>> fastsgd.set_num_threads(None)   # back to the default
    """
    if n is None:
        _core.set_num_threads(0)
        return
    _core.set_num_threads(check_int(n, "n", minimum=1, maximum=_MAX_THREADS))


def get_num_threads() -> int:
    """The number of threads the kernels use.

    Examples
    --------
    >>> import fastsgd
    >>> fastsgd.get_num_threads() >= 1
    True
    """
    return int(_core.get_num_threads())


def _register_with_threadpoolctl() -> None:
    """Let threadpoolctl see and limit fastsgd's threads (when it is installed)."""
    try:
        import threadpoolctl
    except ImportError:  # pragma: no cover - depends on the environment
        return
    if not hasattr(threadpoolctl, "register") or not hasattr(threadpoolctl, "LibController"):
        return  # pragma: no cover - threadpoolctl < 3.5

    class FastsgdController(threadpoolctl.LibController):  # type: ignore[misc]
        user_api = "openmp"
        internal_api = "fastsgd"
        filename_prefixes = ("_core",)
        # only fastsgd's extension has these (cpp/src/dispatch.cpp)
        check_symbols = ("fastsgd_get_num_threads", "fastsgd_set_num_threads")

        def get_num_threads(self) -> Any:
            return self.dynlib.fastsgd_get_num_threads()

        def set_num_threads(self, num_threads: int) -> None:
            self.dynlib.fastsgd_set_num_threads(int(num_threads))

        def get_version(self) -> Any:
            return _core.__version__

    threadpoolctl.register(FastsgdController)


_register_with_threadpoolctl()
