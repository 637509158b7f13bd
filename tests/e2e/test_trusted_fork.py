"""Issue #11 end to end: a fork's PR gets its full evaluation through the trusted path only.

Real gunicorn and `mlgate worker` (tests.processes.app_processes) serve the GitHub stand-in. An
outside contributor (read access) opens a PR from their fork. Their PR's own workflow first
uploads a schema-valid report with made-up numbers, as in the attack measured on the old code:
the App refuses it and says why. Then the two-workflow pattern runs: the PR's run (event
pull_request, a read-only token and no secrets, as GitHub gives a fork) builds the candidate;
the default branch's evaluation workflow, triggered by `workflow_run`, uploads a real report
from `mlgate evaluate`; the App checks both runs through the Actions API and posts the comment
and both checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from bot.plan import EVALUATION, REVIEW
from bot.sandbox.server import make_artifact_zip
from bot.trust import NOT_TRUSTED_TITLE
from tests.e2e.test_gunicorn_worker import _report
from tests.processes import app_processes, wait_for

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / "tests" / "fixtures" / "reports" / "mlgate.yml").read_text()
REPO = "acme/churn"


def _checks(github: Any, sha: str) -> dict[str, dict[str, Any]]:
    runs = sorted(github.check_runs(REPO, sha), key=lambda c: c["id"])
    return {c["name"]: c for c in runs}  # the newest run of each name


def test_a_fork_pr_is_evaluated_only_through_the_trusted_workflow(github: Any, tmp_path: Path) -> None:
    github.push(REPO, "main", {".github/mlgate.yml": CONFIG})
    github.set_permission(REPO, "mallory", "read")
    report = _report(tmp_path)  # a real report: APAC regressed, the gate fails
    forged = json.loads(report)
    for m in forged["models"][0]["metrics"]:  # made-up numbers: every metric a clear improvement
        m.update(candidate=0.99, delta=0.2, ci_low=0.15, ci_high=0.25, p_value=0.0001)
    forged["models"][0]["segments"] = []

    with app_processes(github, tmp_path) as procs:
        pr = github.open_pull_request(REPO, {"data/train.parquet": b"x", ".github/workflows/mlgate.yml": "on: push\n"},
                                      author="mallory", fork="mallory")
        n, head = pr["number"], pr["head"]["sha"]
        assert pr["head"]["repo"]["full_name"] == "mallory/churn"
        wait_for("the pending comment", lambda: len(github.comments(REPO, n)) == 1)

        # the fork's run gets a read-only token: it cannot post a check or a comment itself
        token = github.create_token(REPO, read_only=True)
        denied = requests.post(f"{github.base_url}/repos/{REPO}/check-runs", timeout=10,
                               headers={"Authorization": f"token {token}"},
                               json={"name": EVALUATION, "head_sha": head, "status": "completed",
                                     "conclusion": "success"})
        assert denied.status_code == 403

        # the attack: the PR's own workflow (named mlgate) uploads the made-up report
        github.complete_workflow_run(REPO, n, name="mlgate", path=".github/workflows/mlgate.yml",
                                     artifact=make_artifact_zip({"mlgate-report.json": json.dumps(forged).encode()}))
        wait_for("the refusal", lambda: _checks(github, head).get(EVALUATION, {}).get("status") == "completed")
        refused = _checks(github, head)[EVALUATION]
        assert (refused["conclusion"], refused["output"]["title"]) == ("failure", NOT_TRUSTED_TITLE)
        assert "path `.github/workflows/mlgate.yml`, event `pull_request`" in refused["output"]["summary"]
        assert REVIEW not in _checks(github, head)

        # the trusted path: the fork's build run, then the default branch's evaluation
        runs = github.complete_trusted_evaluation(REPO, n, report)

        def evaluated() -> bool:
            check = _checks(github, head).get(EVALUATION, {})
            return check.get("status") == "completed" and check["output"]["title"] != NOT_TRUSTED_TITLE

        wait_for("the trusted evaluation", evaluated)
        checks = _checks(github, head)
        assert checks[EVALUATION]["conclusion"] == "failure"  # the real numbers: APAC regressed
        assert checks[EVALUATION]["output"]["title"].startswith("Gate failed")
        assert checks[EVALUATION]["details_url"].startswith(procs["url"])
        wait_for("the review check", lambda: REVIEW in _checks(github, head))
        assert _checks(github, head)[REVIEW]["conclusion"] != "success"
        # bot.apply writes the checks first (they gate the merge), then the comment: wait for the edit too
        wait_for("the comment's verdict", lambda: "the gate failed" in github.comments(REPO, n)[0]["body"])
        (comment,) = github.comments(REPO, n)
        assert "the gate failed" in comment["body"] and "region = APAC" in comment["body"]
        assert "computed by the pull request's own workflow" not in comment["body"]

        # the App read both runs through the Actions API
        paths = [c[1] for c in github.calls]
        assert f"/repos/{REPO}/actions/runs/{runs['evaluate']}" in paths
        assert f"/repos/{REPO}/actions/runs/{runs['build']}" in paths
