"""A secondary rate limit under the real processes: gunicorn and `mlgate worker --workers 1`.

The job GitHub rate-limited goes back to the queue for a minute or more, and the worker's only
thread runs the next delivery meanwhile. Before, the job was retried five times 2 s apart and
then failed the PR's check.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bot.plan import FAILED_JOB_TITLE
from bot.store import Store
from tests.app.conftest import CONFIG
from tests.processes import app_processes, wait_for

pytestmark = pytest.mark.e2e
OBSERVE = 20.0  # seconds to watch the deferred delivery: old code had retried it 5 times and failed it by then


def test_a_rate_limited_job_waits_in_the_queue_while_the_one_thread_works_on(github: Any, tmp_path: Path) -> None:
    github.push("acme/churn", "main", {".github/mlgate.yml": CONFIG})
    store = Store(f"sqlite:///{tmp_path / 'mlgate.db'}")
    with app_processes(github, tmp_path, web_workers=1, worker_threads=1):
        # every listing of PR #1's files is refused with GitHub's secondary limit, no Retry-After
        github.inject_fault("GET", r"/pulls/1/files$", "secondary", times=100)
        limited = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
        started = time.monotonic()

        def status(number: int) -> dict[str, Any] | None:
            rows = sorted(store.recent_deliveries(10), key=lambda d: d["received_at"])
            return rows[number - 1] if len(rows) >= number else None

        wait_for("the rate-limited job", lambda: (status(1) or {}).get("attempts") == 1)
        free = github.open_pull_request("acme/churn", {"data/b.csv": "b\n"})
        wait_for("the next delivery", lambda: (status(2) or {}).get("status") == "done")
        time.sleep(max(0.0, OBSERVE - (time.monotonic() - started)))
        first = status(1)
        assert first is not None and first["status"] == "queued" and first["attempts"] == 1, first
        assert "secondary rate limit" in (first["last_error"] or "")
        assert github.count_calls("GET", "/pulls/1/files") == 1  # not retried in place, nor early
        checks = {c["name"]: c for c in github.check_runs("acme/churn", free["head"]["sha"])}
        assert checks["mlgate/evaluation"]["status"] != "completed"  # PR #2 is pending its evaluation
        # PR #1 says mlgate could not decide yet and will try again, not that it gave up
        assert not [c for c in github.check_runs("acme/churn", limited["head"]["sha"])
                    if c["output"]["title"] == FAILED_JOB_TITLE]
    log = (tmp_path / "worker.log").read_text()
    assert '"rate_limit": "secondary"' in log and "job deferred for" in log
