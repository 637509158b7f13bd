"""The `mlgate` executable ends with os._exit (pyarrow's teardown can abort), so it must finish
what Python owns itself: the exit code, atexit handlers, and every byte written to a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.render.cases import REPORTS

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import atexit, sys
atexit.register(lambda: print("atexit ran", file=sys.stderr))
atexit.register(lambda: sys.stdout.write("<!-- buffered, not yet flushed -->"))
sys.argv = ["mlgate", *sys.argv[1:]]
from bot.cli import console_main
console_main()
"""


def _mlgate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as users run it
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env=env)


def test_piped_output_is_complete_and_atexit_handlers_run() -> None:
    res = _mlgate("render", str(REPORTS / "failing.json"), "--format", "html")
    assert res.returncode == 0, res.stderr
    assert "</html>" in res.stdout
    # a write still in Python's buffer when the process ends reaches the pipe too
    assert res.stdout.endswith("<!-- buffered, not yet flushed -->")
    assert "atexit ran" in res.stderr


def test_the_commands_exit_code_is_the_processes() -> None:
    res = _mlgate("render", str(REPORTS / "no-such-report.json"))
    assert res.returncode == 2
    assert "no-such-report.json" in res.stderr and "atexit ran" in res.stderr
