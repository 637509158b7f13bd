"""workflow_run completed: artifact -> base policy -> comment, checks, labels, review."""

from __future__ import annotations

import json
import time

import pytest

from bot.context import Event
from bot.github_client import RetryLater
from bot.handlers import EVALUATION, LABEL_REGRESSION, REVIEW
from bot.handlers.workflow_run import POLICY_DIFFERS_NOTE, on_completed
from bot.render import MARKER
from bot.sandbox.server import make_artifact_zip
from tests.handlers.conftest import FAILING, PASSING, REPO, Hub


def _zip(report: bytes) -> bytes:
    return make_artifact_zip({"mlgate-report.json": report})


def _open(hub: Hub, files: dict[str, str | bytes] | None = None) -> tuple[int, str]:
    pr = hub.github.open_pull_request(REPO, files or {"data/train.csv": "a\n1\n", "train.py": "x = 1\n"})
    hub.one()
    return int(pr["number"]), str(pr["head"]["sha"])


def test_failing_report_updates_comment_checks_label_and_review_within_seven_calls(hub: Hub) -> None:
    n, head = _open(hub)
    (pending,) = hub.comments(n)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(FAILING))
    out = hub.one()
    assert len(out.calls) <= 7, out.calls
    (comment,) = hub.comments(n)
    assert comment["id"] == pending["id"]
    body = comment["body"]
    assert body.startswith(MARKER) and "the gate failed" in body
    assert "| roc\\_auc | 0.7842 | 0.7782 |" in body and "| region = APAC |" in body  # metric and segment tables
    evaluation = hub.store.latest_evaluation(REPO, n)
    assert evaluation is not None and f"https://mlgate.example.com/reports/{evaluation['id']}" in body
    checks = hub.checks(head)
    assert (checks[EVALUATION]["status"], checks[EVALUATION]["conclusion"]) == ("completed", "failure")
    assert checks[EVALUATION]["output"]["title"].startswith("Gate failed")
    assert checks[EVALUATION]["details_url"].endswith(f"/reports/{evaluation['id']}")
    assert (checks[REVIEW]["status"], checks[REVIEW]["output"]["title"]) == \
        ("in_progress", "Approval required: 0 of 1 on the head commit")
    summary = checks[REVIEW]["output"]["summary"]
    assert "Review is required because the candidate regressed" in summary and "@​acme/ml-reviewers" in summary
    assert LABEL_REGRESSION in hub.github.labels(REPO, n)


def test_call_budget_on_a_cold_worker(hub: Hub) -> None:
    n, _ = _open(hub)
    hub.cold()
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(FAILING))
    out = hub.one()
    # the base config comes from the store (the pull_request job read it), not from GitHub again
    assert not [c for c in out.calls if "/contents/" in c[1]], out.calls
    assert len(out.calls) <= 7, out.calls
    hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    hub.cold()
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(FAILING))
    out = hub.one()
    assert len(out.calls) <= 6, out.calls  # still regressed: the label stays, no call for it


def test_passing_report_passes_and_removes_the_regression_label(hub: Hub) -> None:
    n, _ = _open(hub, {"train.py": "x = 1\n"})
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(FAILING))
    hub.one()
    assert LABEL_REGRESSION in hub.github.labels(REPO, n)
    head = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING))
    out = hub.one()
    assert len(out.calls) <= 7, out.calls
    checks = hub.checks(head)
    assert checks[EVALUATION]["conclusion"] == "success"
    assert (checks[REVIEW]["status"], checks[REVIEW]["conclusion"]) == ("completed", "success")
    assert LABEL_REGRESSION not in hub.github.labels(REPO, n)
    (comment,) = hub.comments(n)
    assert "the gate failed" not in comment["body"]


def test_a_stale_report_never_overwrites_the_newer_head(hub: Hub) -> None:
    n, old = _open(hub)
    new = hub.github.push_to_pull_request(REPO, n, {"data/train.csv": "a\n2\n"})
    hub.one()
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(FAILING), head_sha=old)
    hub.one()
    (comment,) = hub.comments(n)
    assert "evaluation pending" in comment["body"]
    assert hub.store.latest_evaluation(REPO, n) is None
    assert hub.checks(new)[EVALUATION]["status"] == "queued"
    assert REVIEW not in hub.checks(new) and LABEL_REGRESSION not in hub.github.labels(REPO, n)
    # the old commit gets its own result, saying it is no longer the head
    old_check = hub.checks(old)[EVALUATION]
    assert old_check["conclusion"] == "failure"
    assert f"no longer the head of #{n}" in old_check["output"]["summary"]


def test_redelivered_completion_has_no_second_effect(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(FAILING))
    hub.one()
    first = hub.store.latest_evaluation(REPO, n)
    hub.github.redeliver()
    hub.one()
    assert len(hub.comments(n)) == 1
    assert len(hub.github.check_runs(REPO, head)) == 2  # evaluation and review, each once
    again = hub.store.latest_evaluation(REPO, n)
    assert first is not None and again is not None and again["id"] == first["id"]
    assert hub.github.labels(REPO, n).count(LABEL_REGRESSION) == 1


