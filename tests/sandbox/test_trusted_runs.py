"""The stand-in's model of forks and of the two-workflow pattern (issue #11), as GitHub reports them."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import requests

REPO = "acme/churn"


def _get(github: Any, path: str) -> Any:
    token = github.create_token(REPO, read_only=True)
    resp = requests.get(f"{github.base_url}{path}", headers={"Authorization": f"token {token}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_fork_pr_and_its_runs_look_as_on_github(github: Any) -> None:
    pr = github.open_pull_request(REPO, {"train.py": "x = 1\n"}, author="mallory", fork="mallory")
    n, head = pr["number"], pr["head"]["sha"]
    assert (pr["head"]["repo"]["full_name"], pr["head"]["label"], pr["head"]["repo"]["fork"]) == \
        ("mallory/churn", "mallory:pr-1", True)
    assert pr["base"]["repo"]["full_name"] == REPO
    # found by the fork's owner:branch, and its commit is readable from the base repository
    assert [p["number"] for p in _get(github, f"/repos/{REPO}/pulls?head=mallory:pr-1")] == [n]
    assert _get(github, f"/repos/{REPO}/pulls?head=acme:pr-1") == []
    assert _get(github, f"/repos/{REPO}/commits/{head}")["sha"] == head

    runs = github.complete_trusted_evaluation(REPO, n, json.dumps({"schema_version": 1}).encode())
    build = _get(github, f"/repos/{REPO}/actions/runs/{runs['build']}")
    assert (build["event"], build["head_sha"], build["head_branch"], build["path"]) == \
        ("pull_request", head, "pr-1", ".github/workflows/mlgate-build.yml")
    assert build["pull_requests"] == []  # GitHub lists none for a fork's run
    assert (build["repository"]["full_name"], build["head_repository"]["full_name"]) == (REPO, "mallory/churn")

    evaluate = _get(github, f"/repos/{REPO}/actions/runs/{runs['evaluate']}")
    main = _get(github, f"/repos/{REPO}/branches/main")["commit"]["sha"]
    assert (evaluate["event"], evaluate["head_branch"], evaluate["head_sha"], evaluate["path"]) == \
        ("workflow_run", "main", main, ".github/workflows/mlgate-evaluate.yml")
    assert evaluate["pull_requests"] == [] and evaluate["head_repository"]["full_name"] == REPO
    artifacts = _get(github, f"/repos/{REPO}/actions/runs/{runs['evaluate']}/artifacts")["artifacts"]
    assert [a["name"] for a in artifacts] == ["mlgate-report"]
    assert [a["name"] for a in _get(github, f"/repos/{REPO}/actions/runs/{runs['build']}/artifacts")["artifacts"]] \
        == ["mlgate-candidate"]
    deliveries = [d for d in github.deliveries if d["event"] == "workflow_run"]
    assert [d["payload"]["workflow_run"]["id"] for d in deliveries] == [runs["build"], runs["evaluate"]]


def test_the_trusted_report_carries_the_provenance_mlgate_evaluate_writes(github: Any) -> None:
    pr = github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    runs = github.complete_trusted_evaluation(REPO, pr["number"], json.dumps({"schema_version": 1}).encode())
    art = github.repos[REPO].artifacts
    (report_zip,) = [a["data"] for a in art.values() if a["run_id"] == runs["evaluate"]]
    report = json.loads(zipfile.ZipFile(io.BytesIO(report_zip)).read("mlgate-report.json"))
    assert report["provenance"] == {"trusted_run_id": runs["evaluate"], "triggering_run_id": runs["build"],
                                    "head_sha": pr["head"]["sha"], "repository": REPO, "pr": pr["number"]}
    # a same-repository PR's run lists its PR
    build = github.shapes.run_json(github.repos[REPO], github.repos[REPO].runs[runs["build"]])
    assert [p["number"] for p in build["pull_requests"]] == [pr["number"]]
