"""`mlgate/review` says one thing for one situation, whichever event computed it.

Waiting for someone (the evaluation, an approver) is `in_progress`; a reviewer's refusal is a
failure; enough approvals, or no review required, is a success.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.review_gate import ReviewIn, ReviewState, approval_required_title, review_state

HEAD = "0123456789abcdef0123456789abcdef01234567"


class _Regressed:
    regressed, data_failures, data_changed, inconclusive = True, 0, False, False


def _state(reviews: list[ReviewIn], **kw: Any) -> ReviewState:
    base: dict[str, Any] = dict(head_sha=HEAD, pr_author="alice", required_when=["regression"], min_approvals=2,
                                is_approver=lambda u: u != "eve", decision=_Regressed(), evaluated=True)
    return review_state(reviews, **{**base, **kw})


@pytest.mark.parametrize(("reviews", "kw", "expected"), [
    ([], {}, ("in_progress", None, "Approval required: 0 of 2 on the head commit")),
    ([ReviewIn("alice", "APPROVED", HEAD), ReviewIn("eve", "APPROVED", HEAD), ReviewIn("rita", "APPROVED", HEAD)], {},
     ("in_progress", None, "Approval required: 1 of 2 on the head commit")),
    ([ReviewIn("rita", "APPROVED", HEAD), ReviewIn("bob", "CHANGES_REQUESTED", HEAD)], {},
     ("completed", "failure", "Changes requested by bob")),
    ([ReviewIn("rita", "APPROVED", HEAD), ReviewIn("wes", "APPROVED", HEAD)], {},
     ("completed", "success", "Approved by rita, wes")),
    ([], {"decision": None}, ("completed", "success", "No review required")),
    ([], {"decision": None, "evaluated": False}, ("in_progress", None, "Waiting for the evaluation")),
])
def test_status_conclusion_and_title(reviews: list[ReviewIn], kw: dict[str, Any],
                                     expected: tuple[str, str | None, str]) -> None:
    s = _state(reviews, **kw)
    assert (s.status, s.conclusion, s.title) == expected


def test_after_an_evaluation_and_after_a_review_the_wording_is_the_same() -> None:
    # what bot.handlers.workflow_run sets before anyone reviewed, and what the gate computes then
    before = ReviewState(required=True, satisfied=False, needed=2, approvals=[], reasons=["the candidate regressed"])
    after = _state([ReviewIn("alice", "APPROVED", HEAD)])
    assert (before.status, before.conclusion, before.title) == (after.status, after.conclusion, after.title)
    assert before.title == approval_required_title(0, 2)
