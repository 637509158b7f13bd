"""The web and worker processes start without the data stack: each one costs less memory.

pandas, numpy, pyarrow, scipy and MLflow belong to `mlgate evaluate` and to release
commands; a webhook or a comment job must not load them (it took a worker from 55 to
185 MB resident).
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "pyarrow", "scipy", "mlflow", "sklearn", "pandera")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_the_worker_and_every_handler_load_no_data_stack() -> None:
    assert _loaded_after("import bot.worker, bot.dispatch") == []


def test_the_web_app_loads_no_data_stack() -> None:
    assert _loaded_after("import bot.app") == []
