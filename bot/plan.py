"""A PR's next state, computed as data: the living comment, both checks, labels and the state block.

`plan(report, policy, reviews, previous, pr) -> PRUpdate` is pure: no GitHub, no store, no
clock. The handlers gather its inputs (the report and its one gate decision, the policy, the
reviews with who counts as an approver, what the store remembers, the PR) and bot.apply writes
the difference. The App (bot.handlers) and the Action's token mode (bot.action) call the same
`plan`, so they agree by construction.

The comment is composed of four parts, each from a template:
- the state block (templates/comment/state.md.j2): verdict, review, accepted by,
  releases, what unblocks a red gate;
- the main section: the current report (bot.render.render_comment) or "evaluation pending";
- earlier evaluations, collapsed, newest first (the oldest are dropped to stay under
  GitHub's limit, and the comment says how many);
- the commands that apply now.
A release (`restate`) changes only the state block: the main section is the one remembered,
so nothing is decided or rendered again. An event that leaves the head without an evaluation
(no ML changes, a draft, no or an invalid policy, GitHub not answering) says so in the state
block (`plan_unevaluated`), so a verdict for an earlier head never stays on top.

The releases the state block lists come from the store's release history (the audit log's
successful promotions and rollbacks from this PR, `Remembered.releases`) whenever that was
read, so any event restates them, also after a release whose own refresh was lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from bot.commands import comment_hints
from bot.config import Config
from bot.gate import Decision
from bot.review_gate import ReviewIn, ReviewState, required_reasons, review_state

if TYPE_CHECKING:
    from bot.policy import Refusal

EVALUATION = "mlgate/evaluation"
REVIEW = "mlgate/review"
LABEL_DATA = "mlgate:data-change"
LABEL_MODEL = "mlgate:model-change"
LABEL_REGRESSION = "mlgate:regression"

NO_CONFIG_TITLE = "No .github/mlgate.yml on the default branch"
NO_ML_TITLE = "No ML changes"
INVALID_CONFIG_TITLE = "Invalid .github/mlgate.yml"
PENDING_TITLE = "Waiting for the evaluation workflow"
FAILED_JOB_TITLE = "mlgate could not process this event"
UNDECIDED_TITLE = "mlgate could not decide"
DRAFT_TITLE = "Draft, not evaluated yet"
CONFIG_CHANGED_NOTE = (
    "this pull request changes .github/mlgate.yml; the policy on {branch} applies, and the change takes "
    "effect once it is merged there"
)

MAX_COMMENT_CHARS = 65536  # GitHub refuses a comment body of this many characters or more
MAX_RELEASES = 10  # releases the state block lists (the newest)
MAX_EARLIER_STORED = 20  # earlier evaluations remembered per PR (more never fit in a comment)

Status = Literal["queued", "in_progress", "completed"]
Conclusion = Literal["success", "failure", "neutral"]
# pending: the head's evaluation runs; evaluated: its report is shown; no_ml: the head changes no
# data and no model; not_evaluated: mlgate does not evaluate it (`why`: a draft, no policy);
# undecided: mlgate could not decide (`why`: an invalid policy, GitHub not answering)
Phase = Literal["pending", "evaluated", "no_ml", "not_evaluated", "undecided"]


def _reply(template: str, **values: Any) -> str:
    """`templates/<template>` in the one Jinja environment (bot.render.text): check summaries
    in checks/, the living comment's parts in comment/, texts shared with replies in replies/."""
    from bot.render.text import render_template

    return render_template(template, **values).strip() + "\n"


# ---------------------------------------------------------------- what apply writes


