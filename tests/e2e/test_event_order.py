"""Out-of-order deliveries through real processes (issue #12): gunicorn and two `mlgate worker`
processes of two threads each on one SQLite store, the stand-in as GitHub.

One PR's deliveries (opened, synchronize, the trusted evaluation's two workflow runs, an
approving review) are recorded from the stand-in and posted to gunicorn newest first, all at
once: the jobs run out of order and in parallel, in two processes. The PR must end as the
in-order story ends: the newer head's report in the one comment, the regression accepted by
the reviewer, both checks green on the newer head. Before the per-PR lock and the head order
in the store, a late pull_request job put "evaluation pending" back over the report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from bot.plan import EVALUATION, REVIEW
from bot.store import Store
from tests.processes import app_processes, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REPO = "acme/churn"


def test_deliveries_posted_newest_first_end_as_the_in_order_story(github: Any, tmp_path: Path) -> None:
    github.push(REPO, "main", {".github/mlgate.yml": (FIXTURES / "reports" / "mlgate.yml").read_text()})
    github.add_team_member("acme", "ml-reviewers", "rita")
    recorded: list[tuple[dict[str, str], bytes]] = []
    github.set_webhook(sink=lambda headers, body: recorded.append((headers, body)) or 202)
    pr = github.open_pull_request(REPO, {"data/train.csv": "a\n1\n", "train.py": "x = 1\n"})
    n = int(pr["number"])
    second = github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    github.complete_trusted_evaluation(REPO, n, (FIXTURES / "reports" / "failing.json").read_bytes())
    github.review(REPO, n, user="rita", sha=second)
    assert len(recorded) == 5

    with app_processes(github, tmp_path, worker_threads=2) as app:
        log = open(tmp_path / "worker-2.log", "w")  # noqa: SIM115
        other = subprocess.Popen([str(Path(sys.executable).parent / "mlgate"), "worker", "--workers", "2"],
                                 cwd=ROOT, env=app["env"], stdout=log, stderr=subprocess.STDOUT)
        try:
            for headers, body in reversed(recorded):
                assert requests.post(f"{app['url']}/webhook", data=body, headers=headers, timeout=10).status_code == 202
            store = Store(app["env"]["MLGATE_DATABASE_URL"])

            def all_done() -> bool:
                rows = store.recent_deliveries(20)
                return len(rows) == 5 and all(r["status"] in ("done", "ignored", "failed") for r in rows)

            wait_for("the five deliveries to be processed", all_done, timeout=180)
        finally:
            stop(other)
            log.close()
        assert {r["status"] for r in store.recent_deliveries(20)} <= {"done", "ignored"}

    (comment,) = github.comments(REPO, n)
    assert "evaluation pending" not in comment["body"], comment["body"]
    runs = sorted(github.check_runs(REPO, second), key=lambda r: r["id"])
    newest = {r["name"]: r for r in runs}
    assert [r["name"] for r in runs if r is not newest[r["name"]] and r["status"] != "completed"] == []
    assert (newest[EVALUATION]["status"], newest[EVALUATION]["conclusion"]) == ("completed", "success")
    assert newest[EVALUATION]["output"]["title"] == "Regression accepted by rita"
    assert (newest[REVIEW]["conclusion"], newest[REVIEW]["output"]["title"]) == ("success", "Approved by rita")
    assert store.pr_head(REPO, n) == second
