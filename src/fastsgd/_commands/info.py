"""Show how this fastsgd was built and what it uses here."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    del p


def run(args: argparse.Namespace) -> int:
    del args
    import fastsgd
    from fastsgd._ext import _core

    info = _core.build_info()
    print(f"fastsgd {fastsgd.__version__}")
    print(
        f"instruction set in use: {_core.active_isa()} (compiled: {', '.join(info['isas_compiled'])})"
    )
    print(f"OpenMP: {info['openmp']}, threads: {fastsgd.get_num_threads()}")
    print(f"compiler: {info['compiler']}, native build: {info['native']}")
    return 0
