"""Issue #11: a report counts only from the trusted evaluation, checked through the Actions API.

The attack measured on the old code: a contributor with read access opened a PR whose own
workflow (named `mlgate`, at another path) uploaded a schema-valid report with made-up numbers,
and both checks went green. Each test below fails on that code.
"""

from __future__ import annotations

import json

from bot.handlers.inputs import PR_WORKFLOW_REVIEW_REASON
from bot.plan import EVALUATION, REVIEW
from bot.sandbox.server import make_artifact_zip
from bot.trust import NOT_TRUSTED_TITLE
from tests.handlers.conftest import CONFIG, FAILING, PASSING, REPO, Hub

PR_WORKFLOW = ".github/workflows/mlgate.yml"


def _zip(report: bytes) -> bytes:
    return make_artifact_zip({"mlgate-report.json": report})


def _open(hub: Hub, **kw: object) -> tuple[int, str]:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"}, **kw)
    hub.one()
    return int(pr["number"]), str(pr["head"]["sha"])


def _refused(hub: Hub, sha: str) -> str:
    check = hub.checks(sha)[EVALUATION]
    assert (check["status"], check["conclusion"]) == ("completed", "failure"), check
    assert check["output"]["title"] == NOT_TRUSTED_TITLE
    return str(check["output"]["summary"])


def _no_numbers_posted(hub: Hub, number: int, sha: str) -> None:
    assert hub.store.latest_evaluation(REPO, number) is None
    assert all("Gate passed" not in c["body"] for c in hub.comments(number))
    assert hub.checks(sha).get(REVIEW, {}).get("conclusion") != "success"


def test_a_report_forged_by_the_prs_own_workflow_is_refused(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), name="mlgate", path=PR_WORKFLOW)
    hub.run()
    summary = _refused(hub, head)
    assert "path `.github/workflows/mlgate.yml`, event `pull_request`, branch `pr-1`" in summary
    assert "`.github/workflows/mlgate-evaluate.yml` run by the `workflow_run` event on `main`" in summary
    _no_numbers_posted(hub, n, head)


def test_a_report_forged_by_a_forks_workflow_is_refused(hub: Hub) -> None:
    n, head = _open(hub, fork="mallory", author="mallory")
    hub.github.set_permission(REPO, "mallory", "read")
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), name="mlgate", path=PR_WORKFLOW)
    hub.run()
    assert "event `pull_request`" in _refused(hub, head)
    _no_numbers_posted(hub, n, head)


def test_the_pr_may_not_run_the_trusted_workflow_file_itself(hub: Hub) -> None:
    # the PR edits .github/workflows/mlgate-evaluate.yml to run on pull_request: right path, wrong event
    n, head = _open(hub, fork="mallory", author="mallory")
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), name="mlgate-evaluate",
                                     path=".github/workflows/mlgate-evaluate.yml")
    hub.run()
    assert "event `pull_request`, branch `pr-1`" in _refused(hub, head)
    _no_numbers_posted(hub, n, head)


def test_the_right_name_at_another_path_is_refused(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), name="mlgate",
                                     path=".github/workflows/sneaky.yml")
    hub.run()
    assert "path `.github/workflows/sneaky.yml`" in _refused(hub, head)
    # a workflow_run workflow of the default branch at another path is not the evaluation either
    build = hub.github.complete_workflow_run(REPO, n, name="mlgate-build", path=".github/workflows/mlgate-build.yml")
    report = json.loads(PASSING)
    report["provenance"] = {"trusted_run_id": 1, "triggering_run_id": build}
    hub.github.complete_evaluation_run(REPO, triggered_by=build, artifact=_zip(json.dumps(report).encode()),
                                       name="mlgate-evaluate", path=".github/workflows/other.yml")
    hub.run()
    assert hub.checks(head)[EVALUATION]["conclusion"] == "failure"
    _no_numbers_posted(hub, n, head)


def test_a_trusted_report_for_another_commit_is_not_the_heads(hub: Hub) -> None:
    n, old = _open(hub)
    new = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.run()
    hub.github.complete_trusted_evaluation(REPO, n, PASSING, head_sha=old)  # built the old head
    hub.run()
    assert f"built {old[:12]}, but the head of #{n} is {new[:12]}" in _refused(hub, old)
    assert hub.checks(new)[EVALUATION]["status"] != "completed"  # the head still waits for its own
    _no_numbers_posted(hub, n, new)


