"""workflow_run completed: artifact -> base policy -> comment, checks, labels, review.

Reports arrive as in the trusted mode (the default): the PR's own run builds the candidate,
the default branch's `workflow_run` evaluation uploads the report (`_evaluated`). The hostile
artifact tests use the single-workflow mode, where the PR's own run uploads the report.
"""

from __future__ import annotations

import json
import time

import pytest

from bot.context import Event
from bot.github_client import RetryLater
from bot.handlers.inputs import POLICY_DIFFERS_NOTE
from bot.handlers.workflow_run import on_completed
from bot.plan import EVALUATION, LABEL_REGRESSION, REVIEW
from bot.render import MARKER
from bot.sandbox.server import make_artifact_zip
from tests.handlers.conftest import CONFIG, FAILING, PASSING, REPO, Hub


def _zip(report: bytes) -> bytes:
    return make_artifact_zip({"mlgate-report.json": report})


def _build(hub: Hub, n: int, head_sha: str | None = None) -> int:
    """The PR's own run builds the candidate (no report); its delivery is processed."""
    run = int(hub.github.complete_workflow_run(REPO, n, name="mlgate-build", path=".github/workflows/mlgate-build.yml",
                                               head_sha=head_sha, artifact_name="mlgate-candidate",
                                               artifact=make_artifact_zip({"candidate/MLmodel": b"flavors: {}\n"})))
    hub.run()
    return run


def _complete_evaluation(hub: Hub, build: int, report: bytes | None) -> int:
    """The trusted evaluation of `build` uploads `report` with the provenance mlgate evaluate writes."""
    artifact, run_id = None, hub.github.reserve_run_id()
    if report is not None:
        data = json.loads(report)
        data["provenance"] = {"trusted_run_id": run_id, "triggering_run_id": build}
        artifact = _zip(json.dumps(data).encode())
    return int(hub.github.complete_evaluation_run(REPO, triggered_by=build, artifact=artifact, run_id=run_id))


def _evaluated(hub: Hub, n: int, report: bytes, head_sha: str | None = None) -> int:
    """Both runs of the trusted pattern; the evaluation's delivery waits in the inbox."""
    return _complete_evaluation(hub, _build(hub, n, head_sha), report)


def out_run(hub: Hub) -> int:
    """The id of the newest workflow run the stand-in knows."""
    return max(hub.github.repos[REPO].runs)


def _single_workflow_mode(hub: Hub) -> None:
    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG + (
        "evaluation: {trust: pull_request, workflow: .github/workflows/mlgate.yml}\n")})


def _open(hub: Hub, files: dict[str, str | bytes] | None = None) -> tuple[int, str]:
    pr = hub.github.open_pull_request(REPO, files or {"data/train.csv": "a\n1\n", "train.py": "x = 1\n"})
    hub.one()
    return int(pr["number"]), str(pr["head"]["sha"])


def test_failing_report_updates_comment_checks_label_and_review_within_twelve_calls(hub: Hub) -> None:
    n, head = _open(hub)
    (pending,) = hub.comments(n)
    _evaluated(hub, n, FAILING)
    out = hub.one()
    assert len(out.calls) <= 12, out.calls  # see bot.handlers.workflow_run's docstring
    (comment,) = hub.comments(n)
    assert comment["id"] == pending["id"]
    body = comment["body"]
    assert body.startswith(MARKER) and "the gate failed" in body
    assert "| roc\\_auc | 0.78" in body and "| region = APAC |" in body  # metric and segment tables
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
    _evaluated(hub, n, FAILING)
    out = hub.one()
    # the base config comes from the store (the pull_request job read it), not from GitHub again
    assert not [c for c in out.calls if "/contents/" in c[1]], out.calls
    assert len(out.calls) <= 12, out.calls
    hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    hub.cold()
    _evaluated(hub, n, FAILING)
    out = hub.one()
    assert len(out.calls) <= 11, out.calls  # still regressed: the label stays, no call for it


def test_passing_report_passes_and_removes_the_regression_label(hub: Hub) -> None:
    n, _ = _open(hub, {"train.py": "x = 1\n"})
    _evaluated(hub, n, FAILING)
    hub.one()
    assert LABEL_REGRESSION in hub.github.labels(REPO, n)
    head = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    _evaluated(hub, n, PASSING)
    out = hub.one()
    assert len(out.calls) <= 11, out.calls
    checks = hub.checks(head)
    assert checks[EVALUATION]["conclusion"] == "success"
    assert (checks[REVIEW]["status"], checks[REVIEW]["conclusion"]) == ("completed", "success")
    assert LABEL_REGRESSION not in hub.github.labels(REPO, n)
    (comment,) = hub.comments(n)
    current, earlier = comment["body"].split("<details><summary>Earlier evaluations (1)</summary>")
    assert "the gate failed" not in current and "✅ the gate passed" in current
    assert "the gate failed" in earlier  # the first head's report, collapsed


def test_a_stale_report_never_overwrites_the_newer_head(hub: Hub) -> None:
    n, old = _open(hub)
    new = hub.github.push_to_pull_request(REPO, n, {"data/train.csv": "a\n2\n"})
    hub.one()
    _evaluated(hub, n, FAILING, head_sha=old)
    hub.one()
    (comment,) = hub.comments(n)
    assert "evaluation pending" in comment["body"]
    assert hub.store.latest_evaluation(REPO, n) is None
    assert hub.checks(new)[EVALUATION]["status"] == "queued"
    assert REVIEW not in hub.checks(new) and LABEL_REGRESSION not in hub.github.labels(REPO, n)
    # the old commit's check says why the report was not taken: it is no longer the head
    old_check = hub.checks(old)[EVALUATION]
    assert old_check["conclusion"] == "failure"
    assert f"built {old[:12]}, but the head of #{n} is {new[:12]}" in old_check["output"]["summary"]


