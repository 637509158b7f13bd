"""Re-runs (issue #12): "Re-run" on a fork's PR, and check_suite requested / rerequested.

GitHub sends `pull_requests` empty in check_run and check_suite events when the head branch
is in a fork (the stand-in does the same); mlgate finds the PR from the head SHA.
"""

from __future__ import annotations

from typing import Any

from bot.handlers.check_run import NO_RUN_TITLE, RERUN_TITLE
from bot.handlers.check_suite import WAITING_TITLE
from bot.plan import EVALUATION, REVIEW
from bot.sandbox.webhooks import load_fixture
from tests.handlers.conftest import FAILING, PASSING, REPO, Hub


def _fork_pr(hub: Hub, files: dict[str, str | bytes] | None = None) -> tuple[int, str]:
    pr = hub.github.open_pull_request(REPO, files or {"train.py": "x\n"}, author="outsider", fork="outsider")
    return int(pr["number"]), str(pr["head"]["sha"])


def _evaluated(hub: Hub, n: int, report: bytes = PASSING) -> int:
    """The trusted two-workflow pattern; returns the evaluation run's id (the run a re-run starts again)."""
    runs = hub.github.complete_trusted_evaluation(REPO, n, report)
    hub.one()
    return int(runs["evaluate"])


def _sent(hub: Hub, event: str) -> dict[str, Any]:
    payload: dict[str, Any] = next(d for d in reversed(hub.github.deliveries) if d["event"] == event)["payload"]
    return payload


def test_rerun_on_a_fork_pr_reruns_that_commits_evaluation(hub: Hub) -> None:
    n, head = _fork_pr(hub)
    hub.one()
    run_id = _evaluated(hub, n)
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"
    hub.github.rerequest_check_run(REPO, hub.checks(head)[EVALUATION]["id"])
    assert _sent(hub, "check_run")["check_run"]["pull_requests"] == []  # as GitHub sends it for a fork's head
    hub.one()
    assert hub.github.reruns(REPO) == [run_id]
    check = hub.checks(head)[EVALUATION]
    assert (check["status"], check["output"]["title"]) == ("queued", RERUN_TITLE)


def test_rerun_of_the_review_check_on_a_fork_pr_recounts_the_approvals(hub: Hub) -> None:
    n, head = _fork_pr(hub, {"data/train.csv": "a\n1\n"})
    hub.one()
    _evaluated(hub, n, FAILING)
    assert hub.checks(head)[REVIEW]["status"] == "in_progress"
    hub.github.add_team_member("acme", "ml-reviewers", "rita")
    hub.github.review(REPO, n, user="rita", sha=head)
    hub.inbox.clear()  # the review's own event is lost: only the re-run can count it
    hub.github.rerequest_check_run(REPO, hub.checks(head)[REVIEW]["id"])
    hub.one()
    assert hub.checks(head)[REVIEW]["output"]["title"] == "Approved by rita"


def test_rerun_all_checks_reruns_the_evaluation_of_a_fork_pr_and_of_a_branch_pr(hub: Hub) -> None:
    fork_n, fork_head = _fork_pr(hub)
    hub.one()
    fork_run = _evaluated(hub, fork_n)
    pr = hub.github.open_pull_request(REPO, {"train.py": "y\n"})
    hub.one()
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    run = _evaluated(hub, n)
    hub.github.rerequest_check_suite(REPO, fork_head)
    assert _sent(hub, "check_suite")["check_suite"]["pull_requests"] == []
    hub.one()
    hub.github.rerequest_check_suite(REPO, head)
    assert [p["number"] for p in _sent(hub, "check_suite")["check_suite"]["pull_requests"]] == [n]
    hub.one()
    assert hub.github.reruns(REPO) == [fork_run, run]
    for sha in (fork_head, head):
        assert hub.checks(sha)[EVALUATION]["output"]["title"] == RERUN_TITLE
    # the re-run's report completes the check again
    _evaluated(hub, n, FAILING)
    assert hub.checks(head)[EVALUATION]["conclusion"] == "failure"


def test_rerun_all_checks_without_a_known_run_says_what_to_do(hub: Hub) -> None:
    n, head = _fork_pr(hub)
    hub.one()
    hub.github.rerequest_check_suite(REPO, head)
    hub.one()
    check = hub.checks(head)[EVALUATION]
    assert check["output"]["title"] == NO_RUN_TITLE and check["status"] == "queued"
    assert "nothing to re-run" in check["output"]["summary"] and "Actions tab" in check["output"]["summary"]
    assert hub.github.reruns(REPO) == []


def test_a_new_suite_on_a_fork_head_gets_waiting_checks_before_the_pr_event(hub: Hub) -> None:
    n, head = _fork_pr(hub)
    (opened,) = hub.inbox
    hub.inbox.clear()
    hub.github.request_check_suite(REPO, head)  # GitHub's suite event for the push came first
    out = hub.one()
    # the store knew nothing: the PR was found among the open PRs (one call), then both checks created
    assert [c[0] for c in out.calls] == ["GET", "POST", "POST"], out.calls
    checks = hub.checks(head)
    for name in (EVALUATION, REVIEW):
        assert (checks[name]["status"], checks[name]["conclusion"], checks[name]["output"]["title"]) == (
            "queued", None, WAITING_TITLE)
    hub.inbox.append(opened)
    hub.one()
    _evaluated(hub, n)
    done = hub.checks(head)
    assert done[EVALUATION]["conclusion"] == "success"
    assert done[REVIEW]["output"]["title"] != WAITING_TITLE  # the evaluation decided what the review needs
    # the same checks were completed, never a second run of either
    assert [c["id"] for c in hub.github.check_runs(REPO, head)] == [checks[EVALUATION]["id"], checks[REVIEW]["id"]]
    # a suite event arriving late changes nothing
    hub.github.request_check_suite(REPO, head)
    out = hub.one()
    assert not [c for c in out.calls if c[0] != "GET"], out.calls
    assert hub.checks(head) == done


def test_a_new_suite_on_the_default_branch_or_a_branch_without_a_pr_gets_nothing(hub: Hub) -> None:
    main = hub.github.push(REPO, "main", {"README.md": "x\n"})
    hub.github.request_check_suite(REPO, main)
    out = hub.one()
    assert out.calls == []
    branch = hub.github.push(REPO, "topic", {"train.py": "z\n"})
    hub.github.request_check_suite(REPO, branch)
    hub.one()
    assert hub.github.check_runs(REPO, branch) == []


def test_the_check_suite_fixtures_are_githubs_examples() -> None:
    """The stand-in's check_suite deliveries start from @octokit/webhooks-examples, as they are."""
    rerequested = load_fixture("check_suite", "rerequested-1")
    assert "_mlgate_fixture_note" not in rerequested and rerequested["check_suite"]["pull_requests"]
    assert load_fixture("check_suite", "requested-1")["check_suite"]["pull_requests"] == []


def test_a_suite_of_another_app_is_none_of_mlgates_business(hub: Hub) -> None:
    n, head = _fork_pr(hub)
    hub.one()
    _evaluated(hub, n)
    r = hub.github.repos[REPO]
    suite = hub.github.shapes.suite_json(r, head)
    suite["app"] = {**suite["app"], "id": 15368, "slug": "github-actions", "name": "GitHub Actions"}
    hub.github.send_webhook("check_suite", {"action": "rerequested", "check_suite": suite}, REPO, "alice")
    out = hub.one()
    assert out.calls == [] and hub.github.reruns(REPO) == []