@dataclass(frozen=True)
class CheckUpdate:
    """One check run as it should be on GitHub."""

    name: str
    sha: str
    status: Status
    conclusion: Conclusion | None = None
    title: str = ""
    summary: str = ""
    details_url: str | None = None

    @property
    def digest(self) -> str:
        """What the store remembers of the run last written: the same run again costs no call."""
        text = json.dumps([self.status, self.conclusion, self.title, self.summary or self.title, self.details_url])
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Acceptance:
    """A regression accepted by approval: one audit record per model (bot.promotion)."""

    model: str
    approvers: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ReleaseNote:
    """A promotion or rollback made from this PR, as the state block says it."""

    action: Literal["promote", "rollback"]
    model: str
    alias: str
    version: str | None
    actor: str
    from_version: str | None = None
    canary: float | None = None


@dataclass(frozen=True)
class ReviewLine:
    """The review gate in the state block."""

    required: bool
    satisfied: bool
    waiting: bool
    title: str
    approvals: tuple[str, ...] = ()
    blocking: tuple[str, ...] = ()
    needed: int = 1


@dataclass(frozen=True)
class EarlierEvaluation:
    head_sha: str
    outcome: str
    section: str  # the comment's main section as it was then


@dataclass(frozen=True)
class PRState:
    """What the living comment's state block shows; remembered per PR (JSON) by the store."""

    head_sha: str
    phase: Phase
    outcome: str | None = None  # the gate's verdict on the head: pass | fail | inconclusive
    run_id: int | None = None
    evaluation: str | None = None  # mlgate/evaluation's conclusion (success also when a regression is accepted)
    review: ReviewLine | None = None
    accepted_by: tuple[str, ...] = ()
    acceptable: bool = False  # an approval accepts what failed
    missing_models: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()  # review.approvers; () = anyone with write access
    releases: tuple[ReleaseNote, ...] = ()
    releases_refused: Refusal | None = None  # why /promote and /rollback may not run (a code, worded by templates)
    app: bool = True  # False: the Action's token mode, which runs no commands
    uncountable_teams: tuple[str, ...] = ()  # the Action's token mode cannot read these teams' members
    regressed: bool | None = None  # whether mlgate:regression is wanted (the label's memory); None: unknown
    earlier: tuple[EarlierEvaluation, ...] = ()  # newest first
    earlier_dropped: int = 0  # earlier evaluations no longer remembered
    why: str | None = None  # not_evaluated / undecided: why, in mlgate's words (escaped when shown)

    def to_json(self) -> str:
        data = asdict(self)
        data["releases_refused"] = self.releases_refused.to_dict() if self.releases_refused is not None else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PRState | None:
        """The remembered state, or None when the row is not one this mlgate wrote (also a
        refusal remembered as words, before refusals were codes: the next plan restates it)."""
        from bot.policy import Refusal

        try:
            data = json.loads(text)
            review = data.pop("review")
            refused = data.pop("releases_refused")
            return cls(**{
                **data,
                "review": ReviewLine(**{**review, "approvals": tuple(review["approvals"]),
                                        "blocking": tuple(review["blocking"])}) if review else None,
                "accepted_by": tuple(data["accepted_by"]),
                "missing_models": tuple(data["missing_models"]),
                "approvers": tuple(data["approvers"]),
                "uncountable_teams": tuple(data.get("uncountable_teams") or ()),
                "releases": tuple(ReleaseNote(**r) for r in data["releases"]),
                "earlier": tuple(EarlierEvaluation(**e) for e in data["earlier"]),
                "releases_refused": Refusal.from_dict(refused) if refused is not None else None,
            })
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


@dataclass(frozen=True)
class PRUpdate:
    """Everything one event changes on a PR; bot.apply writes what differs from the store."""

    number: int
    head_sha: str
    checks: tuple[CheckUpdate, ...] = ()
    comment: str | None = None
    section: str = ""
    state: PRState | None = None
    labels_add: tuple[str, ...] = ()
    labels_remove: tuple[str, ...] = ()
    accepted: tuple[Acceptance, ...] = ()

    def check(self, name: str) -> CheckUpdate | None:
        return next((c for c in self.checks if c.name == name), None)


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Evaluated:
    """The head's report and the one gate decision the caller made for it."""

    report: Mapping[str, Any]
    decision: Decision
    run_id: int | None = None
    report_url: str | None = None
    notes: tuple[str, ...] = ()
    computed_by_pr: bool = False
    extra_reasons: tuple[str, ...] = ()  # review the origin of the numbers asks for (bot.trust)
    mlflow_ui_url: str | None = None  # the operator's MLflow UI (Settings.mlflow_ui_url), for links


