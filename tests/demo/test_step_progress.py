"""Every demo step over a second shows it is alive, even a step that silences its own prints (#14 item 8)."""

from __future__ import annotations

import io
import os
import time
from contextlib import redirect_stdout

import pytest


def test_the_counter_keeps_ticking_while_the_step_redirects_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """Before: train_model sends train.py's prints to devnull with redirect_stdout, which is process-wide,
    so the step's counter went there too and the training step said nothing for ~9 s."""
    from bot.demo_steps import step

    with step("training", quiet=False, every=0.05), open(os.devnull, "w") as devnull, redirect_stdout(devnull):
        time.sleep(0.6)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "==> training" and lines[-1].startswith("    done in ")
    assert sum(1 for line in lines if line.startswith("    ... ")) >= 3, lines


def test_on_a_terminal_the_counter_updates_in_place_on_the_steps_own_stream(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import demo_steps as demo

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    monkeypatch.setattr(demo.sys, "stdout", stream)
    with demo.step("evaluating", quiet=False, every=0.05), redirect_stdout(io.StringIO()):
        time.sleep(0.4)
    text = stream.getvalue()
    assert text.startswith("==> evaluating\n") and text.count("\r    ... ") >= 3, text
    assert text.endswith(" s\n") and "\r    done in " in text
