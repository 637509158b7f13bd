"""Helpers for tests that run real processes: free ports, waiting, stopping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, ok: Callable[[], bool], timeout: float = 60) -> None:
    """Poll `ok` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def app_env(github: Any, tmp: Path, url: str, backend: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of gunicorn and `mlgate worker` serving the GitHub stand-in `github`:
    SQLite store and queue in `tmp` unless `backend` names others, multiprocess metrics."""
    (tmp / "prom").mkdir(exist_ok=True)
    return {
        **os.environ,
        "MLGATE_WEBHOOK_SECRET": github.webhook_secret,
        "MLGATE_APP_ID": str(github.app_id),
        "MLGATE_PRIVATE_KEY": github.private_key,
        "MLGATE_GITHUB_API_URL": github.base_url,
        "MLGATE_DATABASE_URL": f"sqlite:///{tmp / 'mlgate.db'}",
        "MLGATE_QUEUE_URL": f"sqlite:///{tmp / 'queue.db'}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        **(backend or {}),
        "MLGATE_PUBLIC_URL": url,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"),
    }


@contextmanager
def app_processes(github: Any, tmp: Path, backend: Mapping[str, str] | None = None, *, web_workers: int = 2,
                  worker_threads: int = 2) -> Iterator[dict[str, Any]]:
    """gunicorn `bot.app:create_app()` and `mlgate worker` on loopback, logging to tmp/web.log and
    tmp/worker.log, with the stand-in's webhook pointed at them; both stopped on exit."""
    root = Path(__file__).resolve().parents[1]
    bindir = Path(sys.executable).parent
    url = f"http://127.0.0.1:{free_port()}"
    env = app_env(github, tmp, url, backend)
    logs = {name: open(tmp / f"{name}.log", "w") for name in ("web", "worker")}  # noqa: SIM115
    web = subprocess.Popen([str(bindir / "gunicorn"), "--workers", str(web_workers), "--bind", url[len("http://"):],
                            "bot.app:create_app()"], cwd=root, env=env, stdout=logs["web"], stderr=subprocess.STDOUT)
    worker = subprocess.Popen([str(bindir / "mlgate"), "worker", "--workers", str(worker_threads)], cwd=root,
                              env=env, stdout=logs["worker"], stderr=subprocess.STDOUT)
    try:
        wait_for("gunicorn", lambda: _healthy(url))
        github.set_webhook(url=f"{url}/webhook")
        yield {"url": url, "tmp": tmp, "web": web, "worker": worker, "env": env}
    finally:
        for p in (web, worker):
            stop(p)
        for f in logs.values():
            f.close()


def _healthy(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False