@dataclass(frozen=True)
class Reviews:
    """The PR's reviews, and for each reviewer `users_to_resolve` named, whether they count."""

    items: tuple[ReviewIn, ...]
    approver: Mapping[str, bool] = field(default_factory=dict)  # lowercased login -> counts


@dataclass(frozen=True)
class Remembered:
    """What the store remembers of the PR's comment (bot.apply.remembered)."""

    state: PRState | None = None
    section: str = ""
    releases: tuple[ReleaseNote, ...] | None = None  # the store's release history of the PR; None: not read
    commented: bool = False  # the store knows the PR's sticky comment (also one from before pr_states)


@dataclass(frozen=True)
class PullView:
    number: int
    head_sha: str
    author: str = ""
    releases_refused: Refusal | None = None  # bot.policy.Policy.refusal
    app: bool = True
    # the Action's token mode under review.approvers naming teams: a workflow's token cannot read
    # team membership, so no approval can be counted (mlgate/review fails closed, the comment says why)
    uncountable_teams: tuple[str, ...] = ()


# ---------------------------------------------------------------- the plan


def review_reasons(decision: Decision | None, policy: Config, extra: Sequence[str] = ()) -> list[str]:
    """Why the policy asks for review of this decision; empty: no review, no reviews to read."""
    return required_reasons(policy.review.required_when, decision) + list(extra)


def users_to_resolve(reviews: Sequence[ReviewIn], author: str) -> list[str]:
    """The reviewers whose approver status the review gate reads: each one's latest decisive
    review, not dismissed, not the author's (the caller asks GitHub about these only)."""
    latest: dict[str, ReviewIn] = {}
    for r in reviews:
        if r.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED") and r.user:
            latest[r.user.lower()] = r
    return [r.user for r in latest.values() if r.state != "DISMISSED" and r.user.lower() != author.lower()]


def missing_models(report: Mapping[str, Any], policy: Config) -> list[str]:
    listed = {str(m.get("name")) for m in report.get("models", []) if isinstance(m, Mapping)}
    return [m.name for m in policy.models if m.name not in listed]


def acceptable(decision: Decision, policy: Config, missing: Sequence[str]) -> bool:
    """A failed gate a reviewer may accept: a regression (or failed data checks) that the policy
    sends to review, or an undefined gating metric. A report missing a configured model never is."""
    if decision.outcome != "fail" or missing:
        return False
    if (decision.regressed or decision.data_failures) and "regression" not in policy.review.required_when:
        return False
    return bool(decision.regressed or decision.data_failures or decision.undefined)


def _review(report: Evaluated, policy: Config, reviews: Reviews | None, pr: PullView) -> ReviewState | None:
    reasons = review_reasons(report.decision, policy, report.extra_reasons)
    if reviews is None:  # no reviews read: none needed (the App and the Action's token mode alike)
        return ReviewState(required=bool(reasons), satisfied=not reasons, needed=policy.review.min_approvals,
                           approvals=[], reasons=reasons)
    return review_state(reviews.items, head_sha=pr.head_sha, pr_author=pr.author,
                        required_when=policy.review.required_when, min_approvals=policy.review.min_approvals,
                        is_approver=lambda user: bool(reviews.approver.get(user.lower(), False)),
                        decision=report.decision, evaluated=True, extra_reasons=report.extra_reasons)


