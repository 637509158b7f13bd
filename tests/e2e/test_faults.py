"""Faults: a worker SIGKILLed mid-job, 20 times, loses no job and leaves exactly one comment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.app.conftest import CONFIG, AppHarness

BIN = Path(sys.executable).parent
KILLS = 20


def test_sigkill_mid_job_twenty_times_loses_nothing(github: Any, tmp_path: Path) -> None:
    github.push("acme/churn", "main", {".github/mlgate.yml": CONFIG})
    app = AppHarness(github, tmp_path)  # the web side in-process; the worker is a real process
    from bot.queue import make_queue

    _, task = make_queue(app.settings)
    github.set_webhook(sink=lambda h, b: app.client.post("/webhook", data=b, headers=h).status_code)
    env = {**os.environ, "MLGATE_WEBHOOK_SECRET": github.webhook_secret, "MLGATE_APP_ID": str(github.app_id),
           "MLGATE_PRIVATE_KEY": github.private_key, "MLGATE_GITHUB_API_URL": github.base_url,
           "MLGATE_DATABASE_URL": app.settings.database_url, "MLGATE_QUEUE_URL": app.settings.queue_url}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(BIN / "mlgate"), "worker", "--workers", "1", "--stale-after", "1"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    n = pr["number"]
    for kill in range(KILLS):
        # every job stalls in the middle (its comment write is slow) until the worker is killed
        github.inject_fault("GET", r"/issues/\d+/comments$", "slow", times=1, retry_after=30)
        github.inject_fault("PATCH", r"/issues/comments/\d+$", "slow", times=1, retry_after=30)
        seen = github.slow_started
        if kill:
            github.push_to_pull_request("acme/churn", n, {"data/a.csv": f"a\n{kill}\n"})
        for delivery in app.queued:
            task(delivery)
        app.queued.clear()
        worker = start()
        deadline = time.monotonic() + 60
        while github.slow_started == seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert github.slow_started > seen, "the job never reached GitHub"
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        for f in github.faults:
            f.remaining = 0
    deliveries = app.store.recent_deliveries(100)
    # each kill left its job open; a later worker's sweep may already have finished the jobs of heads
    # a newer push replaced (they only settle their own commit), but none failed and the last is open
    statuses = [d["status"] for d in deliveries]  # newest first
    assert len(deliveries) == KILLS and statuses[0] in ("queued", "running")
    assert set(statuses) <= {"queued", "running", "done"}
    worker = start()  # the survivor: its sweep finds every delivery the dead workers left behind
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(d["status"] == "done" for d in app.store.recent_deliveries(100)):
                break
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    statuses = [d["status"] for d in app.store.recent_deliveries(100)]
    assert statuses == ["done"] * KILLS
    comments = github.comments("acme/churn", n)
    assert len(comments) == 1 and "evaluation pending" in comments[0]["body"]
    head = github.repos["acme/churn"].pulls[n]["head_sha"]
    runs = [c for c in github.check_runs("acme/churn", head) if c["name"] == "mlgate/evaluation"]
    assert len(runs) == 1 and runs[0]["status"] == "queued"
