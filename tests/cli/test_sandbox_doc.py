"""docs/sandbox.md's commands work as written, with no App listening at the webhook URL (issue #14).

The stand-in died with a traceback when its webhook URL could not be reached; GitHub records
such a delivery as failed and carries on, and so does the stand-in now.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from tests.render.cases import REPORTS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "sandbox.md").read_text("utf-8")


def test_the_python_api_example_runs_without_an_app() -> None:
    (block,) = re.findall(r"```python\n(.*?)```", DOC, re.S)
    scope: dict[str, object] = {"report_bytes": (REPORTS / "failing.json").read_bytes()}
    exec(compile(block, "docs/sandbox.md", "exec"), scope)  # noqa: S102 - our own documentation
    gh = scope["gh"]
    failed = [d for d in gh.deliveries if d.get("error")]  # type: ignore[attr-defined]
    assert failed and all("could not be reached" in d["error"] for d in failed)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_http_admin_example_runs_without_an_app(tmp_path: Path) -> None:
    (block,) = re.findall(r"```\n(mlgate sandbox .*?)```", DOC, re.S)
    serve, curl = block.split("\n", 1)
    port = _free_port()
    argv = serve.split()[1:]
    argv[argv.index("--port") + 1] = str(port)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the banner comes once the repository and installation exist
            if line.startswith("GitHub stand-in at"):
                break
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        res = subprocess.run(["bash", "-c", curl.replace("localhost:8765", f"localhost:{port}")],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and '"number": 1' in res.stdout, res.stdout[-500:] + res.stderr[-500:]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err
    assert "could not be reached" in err
