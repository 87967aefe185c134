"""The ``fastsgd`` command: ``demo`` runs the lesson, ``info`` shows the build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from fastsgd._ext import _core
from fastsgd.cli import main
from fastsgd.datasets import make_line

STEP = re.compile(r"step\s+(\d+)\s+loss\s+([-\d.]+)\s+a = \[\s*([-\d.]+),\s*([-\d.]+)\]")
FITTED = re.compile(r"fitted a = \[\s*([-\d.]+),\s*([-\d.]+)\]")
TRUTH = re.compile(r"truth\s+a = \[\s*([-\d.]+),\s*([-\d.]+)\]")


def _gradient_descent(steps: int, lr: float = 0.1) -> tuple[list[float], list[Any]]:
    """The lesson by hand: loss and a after each full-batch step from a = (-1, 1)."""
    X, y = make_line(n=100, seed=0)
    a = np.array([-1.0, 1.0])
    losses, params = [], []
    for _ in range(steps):
        r = X @ a - y
        a = a - lr * (2.0 / len(y)) * (X.T @ r)
        losses.append(float(np.mean((X @ a - y) ** 2)))
        params.append(a.copy())
    return losses, params


def _check_demo_output(out: str, steps: int = 100) -> None:
    rows = [(int(s), float(loss), float(a1), float(a2)) for s, loss, a1, a2 in STEP.findall(out)]
    assert [r[0] for r in rows] == list(range(10, steps + 1, 10))  # the loss every 10 steps
    losses, params = _gradient_descent(steps)
    for step, loss, a1, a2 in rows:
        assert loss == pytest.approx(losses[step - 1], abs=1e-6)  # printed with 6 decimals
        np.testing.assert_allclose([a1, a2], params[step - 1], atol=1e-4)
    printed = [r[1] for r in rows]
    assert printed == sorted(printed, reverse=True)  # the loss goes down


def test_demo_prints_the_loss_every_ten_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert len(STEP.findall(out)) == 10
    _check_demo_output(out)
    X, y = make_line(n=100, seed=0)
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    fitted = np.array([float(v) for v in FITTED.search(out).groups()])  # type: ignore[union-attr]
    truth = np.array([float(v) for v in TRUTH.search(out).groups()])  # type: ignore[union-attr]
    np.testing.assert_allclose(truth, [3.0, 2.0])
    np.testing.assert_allclose(fitted, best, atol=0.01)  # 100 steps reach least squares
    assert fitted[0] == pytest.approx(truth[0], abs=0.2)  # the slope of the truth line
    assert fitted[1] - truth[1] == pytest.approx(0.5, abs=0.1)  # the noise's mean 1/2


def test_demo_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--steps", "30"]) == 0
    out = capsys.readouterr().out
    _check_demo_output(out, steps=30)


def test_demo_as_a_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fastsgd.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stderr == ""
    _check_demo_output(out.stdout)


def test_console_script() -> None:
    exe = shutil.which("fastsgd")
    if exe is None:
        pytest.skip("the fastsgd console script is not on PATH")
    out = subprocess.run(
        [exe, "demo", "--steps", "10"], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    _check_demo_output(out.stdout, steps=10)


def test_info_prints_the_instruction_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"instruction set in use: {_core.active_isa()}" in out
    for isa in _core.build_info()["isas_compiled"]:
        assert isa in out
    assert "threads:" in out


def test_info_follows_fastsgd_isa() -> None:
    env = {**os.environ, "FASTSGD_ISA": "baseline"}
    out = subprocess.run(
        [sys.executable, "-m", "fastsgd.cli", "info"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "instruction set in use: baseline" in out.stdout


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "demo" in out
    assert "info" in out


def test_unknown_command_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    assert "no-such-command" in capsys.readouterr().err
