"""Compute-then-apply (#10 item 2) and the living comment (#14 item 1), through the stand-in.

- a workflow_run job runs the gate's `decide` once and writes each check at most once, also
  when a reviewer approved before the report came (the old code decided three times and wrote
  `mlgate/evaluation` twice: failure, then "accepted");
- the same state planned again writes nothing;
- the comment's state block follows the PR: review, accepted by, a release, earlier
  evaluations collapsed with their head SHA.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bot.gate
import bot.handlers.workflow_run as workflow_run
from bot.plan import EVALUATION, REVIEW, ReleaseNote
from tests.handlers.conftest import FAILING, PASSING, REPO, Hub
from tests.handlers.test_workflow_run import _build, _complete_evaluation, _evaluated, _open


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts every call of the gate's `decide`, wherever a handler imported it from."""
    calls: list[int] = []
    real = bot.gate.decide

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bot.gate, "decide", counting)
    monkeypatch.setattr(workflow_run, "decide", counting)
    yield calls


def _check_writes(calls: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return [c for c in calls if c[0] in ("POST", "PATCH") and "/check-runs" in c[1]]


def _reviewer(hub: Hub, login: str = "rita") -> None:
    hub.github.add_team_member("acme", "ml-reviewers", login)


def test_workflow_run_decides_once_and_writes_each_check_once(hub: Hub, decisions: list[int]) -> None:
    n, head = _open(hub)
    _evaluated(hub, n, FAILING)
    decisions.clear()
    out = hub.one()
    assert len(decisions) == 1
    writes = _check_writes(out.calls)
    assert len(writes) == 2, writes  # one per check name
    checks = hub.checks(head)
    assert checks[EVALUATION]["conclusion"] == "failure" and checks[REVIEW]["status"] == "in_progress"


def test_an_approval_before_the_report_is_counted_with_one_decision_and_one_evaluation_write(
        hub: Hub, decisions: list[int]) -> None:
    _reviewer(hub)
    n, head = _open(hub)
    build = _build(hub, n)
    hub.github.review(REPO, n, user="rita")
    hub.one()  # the review, before any evaluation: only the review check, waiting
    assert hub.checks(head)[REVIEW]["output"]["title"] == "Waiting for the evaluation"
    _complete_evaluation(hub, build, FAILING)
    decisions.clear()
    out = hub.one()
    assert len(decisions) == 1
    writes = _check_writes(out.calls)
    assert len(writes) == 2, writes  # old code: evaluation failure, review, evaluation "accepted"
    checks = hub.checks(head)
    assert (checks[EVALUATION]["conclusion"], checks[EVALUATION]["output"]["title"]) == \
        ("success", "Regression accepted by rita")
    assert checks[REVIEW]["output"]["title"] == "Approved by rita"
    assert [r["actor"] for r in hub.store.audit_records() if r["action"] == "accept_regression"] == ["rita"]
    (comment,) = hub.comments(n)
    state = comment["body"].split("\n\n### ", 1)[0]
    assert "✅ regression accepted by @\u200brita" in state and "`/promote`" in comment["body"]


def test_a_review_replans_the_state_block_and_a_repeat_writes_nothing(hub: Hub, decisions: list[int]) -> None:
    _reviewer(hub)
    n, head = _open(hub)
    _evaluated(hub, n, FAILING)
    hub.one()
    (before,) = hub.comments(n)
    top = before["body"].split("## ❌ mlgate", 1)[0]
    assert "❌ the gate failed" in top and "⏳ Approval required: 0 of 1" in top
    assert "**What unblocks it:**" in top and "@\u200bacme/ml-reviewers" in top and "accepts the regression" in top
    assert "`/promote`" not in before["body"] and "`/evaluate`" in before["body"]  # no /promote while red
    hub.github.review(REPO, n, user="rita")
    decisions.clear()
    out = hub.one()
    assert len(decisions) == 1
    assert len(_check_writes(out.calls)) == 2  # review approved, evaluation accepted
    (after,) = hub.comments(n)
    top = after["body"].split("## ❌ mlgate", 1)[0]
    assert "✅ regression accepted by @\u200brita" in top and "✅ Approved by rita" in top
    assert "What unblocks it" not in top and "`/promote`" in after["body"]
    # the check re-run on mlgate/review recounts the same state: nothing to write
    hub.github.rerequest_check_run(REPO, hub.checks(head)[REVIEW]["id"])
    out = hub.one()
    assert [c for c in out.calls if c[0] != "GET"] == []  # no check, comment or label written


def test_earlier_evaluations_are_collapsed_with_their_head(hub: Hub) -> None:
    n, first = _open(hub)
    _evaluated(hub, n, FAILING)
    hub.one()
    second = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 3\n"})
    hub.one()
    (pending,) = hub.comments(n)
    assert "⏳ pending" in pending["body"] and "evaluation pending" in pending["body"]
    assert f"head <code>{first[:7]}</code>" in pending["body"]  # the first report, collapsed
    _evaluated(hub, n, PASSING)
    hub.one()
    (comment,) = hub.comments(n)
    current, earlier = comment["body"].split("<details><summary>Earlier evaluations (1)</summary>")
    assert f"(head `{second[:7]}`)" in current and "✅ the gate passed" in current
    assert f"❌ the gate failed · head <code>{first[:7]}</code>" in earlier


def _released(hub: Hub, n: int, head: str, note: ReleaseNote) -> ReleaseNote:
    """The audit row bot.promotion writes for a release from PR `n` (the state block's source)."""
    from bot import promotion

    release = promotion.Release(action=note.action, model=note.model, alias=note.alias, actor=note.actor,
                                delivery_id=f"d-{note.action}-{note.version}", repo=REPO, pr=n, head_sha=head)
    promotion.audit(hub.store, release, note.action, "success", from_version=note.from_version,
                    to_version=note.version)
    return note


def test_a_release_updates_the_state_block_only(hub: Hub) -> None:
    from bot.apply import refresh_pr_state

    n, head = _open(hub, {"train.py": "x = 1\n"})
    _evaluated(hub, n, PASSING)
    hub.one()
    (before,) = hub.comments(n)
    assert "`/rollback`" not in before["body"]
    hub.github.review(REPO, n, user="nobody", state="COMMENTED")  # an event of this repository, for a context
    ctx = hub.context(hub.take()[0])
    refresh_pr_state(ctx, n, [_released(hub, n, head, ReleaseNote("promote", "churn-classifier", "production", "3",
                                                                   "bob", "2"))])
    (after,) = hub.comments(n)
    assert "🚀 churn-classifier promoted to version 3 (production) by @\u200bbob" in after["body"]
    assert "`/rollback`" in after["body"]
    assert after["body"].split("**Where this", 1)[1].split("\n\n", 2)[2].startswith(
        before["body"].split("**Where this", 1)[1].split("\n\n", 2)[2][:200])
    refresh_pr_state(ctx, n, [_released(hub, n, head, ReleaseNote("rollback", "churn-classifier", "production", "2",
                                                                   "max", "3"))])
    (last,) = hub.comments(n)
    assert "↩️ churn-classifier rolled back to version 2 (production) by @\u200bmax" in last["body"]
    assert last["body"].index("rolled back") < last["body"].index("promoted to version 3")  # newest first
