"""The demo's `mlgate evaluate` step shows its seconds counter on a terminal too (#14 item 8).

It ran with the counter off on a terminal, for evaluate's own progress bar; that bar covers the
metric computation only (well under a second), so in a pty the step showed nothing for ~20 s
of loading, scoring, discovery and report writing."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Stop(Exception):
    pass


def test_the_evaluate_step_ticks_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.cli
    import bot.mlflow
    from bot import demo

    class Registry:
        def __init__(self, uri: str) -> None:
            pass

        def register(self, *args: Any) -> str:
            return "1"

        def set_alias(self, *args: Any) -> None:
            pass

    seen: list[list[str]] = []

    def evaluate(argv: list[str]) -> int:
        seen.append(argv)
        time.sleep(1.4)  # a second and more: the counter must show
        raise _Stop

    monkeypatch.setattr(demo, "build_project", lambda root: (root.mkdir(parents=True), "a" * 40)[1])
    monkeypatch.setattr(demo, "train_model", lambda root, name: "models:/m-0123")
    monkeypatch.setattr(demo, "open_pull_request", lambda root: "b" * 40)
    monkeypatch.setattr(bot.mlflow, "Registry", Registry)
    monkeypatch.setattr(bot.cli, "main", evaluate)
    out, err = _Tty(), _Tty()
    monkeypatch.setattr(demo.sys, "stdout", out)
    monkeypatch.setattr(demo.sys, "stderr", err)
    with pytest.raises(_Stop):
        demo._run(tmp_path / "project", tmp_path / "out", False, print, time.monotonic(), kept=False)
    text = out.getvalue()
    step = text.split("==> running: mlgate evaluate", 1)[1]
    assert "\r    ... 1 s" in step, text
    assert "\r    done in " in step
    # evaluate's own bar stays off: it would share the terminal line with the counter
    assert "--no-progress" in seen[0]