def policy_notes(policy: Config) -> list[str]:
    """What the comment notes about the policy itself: its deprecated keys (Config.unused_settings)."""
    from bot.config import CONFIG_PATH

    return [f"{CONFIG_PATH}: {warning}" for warning in policy.unused_settings()]


TOKEN_TEAMS_TITLE = "mlgate could not count approvals"


def token_teams_check(sha: str, teams: Sequence[str]) -> CheckUpdate:
    """The Action's token mode under `review.approvers` naming teams: a workflow's token cannot
    read team membership, so no approval can be counted; fail closed, saying why."""
    return _check(REVIEW, sha, "completed", "failure", TOKEN_TEAMS_TITLE, "checks/review_token_teams.md.j2",
                  teams=list(teams[:10]))


def review_check(sha: str, state: ReviewState, policy: Config) -> CheckUpdate:
    return CheckUpdate(REVIEW, sha, state.status, state.conclusion, state.title,
                       _reply("replies/review_check.md.j2", state=state, head=sha,
                                    approvers=list(policy.review.approvers)))


def plan(report: Evaluated, policy: Config, reviews: Reviews | None, previous: Remembered,
         pr: PullView) -> PRUpdate:
    """The PR's whole next state after the head's evaluation (or a review of it)."""
    from bot.render import render_check_summary

    decision, head = report.decision, pr.head_sha
    missing = missing_models(report.report, policy)
    review = _review(report, policy, reviews, pr)
    title, summary = render_check_summary(dict(report.report), decision, mlflow_ui=report.mlflow_ui_url)
    conclusion: Conclusion = "success" if decision.outcome == "pass" else "failure"
    can_accept = acceptable(decision, policy, missing)
    accepted: tuple[Acceptance, ...] = ()
    accepted_by: tuple[str, ...] = ()
    if review is not None and can_accept and review.required and review.satisfied:
        accepted_by = tuple(review.approvals)
        conclusion, title = "success", f"Regression accepted by {', '.join(accepted_by)}"
        summary = _reply("replies/accepted_check.md.j2", who=list(accepted_by), head=head) + "\n" + summary
        accepted = tuple(Acceptance(m.name, accepted_by, tuple(m.regressions)) for m in decision.models if m.regressed)
    checks = [CheckUpdate(EVALUATION, head, "completed", conclusion, title, summary, report.report_url)]
    if review is not None:
        checks.append(token_teams_check(head, pr.uncountable_teams) if pr.uncountable_teams
                      else review_check(head, review, policy))
    prev = previous.state
    redelivery = prev is not None and prev.phase == "evaluated" and prev.head_sha == head and prev.run_id == report.run_id
    outcome = "inconclusive" if decision.outcome == "pass" and decision.inconclusive else decision.outcome
    state = PRState(
        head_sha=head, phase="evaluated", outcome=outcome, run_id=report.run_id, evaluation=conclusion,
        review=_review_line(review), accepted_by=accepted_by, acceptable=can_accept, missing_models=tuple(missing),
        approvers=tuple(policy.review.approvers), releases=_releases(previous),
        releases_refused=pr.releases_refused, app=pr.app, regressed=decision.regressed,
        uncountable_teams=pr.uncountable_teams if review is not None else (),
        earlier=_earlier(prev, previous.section, keep=redelivery),
        earlier_dropped=prev.earlier_dropped if prev else 0)
    state = _bounded(state)
    add, remove = _regression_label(prev, decision.regressed) if pr.app else ((), ())
    section = _report_section(report, decision, reserve=len(_state_block(state)) + len(_commands_block(state)))
    return PRUpdate(pr.number, head, tuple(checks), compose_comment(state, section), section, state, add, remove,
                    accepted)


