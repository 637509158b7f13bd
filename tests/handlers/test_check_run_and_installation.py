"""check_run rerequested and installation events through the stand-in."""

from __future__ import annotations

from typing import Any

from bot.handlers.check_run import NO_RUN_TITLE, RERUN_TITLE
from bot.plan import EVALUATION, REVIEW
from tests.handlers.conftest import PASSING, REPO, Hub


def _rerequest(hub: Hub, sha: str, name: str, number: int) -> None:
    (check,) = [c for c in hub.github.check_runs(REPO, sha) if c["name"] == name]
    check = {**check, "pull_requests": [{"number": number, "id": 1, "url": "x",
                                         "head": {"ref": "h", "sha": sha, "repo": {"id": 1, "name": "churn", "url": "x"}},
                                         "base": {"ref": "main", "sha": "0" * 40,
                                                  "repo": {"id": 1, "name": "churn", "url": "x"}}}]}
    hub.github.send_webhook("check_run", {"action": "rerequested", "check_run": check}, REPO, "alice")


def test_rerun_of_the_evaluation_check_reruns_that_commits_workflow_run(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x\n"})
    hub.one()
    n, head = pr["number"], pr["head"]["sha"]
    run_id = hub.github.complete_trusted_evaluation(REPO, n, PASSING)["evaluate"]  # the run that made the report
    hub.one()
    _rerequest(hub, head, EVALUATION, n)
    out = hub.one()
    assert hub.github.reruns(REPO) == [run_id]
    check = hub.checks(head)[EVALUATION]
    assert (check["status"], check["output"]["title"]) == ("queued", RERUN_TITLE)
    # rerun; then the completed check is replaced by a new queued run, after a look for one
    # that an interrupted attempt may already have created
    assert [c[0] for c in out.calls] == ["POST", "GET", "POST"], out.calls


def test_rerun_without_a_known_run_says_what_to_do(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x\n"})
    hub.one()
    _rerequest(hub, pr["head"]["sha"], EVALUATION, pr["number"])
    hub.one()
    check = hub.checks(pr["head"]["sha"])[EVALUATION]
    assert check["output"]["title"] == NO_RUN_TITLE and "Actions tab" in check["output"]["summary"]
    assert hub.github.reruns(REPO) == []


def test_rerun_of_the_review_check_recounts_approvals(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"README.md": "x\n"})
    hub.one()
    _rerequest(hub, pr["head"]["sha"], REVIEW, pr["number"])
    out = hub.one()
    assert out.error is None  # a non-ML PR: the review check stays neutral
    assert hub.checks(pr["head"]["sha"])[REVIEW]["conclusion"] == "neutral"


def _inst(hub: Hub, inst: int) -> dict[str, Any]:
    found = hub.store.installation(inst)
    assert found is not None
    return found


def _installation(hub: Hub, action: str, **extra: Any) -> None:
    hub.github.send_webhook("installation", {"action": action, **extra}, REPO, "acme-admin")


def test_installation_events_record_the_repositories(hub: Hub) -> None:
    inst = hub.github.installation_id
    _installation(hub, "created", repositories=[{"id": 1, "name": "churn", "full_name": REPO}])
    hub.one()
    assert _inst(hub, inst)["repos"] == [REPO]
    hub.github.send_webhook("installation_repositories", {
        "action": "added", "repository_selection": "selected",
        "repositories_added": [{"id": 2, "name": "fraud", "full_name": "acme/fraud"}], "repositories_removed": []},
        REPO, "acme-admin")
    hub.one()
    assert _inst(hub, inst)["repos"] == ["acme/churn", "acme/fraud"]
    hub.github.send_webhook("installation_repositories", {
        "action": "removed", "repository_selection": "selected", "repositories_added": [],
        "repositories_removed": [{"id": 1, "name": "churn", "full_name": REPO}]}, REPO, "acme-admin")
    hub.one()
    assert _inst(hub, inst)["repos"] == ["acme/fraud"]
    _installation(hub, "deleted")
    hub.one()
    assert _inst(hub, inst)["active"] == 0


def test_rerun_of_a_neutral_evaluation_with_no_run_keeps_it_neutral(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"README.md": "x\n"})  # no ML changes: neutral checks
    hub.one()
    head = pr["head"]["sha"]
    assert hub.checks(head)[EVALUATION]["conclusion"] == "neutral"
    _rerequest(hub, head, EVALUATION, pr["number"])
    hub.one()
    runs = [c for c in hub.github.check_runs(REPO, head) if c["name"] == EVALUATION]
    assert [(c["status"], c["conclusion"]) for c in runs] == [("completed", "neutral")]  # not a wait for nothing
    assert runs[0]["output"]["title"] == NO_RUN_TITLE and "earlier result (`neutral`) stands" in \
        runs[0]["output"]["summary"]


def test_a_check_that_waits_again_replaces_its_run_even_when_the_create_fails_once(hub: Hub) -> None:
    from tests.handlers.conftest import FAILING

    pr = hub.github.open_pull_request(REPO, {"train.py": "x\n"})
    hub.one()
    n, head = pr["number"], pr["head"]["sha"]
    hub.github.complete_trusted_evaluation(REPO, n, FAILING)
    hub.one()
    hub.github.add_team_member("acme", "ml-reviewers", "rita")
    hub.github.set_permission(REPO, "rita", "write")
    rid = hub.github.review(REPO, n, user="rita")
    hub.one()
    approved = hub.checks(head)[REVIEW]
    assert approved["conclusion"] == "success"

    hub.github.inject_fault("POST", r"/check-runs$", "502", times=3)  # the new run's create fails, then lands
    hub.github.dismiss_review(REPO, n, rid)
    hub.one()
    runs = sorted((c for c in hub.github.check_runs(REPO, head) if c["name"] == REVIEW), key=lambda c: c["id"])
    # the green run was never adopted as the "new" one: it stays green but superseded, and the
    # newest run of the name (the one GitHub and branch protection read) waits for approval
    assert [(c["id"] == approved["id"], c["status"], c["conclusion"]) for c in runs] == [
        (True, "completed", "success"), (False, "in_progress", None)]
    assert hub.store.check_id(REPO, head, REVIEW) == runs[-1]["id"]