def test_the_pr_is_found_from_github_not_from_the_report(hub: Hub) -> None:
    n1, head1 = _open(hub)
    n2, head2 = _open(hub)
    report = json.loads(FAILING)
    report["run"]["pr"] = n1  # the report's own claims are not what decides
    hub.github.complete_trusted_evaluation(REPO, n2, json.dumps(report).encode())
    hub.run()
    assert hub.checks(head2)[EVALUATION]["conclusion"] == "failure"
    assert hub.store.latest_evaluation(REPO, n2) is not None
    assert hub.store.latest_evaluation(REPO, n1) is None
    assert hub.checks(head1)[EVALUATION]["status"] != "completed"


def test_a_fork_pr_gets_its_evaluation_through_the_trusted_workflow(hub: Hub) -> None:
    n, head = _open(hub, fork="mallory", author="mallory")
    runs = hub.github.complete_trusted_evaluation(REPO, n, PASSING)
    outcomes = hub.run()
    assert [o.error for o in outcomes] == [None, None]
    build = hub.github.pull(REPO, n)
    assert build["head"]["repo"]["full_name"] == "mallory/churn"
    check = hub.checks(head)[EVALUATION]
    assert check["conclusion"] == "success", check["output"]
    evaluation = hub.store.latest_evaluation(REPO, n)
    assert evaluation is not None and evaluation["run_id"] == runs["evaluate"]
    (comment,) = hub.comments(n)
    assert "Gate passed" in comment["body"] or "passed" in comment["body"]
    assert "Computed by this pull request's own workflow" not in comment["body"]


def test_single_workflow_mode_is_accepted_and_labelled(hub: Hub) -> None:
    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG + (
        f"evaluation: {{trust: pull_request, workflow: {PR_WORKFLOW}}}\n")})
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), path=PR_WORKFLOW)
    hub.run()
    checks = hub.checks(head)
    assert checks[EVALUATION]["conclusion"] == "success"
    (comment,) = hub.comments(n)
    assert "Computed by this pull request's own workflow" in comment["body"]
    # its author (alice) has no write permission: review is required although nothing regressed
    assert checks[REVIEW]["status"] == "in_progress"
    assert PR_WORKFLOW_REVIEW_REASON in checks[REVIEW]["output"]["summary"]
    hub.github.add_team_member("acme", "ml-reviewers", "rita")
    hub.github.review(REPO, n, user="rita")
    hub.run()  # the review handler recounts, and still knows where the numbers came from
    assert hub.checks(head)[REVIEW]["conclusion"] == "success"
    # still not any workflow of the PR: another path is refused in this mode too
    head2 = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 3\n"})
    hub.run()
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), path=".github/workflows/other.yml")
    hub.run()
    assert "path `.github/workflows/other.yml`" in _refused(hub, head2)


def test_single_workflow_mode_needs_no_review_from_a_writer(hub: Hub) -> None:
    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG + (
        f"evaluation: {{trust: pull_request, workflow: {PR_WORKFLOW}}}\n")})
    hub.github.set_permission(REPO, "wendy", "write")
    n, head = _open(hub, author="wendy")
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), path=PR_WORKFLOW)
    hub.run()
    assert hub.checks(head)[REVIEW]["conclusion"] == "success"


def test_a_forged_report_after_the_trusted_one_does_not_undo_it(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.complete_trusted_evaluation(REPO, n, FAILING)
    hub.run()
    first = hub.checks(head)[EVALUATION]
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), path=PR_WORKFLOW)
    hub.run()
    assert hub.checks(head)[EVALUATION]["id"] == first["id"]
    assert hub.checks(head)[EVALUATION]["output"]["title"] == first["output"]["title"]


def test_an_invalid_trusted_report_is_shown_on_the_pr_it_names(hub: Hub) -> None:
    # e.g. an action newer than the App: the report fails validation, its provenance does not
    n, head = _open(hub)
    build = hub.github.complete_workflow_run(REPO, n, name="mlgate-build", path=".github/workflows/mlgate-build.yml")
    hub.run()
    report = json.loads(FAILING)
    report["schema_version"] = 2
    report["provenance"] = {"trusted_run_id": 1, "triggering_run_id": build}
    hub.github.complete_evaluation_run(REPO, triggered_by=build, artifact=_zip(json.dumps(report).encode()))
    hub.run()
    check = hub.checks(head)[EVALUATION]
    assert (check["conclusion"], check["output"]["title"]) == ("failure", "Invalid mlgate report")
    assert "schema\\_version" in check["output"]["summary"] or "schema_version" in check["output"]["summary"]
    assert hub.store.latest_evaluation(REPO, n) is None
    # a forged provenance in a PR's own artifact changes nothing: the PR's run is refused first
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(json.dumps(report).encode()), path=PR_WORKFLOW)
    hub.run()
    assert hub.checks(head)[EVALUATION]["output"]["title"] in ("Invalid mlgate report", NOT_TRUSTED_TITLE)