def plan_pending(policy: Config, previous: Remembered, pr: PullView, notes: Sequence[str] = ()) -> PRUpdate:
    """The comment while the head's evaluation runs: the earlier report collapsed below."""
    from bot.render import MARKER, render_pending_comment

    prev = previous.state
    same = prev is not None and prev.head_sha == pr.head_sha and prev.phase == "pending"
    state = _bounded(PRState(
        head_sha=pr.head_sha, phase="pending", approvers=tuple(policy.review.approvers),
        releases=_releases(previous), releases_refused=pr.releases_refused, app=pr.app,
        regressed=_label_memory(previous), earlier=_earlier(prev, previous.section, keep=same),
        earlier_dropped=prev.earlier_dropped if prev else 0))
    section = render_pending_comment([m.name for m in policy.models], notes).removeprefix(MARKER + "\n")
    return PRUpdate(pr.number, pr.head_sha, (), compose_comment(state, section), section, state)


def restate(previous: Remembered, pr: PullView, releases: Sequence[ReleaseNote] = ()) -> PRUpdate:
    """After a release from this PR: the same comment with its state block brought up to date.
    The store's release history, when read, already holds the release; else it is appended."""
    prev = previous.state
    if prev is None:
        return PRUpdate(pr.number, pr.head_sha)
    known = previous.releases if previous.releases is not None else prev.releases + tuple(releases)
    state = _bounded(replace(prev, releases=known))
    return PRUpdate(pr.number, prev.head_sha, (), compose_comment(state, previous.section), previous.section, state)


def plan_unevaluated(previous: Remembered, pr: PullView, phase: Literal["no_ml", "not_evaluated", "undecided"],
                     why: str | None = None) -> PRUpdate:
    """The comment when the head gets no evaluation (the checks say so separately): the state
    block says what happened to this head, the report shown until now joins the earlier
    evaluations, and nothing green stays on top. A PR mlgate never commented on gets no comment.
    No ML changes means no regression: the label goes (with its memory unknown, it is removed
    anyway); otherwise the label is left as it is."""
    prev = previous.state
    if prev is None and not previous.commented:
        return PRUpdate(pr.number, pr.head_sha)
    same = prev is not None and prev.head_sha == pr.head_sha and prev.phase == phase
    regressed = False if phase == "no_ml" else _label_memory(previous)
    state = _bounded(PRState(
        head_sha=pr.head_sha, phase=phase, releases=_releases(previous), releases_refused=pr.releases_refused,
        app=pr.app, regressed=regressed, earlier=_earlier(prev, previous.section, keep=same),
        earlier_dropped=prev.earlier_dropped if prev else 0, why=why))
    add, remove = _regression_label(prev, False) if pr.app and phase == "no_ml" else ((), ())
    return PRUpdate(pr.number, pr.head_sha, (), compose_comment(state, ""), "", state, add, remove)


def _label_memory(previous: Remembered) -> bool | None:
    """What is known of `mlgate:regression` on the PR: remembered; none on a PR mlgate never
    commented on; unknown on one whose comment predates the remembered state (pr_states)."""
    if previous.state is not None:
        return previous.state.regressed
    return None if previous.commented else False


def _releases(previous: Remembered) -> tuple[ReleaseNote, ...]:
    """The releases the state block lists: the store's history when it was read, else the remembered ones."""
    if previous.releases is not None:
        return previous.releases
    return previous.state.releases if previous.state is not None else ()


def _review_line(state: ReviewState | None) -> ReviewLine | None:
    if state is None:
        return None
    return ReviewLine(required=state.required, satisfied=state.satisfied, waiting=state.status == "in_progress",
                      title=state.title, approvals=tuple(state.approvals), blocking=tuple(state.blocking),
                      needed=state.needed)


def _earlier(prev: PRState | None, section: str, *, keep: bool) -> tuple[EarlierEvaluation, ...]:
    """The earlier evaluations after this event: the one shown until now joins them, unless the
    event is about the same evaluation (a redelivery) or nothing was evaluated."""
    if prev is None:
        return ()
    if keep or prev.phase != "evaluated" or not section:
        return prev.earlier
    return (EarlierEvaluation(prev.head_sha, prev.outcome or "", section), *prev.earlier)