def test_redelivered_completion_has_no_second_effect(hub: Hub) -> None:
    n, head = _open(hub)
    _evaluated(hub, n, FAILING)
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
    _evaluated(hub, n, FAILING)
    hub.one()
    checks = hub.checks(head)
    assert checks[REVIEW]["conclusion"] == "success", checks[REVIEW]["output"]
    assert checks[REVIEW]["output"]["title"] == "Approved by rita"


def test_other_workflows_are_ignored(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=make_artifact_zip({"junit.xml": b"<x/>"}),
                                     artifact_name="test-results", name="lint", path=".github/workflows/lint.yml")
    out = hub.one()
    assert hub.checks(head)[EVALUATION]["status"] == "queued"
    # one look for a report among its artifacts (a PR's run that uploads one is refused, not ignored)
    assert [c[1] for c in out.calls if "/actions/" in c[1]] == [f"/repos/{REPO}/actions/runs/{out_run(hub)}/artifacts"]


def test_a_report_made_with_another_policy_says_so(hub: Hub) -> None:
    n, _ = _open(hub)
    report = json.loads(FAILING)
    report["policy"]["models"][0]["metrics"]["roc_auc"]["max_drop"] = 0.5  # CI ran a loosened copy
    _evaluated(hub, n, json.dumps(report).encode())
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
    _single_workflow_mode(hub)
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=artifact, conclusion=conclusion)
    hub.one()
    check = hub.checks(head)[EVALUATION]
    assert check["conclusion"] == "failure"
    assert needle in check["output"]["summary"], check["output"]["summary"]
    assert hub.store.latest_evaluation(REPO, n) is None
    body = hub.comments(n)[0]["body"]  # no partial state: no report, and the state block says why
    assert "evaluation pending" not in body and "could not decide" in body and "no usable report" in body


def test_an_artifact_larger_than_the_limit_is_refused_before_download(hub: Hub) -> None:
    _single_workflow_mode(hub)
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=b"PK" + b"\0" * (11 * 1024 * 1024))
    out = hub.one()
    assert "bytes; the limit is" in hub.checks(head)[EVALUATION]["output"]["summary"]
    assert not [c for c in out.calls if c[1].endswith("/zip")]


def test_429_with_retry_after_is_honoured(hub: Hub) -> None:
    """A rate limit is never slept on in the worker: the job goes back to the queue, which waits
    (bot.worker.retry_delay), and the next attempt finishes it."""
    n, head = _open(hub)
    build = _build(hub, n)
    hub.github.inject_fault("GET", r"/actions/runs/\d+/artifacts$", "429", times=1, retry_after=1)
    _complete_evaluation(hub, build, PASSING)
    out = hub.one()
    assert out.attempts == 2 and hub.checks(head)[EVALUATION]["conclusion"] == "success"
    assert [c[2] for c in out.calls if c[1].endswith("/artifacts")] == [429, 200]


def test_a_long_rate_limit_goes_back_to_the_queue(hub: Hub) -> None:
    n, _ = _open(hub)
    build = _build(hub, n)
    hub.github.inject_fault("GET", r"/actions/runs/\d+/artifacts$", "429", times=1, retry_after=120)
    _complete_evaluation(hub, build, PASSING)
    headers, body = hub.inbox.pop()
    from bot.events import parse_event

    event: Event = parse_event(headers, body)
    started = time.monotonic()
    with pytest.raises(RetryLater) as info:
        on_completed(hub.context(event))
    assert time.monotonic() - started < 5  # not slept in the worker
    assert 100 <= info.value.seconds <= 120 and info.value.status == 429


def test_rate_limited_check_update_waits_for_the_reset(hub: Hub) -> None:
    n, head = _open(hub, {"train.py": "x = 1\n"})  # model code only: a data change would need a review
    build = _build(hub, n)
    hub.github.inject_fault("PATCH", r"/check-runs/\d+$", "rate_limit", times=1, retry_after=1)
    hub.github.inject_fault("POST", r"/check-runs$", "rate_limit", times=1, retry_after=1)
    _complete_evaluation(hub, build, PASSING)
    out = hub.one()
    assert 1 < out.attempts <= 3  # each rate limit sent the job back to the queue once
    checks = hub.checks(head)
    assert checks[EVALUATION]["conclusion"] == "success" and checks[REVIEW]["conclusion"] == "success"


def test_job_failure_after_the_last_retry_is_visible_on_the_check(hub: Hub) -> None:
    from bot.dispatch import report_failure as on_job_failed
    from bot.plan import FAILED_JOB_TITLE

    _single_workflow_mode(hub)
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
    from bot.dispatch import report_failure as on_job_failed

    n, head = _open(hub)
    _evaluated(hub, n, PASSING)
    hub.one()
    hub.github.complete_workflow_run(REPO, n, artifact=None, name="lint")
    headers, body = hub.inbox.pop()
    from bot.events import parse_event

    on_job_failed(hub.context(parse_event(headers, body)), RuntimeError("boom"))
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"