def test_approval_given_before_the_report_is_counted(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.add_team_member("acme", "ml-reviewers", "rita")
    hub.github.review(REPO, n, user="rita", sha=head)
    hub.run()  # the review event: no evaluation yet
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(FAILING))
    hub.one()
    checks = hub.checks(head)
    assert checks[REVIEW]["conclusion"] == "success", checks[REVIEW]["output"]
    assert checks[REVIEW]["output"]["title"] == "Approved by rita"


def test_other_workflows_are_ignored(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(FAILING), name="lint")
    out = hub.one()
    assert hub.checks(head)[EVALUATION]["status"] == "queued"
    assert [c for c in out.calls if "/actions/" in c[1]] == []


def test_a_report_made_with_another_policy_says_so(hub: Hub) -> None:
    n, _ = _open(hub)
    report = json.loads(FAILING)
    report["policy"]["models"][0]["metrics"]["roc_auc"]["max_drop"] = 0.5  # CI ran a loosened copy
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(json.dumps(report).encode()))
    hub.one()
    (comment,) = hub.comments(n)
    assert "differs from the base branch" in comment["body"] and "the gate failed" in comment["body"]
    assert POLICY_DIFFERS_NOTE.startswith("the evaluation ran with")


@pytest.mark.parametrize(
    ("artifact", "conclusion", "needle"),
    [
        (b"not a zip", "success", "not a zip file"),
        (make_artifact_zip({"../../etc/passwd": b"x", "mlgate-report.json": FAILING}), "success", "unsafe file name"),
        (make_artifact_zip({"mlgate-report.json": b'{"schema_version": 2}'}), "success", "report is invalid"),
        (make_artifact_zip({f"f{i}.json": b"{}" for i in range(11)}), "success", "at most 10"),
        (None, "failure", "ended `failure` and uploaded no `mlgate-report` artifact"),
        (None, "success", "uploaded no `mlgate-report` artifact"),
    ],
)
def test_missing_or_hostile_artifact_fails_the_check_with_the_reason(
    hub: Hub, artifact: bytes | None, conclusion: str, needle: str
) -> None:
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=artifact, conclusion=conclusion)
    hub.one()
    check = hub.checks(head)[EVALUATION]
    assert check["conclusion"] == "failure"
    assert needle in check["output"]["summary"], check["output"]["summary"]
    assert hub.store.latest_evaluation(REPO, n) is None
    assert "evaluation pending" in hub.comments(n)[0]["body"]  # no partial state


def test_an_artifact_larger_than_the_limit_is_refused_before_download(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=b"PK" + b"\0" * (11 * 1024 * 1024))
    out = hub.one()
    assert "bytes; the limit is" in hub.checks(head)[EVALUATION]["output"]["summary"]
    assert not [c for c in out.calls if c[1].endswith("/zip")]


def test_429_with_retry_after_is_honoured(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.inject_fault("GET", r"/actions/runs/\d+/artifacts$", "429", times=1, retry_after=1)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING))
    started = time.monotonic()
    out = hub.one()
    assert time.monotonic() - started >= 1.0
    assert out.attempts == 1 and hub.checks(head)[EVALUATION]["conclusion"] == "success"
    assert [c[2] for c in out.calls if c[1].endswith("/artifacts")] == [429, 200]


def test_a_long_rate_limit_goes_back_to_the_queue(hub: Hub) -> None:
    n, _ = _open(hub)
    hub.github.inject_fault("GET", r"/actions/runs/\d+/artifacts$", "429", times=1, retry_after=120)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING))
    headers, body = hub.inbox.pop()
    from bot.events import parse_event

    event: Event = parse_event(headers, body)
    started = time.monotonic()
    with pytest.raises(RetryLater) as info:
        on_completed(hub.context(event))
    assert time.monotonic() - started < 5  # not slept in the worker
    assert 100 <= info.value.seconds <= 120 and info.value.status == 429


def test_rate_limited_check_update_waits_for_the_reset(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.inject_fault("PATCH", r"/check-runs/\d+$", "rate_limit", times=1, retry_after=1)
    hub.github.inject_fault("POST", r"/check-runs$", "rate_limit", times=1, retry_after=1)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING))
    out = hub.one()
    assert out.attempts == 1
    checks = hub.checks(head)
    assert checks[EVALUATION]["conclusion"] == "success" and checks[REVIEW]["conclusion"] == "success"


def test_job_failure_after_the_last_retry_is_visible_on_the_check(hub: Hub) -> None:
    from bot.handlers import FAILED_JOB_TITLE, on_job_failed

    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING))
    headers, body = hub.inbox.pop()
    from bot.events import parse_event

    ctx = hub.context(parse_event(headers, body))
    on_job_failed(ctx, RetryLater("downloading artifact mlgate-report: GitHub answered 502", 5.0, 502))
    check = hub.checks(head)[EVALUATION]
    assert (check["conclusion"], check["output"]["title"]) == ("failure", FAILED_JOB_TITLE)
    assert "GitHub answered 502" in check["output"]["summary"] and ctx.delivery_id in check["output"]["summary"]


def test_job_failure_of_an_unrelated_run_leaves_a_finished_check_alone(hub: Hub) -> None:
    from bot.handlers import on_job_failed

    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING))
    hub.one()
    hub.github.complete_workflow_run(REPO, n, artifact=None, name="lint")
    headers, body = hub.inbox.pop()
    from bot.events import parse_event

    on_job_failed(hub.context(parse_event(headers, body)), RuntimeError("boom"))
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"