def _bounded(state: PRState) -> PRState:
    """What is remembered stays bounded: the newest releases, and earlier evaluations that could
    still fit in a comment."""
    earlier, size = [], 0
    for e in state.earlier[:MAX_EARLIER_STORED]:
        size += len(e.section)
        if size > MAX_COMMENT_CHARS:
            break
        earlier.append(e)
    dropped = state.earlier_dropped + len(state.earlier) - len(earlier)
    return replace(state, releases=state.releases[-MAX_RELEASES:], earlier=tuple(earlier), earlier_dropped=dropped)


def _regression_label(prev: PRState | None, now: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`mlgate:regression` follows the verdict. A call is made only when it changes from the
    state the store remembers, so a human who removes the label is not overruled until the
    verdict changes again. bot.apply remembers the state only after the labels are written, so
    a job that died in between plans the label again on its retry. With nothing remembered (a
    PR from before pr_states, or a state this mlgate cannot read) the label must be written:
    a stale `mlgate:regression` would otherwise stay until the verdict changed once."""
    was = prev.regressed if prev is not None else None
    if was is not None and was == now:
        return (), ()
    if now:
        return (LABEL_REGRESSION,), ()
    return (), (LABEL_REGRESSION,)


def _report_section(report: Evaluated, decision: Decision, reserve: int) -> str:
    from bot.render import MARKER, render_comment

    body = render_comment(dict(report.report), decision, report_url=report.report_url, notes=report.notes,
                          commands=False, computed_by_pr=report.computed_by_pr,
                          limit=MAX_COMMENT_CHARS - reserve - len(MARKER) - 2, mlflow_ui=report.mlflow_ui_url)
    return body.removeprefix(MARKER + "\n")


# ---------------------------------------------------------------- the comment


COMMANDS: dict[str, str] = dict(comment_hints())  # one source: bot.commands.SPECS


def commands_for(state: PRState) -> list[str]:
    """The commands that apply now: /promote only while both gates are green on the head,
    /rollback only after a promotion from this PR, none in the Action's token mode."""
    if not state.app:
        return []
    out = []
    green = state.evaluation == "success" and (state.review is None or state.review.satisfied)
    if state.phase == "evaluated" and green and state.releases_refused is None:
        out.append("/promote")
    if state.releases and state.releases[-1].action == "promote" and state.releases_refused is None:
        out.append("/rollback")
    if state.phase == "evaluated":
        out.append("/evaluate")
    return [*out, "/status", "/help"]


def _state_view(state: PRState) -> dict[str, Any]:
    from bot.render import escape_md

    def who(users: Sequence[str]) -> str:
        return ", ".join(escape_md("@" + u.lstrip("@"), 60) for u in users)  # named, not notified

    review = state.review
    return {
        "s": state,
        "head": state.head_sha[:7],
        "accepted_by": who(state.accepted_by),
        "approvals": who(review.approvals) if review else "",
        "blocking": who(review.blocking) if review else "",
        "approvers": ", ".join(escape_md(a, 100) for a in state.approvers),
        "uncountable_teams": ", ".join(escape_md(t, 100) for t in state.uncountable_teams),
        "missing": ", ".join(escape_md(m, 100) for m in state.missing_models),
        "releases": [{
            "action": r.action, "model": escape_md(r.model, 100), "alias": escape_md(r.alias, 64),
            "version": escape_md(r.version, 64) if r.version else "", "actor": who([r.actor]),
            "from_version": escape_md(r.from_version, 64) if r.from_version else "",
            "canary": f"{r.canary:.0%}" if r.canary is not None else "",
        } for r in reversed(state.releases)],
        "why": escape_md(state.why, 300) if state.why else "",
    }


def _state_block(state: PRState) -> str:
    return _reply("comment/state.md.j2", **_state_view(state))


def _commands_block(state: PRState) -> str:
    names = commands_for(state)
    return _reply("comment/commands.md.j2", commands=[(c, COMMANDS[c]) for c in names]) if names else ""


def _earlier_block(shown: Sequence[EarlierEvaluation], dropped: int) -> str:
    from bot.render import HEADLINE

    rows = [{"head": e.head_sha[:7], "headline": HEADLINE.get(e.outcome, "❔ mlgate: unknown").replace("mlgate: ", ""),
             "section": e.section.strip()} for e in shown]
    return _reply("comment/earlier.md.j2", earlier=rows, dropped=dropped)


def compose_comment(state: PRState, section: str) -> str:
    """The sticky comment: marker, state block, main section, earlier evaluations (newest first,
    as many as fit, the oldest dropped and counted), commands. Always under GitHub's limit."""
    from bot.render import MARKER

    top = f"{MARKER}\n{_state_block(state)}" + (f"\n{section.strip()}\n" if section.strip() else "")
    commands = _commands_block(state)
    room = MAX_COMMENT_CHARS - 1 - len(top) - len(commands) - 2
    shown = list(state.earlier)
    while shown:
        block = _earlier_block(shown, state.earlier_dropped + len(state.earlier) - len(shown))
        if len(block) + 1 <= room:
            break
        shown.pop()  # the oldest goes first
    dropped = state.earlier_dropped + len(state.earlier) - len(shown)
    earlier = _earlier_block(shown, dropped) if shown or dropped else ""
    body = top + (f"\n{earlier}" if earlier else "") + (f"\n{commands}" if commands else "")
    return body if len(body) < MAX_COMMENT_CHARS else body[: MAX_COMMENT_CHARS - 2] + "\n"


def comment_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


# ---------------------------------------------------------------- the other checks handlers write


def _check(name: str, sha: str, status: Status, conclusion: Conclusion | None, title: str, template: str,
           details_url: str | None = None, **values: Any) -> CheckUpdate:
    return CheckUpdate(name, sha, status, conclusion, title, _reply(template, **values), details_url)


def undecided_check(sha: str, name: str, what: str, cause: str, retrying: bool) -> CheckUpdate:
    """GitHub did not answer cleanly while mlgate needed `what`: never success or neutral."""
    return _check(name, sha, "completed", "failure", UNDECIDED_TITLE, "replies/undecided.md.j2", what=what, cause=cause,
                  retrying=retrying)


def failed_job_check(sha: str, delivery_id: str, reason: str) -> CheckUpdate:
    return _check(EVALUATION, sha, "completed", "failure", FAILED_JOB_TITLE, "checks/failed_job.md.j2",
                  delivery=delivery_id, reason=reason)


def invalid_config_check(sha: str, branch: str, problem: str) -> CheckUpdate:
    from bot.config import CONFIG_PATH

    return _check(EVALUATION, sha, "completed", "failure", INVALID_CONFIG_TITLE, "checks/invalid_config.md.j2",
                  path=CONFIG_PATH, branch=branch, problem=problem)


def no_config_check(sha: str, name: str, default_branch: str) -> CheckUpdate:
    from bot.config import CONFIG_PATH

    return _check(name, sha, "completed", "neutral", NO_CONFIG_TITLE, "checks/no_config.md.j2", path=CONFIG_PATH,
                  branch=default_branch)


def draft_check(sha: str, name: str, workflow: str) -> CheckUpdate:
    return _check(name, sha, "completed", "neutral", DRAFT_TITLE, "replies/draft_check.md.j2", workflow=workflow)


def no_ml_check(sha: str, name: str, branch: str) -> CheckUpdate:
    from bot.config import CONFIG_PATH

    return _check(name, sha, "completed", "neutral", NO_ML_TITLE, "checks/no_ml.md.j2", path=CONFIG_PATH,
                  branch=branch)


def pending_check(sha: str, workflow: str, artifact: str) -> CheckUpdate:
    return _check(EVALUATION, sha, "queued", None, PENDING_TITLE, "checks/pending.md.j2", workflow=workflow,
                  artifact=artifact, head=sha)


def review_waits_check(sha: str) -> CheckUpdate:
    return _check(REVIEW, sha, "in_progress", None, "Waiting for the evaluation", "checks/review_waits.md.j2")


MISSING_ARTIFACT_TITLE = "No mlgate report"
INVALID_ARTIFACT_TITLE = "Invalid mlgate report"


def artifact_check(sha: str, *, missing: bool, reason: str, workflow: str, artifact: str, run_url: str,
                   details_url: str | None) -> CheckUpdate:
    """The evaluation's report is missing or unusable: the check says why and what to run.
    `reason` is mlgate's own words when `missing`, else the rejection (which quotes the artifact)."""
    from bot.render import escape_md

    return _check(EVALUATION, sha, "completed", "failure", MISSING_ARTIFACT_TITLE if missing else INVALID_ARTIFACT_TITLE,
                  "checks/artifact.md.j2", details_url, reason=reason if missing else escape_md(reason, 300),
                  workflow=workflow, artifact=artifact, run=run_url)


def stale_check(sha: str, number: int, decision: Decision, report: Mapping[str, Any]) -> CheckUpdate:
    """A report for a commit that is no longer the PR's head: that commit gets its own result."""
    from bot.render import render_check_summary

    title, summary = render_check_summary(dict(report), decision)
    return _check(EVALUATION, sha, "completed", "success" if decision.outcome == "pass" else "failure", title,
                  "checks/stale.md.j2", number=number, summary=summary)


RERUN_TITLE = "Re-running the evaluation workflow"
NO_RUN_TITLE = "Waiting for the evaluation workflow"
RERUN_REFUSED_TITLE = "Could not re-run"


def rerun_check(sha: str, *, run_id: int | None, before: str | None, refused: str | None = None,
                by: str | None = None) -> CheckUpdate:
    """`mlgate/evaluation` after a re-run was asked for: waiting for the re-run's report, or
    the earlier result standing (no run to re-run, or GitHub refused) with why."""
    if run_id is None:
        if before:  # e.g. neutral "no ML changes": a re-run click must not turn it into a wait for nothing
            return _check(EVALUATION, sha, "completed", before, NO_RUN_TITLE, "checks/rerun.md.j2",  # type: ignore[arg-type]
                          run_id=None, before=before, refused=None, by=None)
        return _check(EVALUATION, sha, "queued", None, NO_RUN_TITLE, "checks/rerun.md.j2", run_id=None, before=None,
                      refused=None, by=None)
    if refused is not None:
        return _check(EVALUATION, sha, "completed", before or "failure", RERUN_REFUSED_TITLE,  # type: ignore[arg-type]
                      "checks/rerun.md.j2", run_id=run_id, before=before or "failure", refused=refused, by=None)
    return _check(EVALUATION, sha, "queued", None, RERUN_TITLE, "checks/rerun.md.j2", run_id=run_id, before=None,
                  refused=None, by=by)


WAITING_TITLE = "Waiting for mlgate"


def waiting_check(sha: str, name: str) -> CheckUpdate:
    """A new commit of a PR, before mlgate decided anything on it (check_suite requested)."""
    return _check(name, sha, "queued", None, WAITING_TITLE, "checks/waiting.md.j2")


def untrusted_check(sha: str, why: str, run_url: str, details_url: str | None) -> CheckUpdate:
    """A report that does not count (bot.trust): the evaluation check says why, never green."""
    from bot.trust import NOT_TRUSTED_TITLE

    return _check(EVALUATION, sha, "completed", "failure", NOT_TRUSTED_TITLE, "replies/untrusted_report.md.j2", details_url,
                  why=why, run_url=run_url)
