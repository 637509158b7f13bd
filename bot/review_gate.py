"""The `mlgate/review` gate: a pure function from reviews and policy to the check's state.

Why pure: who approved what is security-relevant, so the rule must be testable on plain
data with no GitHub in the loop. The handler fetches the reviews, the latest evaluation's
decision and who counts as an approver, and calls `review_state`.

Rules (DESIGN.md "Security model", issue 4):
- required when the policy's `required_when` says so for the head's latest evaluation
  (regression, data_change, inconclusive) or always;
- each user's latest review wins (COMMENTED and PENDING reviews change nothing, as on
  GitHub); a DISMISSED review withdraws that user's approval;
- an approval counts only on the current head SHA, only from a configured approver, and
  never from the PR's author;
- a configured approver's CHANGES_REQUESTED blocks until it is replaced or dismissed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Conclusion = Literal["success", "failure", "neutral"]
Status = Literal["completed", "in_progress"]

_DECISIVE = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


@dataclass(frozen=True)
class ReviewIn:
    """One review as GitHub lists it (`reviews` are in submission order)."""

    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str | None
    id: int = 0

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ReviewIn:
        user = data.get("user")
        login = user.get("login") if isinstance(user, Mapping) else user
        return cls(str(login or ""), str(data.get("state") or "").upper(), data.get("commit_id"),
                   int(data.get("id") or 0))


@dataclass(frozen=True)
class ReviewState:
    """What `mlgate/review` says, and why, in terms a reviewer can act on."""

    required: bool
    satisfied: bool
    needed: int
    approvals: list[str]  # counted approvers, in order
    blocking: list[str] = field(default_factory=list)  # approvers whose changes are requested
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (user, why their approval does not count)
    reasons: list[str] = field(default_factory=list)  # why review is required
    waiting_for_evaluation: bool = False

    @property
    def waiting_for_approval(self) -> bool:
        return self.required and not self.satisfied and not self.blocking and not self.waiting_for_evaluation

    @property
    def status(self) -> Status:
        """Waiting for someone (the evaluation, a reviewer) is `in_progress`; a refusal is a failure."""
        return "in_progress" if self.waiting_for_evaluation or self.waiting_for_approval else "completed"

    @property
    def conclusion(self) -> Conclusion | None:
        if self.status == "in_progress":
            return None
        return "success" if self.satisfied else "failure"

    @property
    def title(self) -> str:
        if self.waiting_for_evaluation:
            return "Waiting for the evaluation"
        if not self.required:
            return "No review required"
        if self.satisfied:
            return f"Approved by {', '.join(self.approvals)}"
        if self.blocking:
            return f"Changes requested by {', '.join(self.blocking)}"
        return approval_required_title(len(self.approvals), self.needed)


def approval_required_title(approvals: int, needed: int) -> str:
    """The one wording of "waiting for approval", after an evaluation and after a review alike."""
    return f"Approval required: {approvals} of {needed} on the head commit"


def required_reasons(required_when: Iterable[str], decision: Any | None) -> list[str]:
    """Why the policy asks for review, given the latest evaluation's gate decision (or none)."""
    want = set(required_when)
    out: list[str] = []
    if "always" in want:
        out.append("the policy always requires review")
    if decision is None:
        return out
    if "regression" in want and getattr(decision, "regressed", False):
        out.append("the candidate regressed")
    if "regression" in want and int(getattr(decision, "data_failures", 0) or 0) > 0:
        out.append("data checks failed")
    if "data_change" in want and getattr(decision, "data_changed", False):
        out.append("the pull request changes data")
    if "inconclusive" in want and getattr(decision, "inconclusive", False):
        out.append("a gating metric is inconclusive")
    # whatever the policy says (bot.gate): what mlgate could not measure needs a person
    if getattr(decision, "undefined", None):
        out.append("a gating metric is undefined on the holdout, so the gate cannot judge it")
    if getattr(decision, "files_complete", True) is False:
        out.append("GitHub listed only part of the changed files")
    if getattr(decision, "discovered_review", None):
        out.append("mlgate found slices where the candidate is worse (discovery.gate: review)")
    return out


def review_state(
    reviews: Iterable[ReviewIn],
    *,
    head_sha: str,
    pr_author: str,
    required_when: Iterable[str],
    min_approvals: int,
    is_approver: Callable[[str], bool],
    decision: Any | None,
    evaluated: bool = True,
    extra_reasons: Iterable[str] = (),
) -> ReviewState:
    """The review gate for the PR's current head.

    `decision` is the gate Decision of the head's latest evaluation (None when there is
    none); `evaluated` False means the head has no evaluation yet, so unless the policy
    always requires review the answer is "waiting". `is_approver` answers for configured
    approvers (users, `@org/team`s, or write permission when none are configured).
    """
    reasons = required_reasons(required_when, decision if evaluated else None) + list(extra_reasons)
    latest: dict[str, ReviewIn] = {}
    for r in reviews:
        if r.state in _DECISIVE and r.user:
            latest[r.user.lower()] = r
    approvals: list[str] = []
    blocking: list[str] = []
    ignored: list[tuple[str, str]] = []
    for r in latest.values():
        if r.state == "DISMISSED":
            continue
        if r.user.lower() == pr_author.lower():
            if r.state == "APPROVED":
                ignored.append((r.user, "the author's own approval does not count"))
            continue
        if not is_approver(r.user):
            if r.state == "APPROVED":
                ignored.append((r.user, "not a configured approver"))
            continue
        if r.state == "CHANGES_REQUESTED":
            blocking.append(r.user)
        elif r.commit_id != head_sha:
            ignored.append((r.user, f"approved an older commit ({(r.commit_id or '?')[:7]})"))
        else:
            approvals.append(r.user)
    required = bool(reasons)
    waiting = not evaluated and not required
    satisfied = not required or (len(approvals) >= min_approvals and not blocking)
    return ReviewState(required=required, satisfied=satisfied and not waiting, needed=min_approvals,
                       approvals=approvals, blocking=blocking, ignored=ignored, reasons=reasons,
                       waiting_for_evaluation=waiting)
