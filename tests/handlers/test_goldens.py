"""Golden files pin every check summary the App writes and each state of the living comment.

The texts come from bot.plan, pure, so they are rendered here without GitHub. Regenerate after
an intended change with `UPDATE_GOLDEN=1 pytest tests/handlers/test_goldens.py` and read the
diff before committing it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bot import plan as p
from bot.config import Config, parse_config
from bot.gate import Decision, decide
from bot.policy import Refusal, Refused
from bot.review_gate import ReviewIn, review_state
from tests.render.cases import CASES, CHURN, REPORT_URL

GOLDEN = Path(__file__).parent / "golden"
HEAD = "0123456789abcdef0123456789abcdef01234567"
OLD = "fedcba9876543210fedcba9876543210fedcba98"
PR = p.PullView(7, HEAD, "alice")


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run UPDATE_GOLDEN=1 pytest tests/handlers/test_goldens.py"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


def _check_text(c: p.CheckUpdate) -> str:
    head = f"{c.name} · {c.status}{' · ' + c.conclusion if c.conclusion else ''}"
    url = f"\ndetails: {c.details_url}" if c.details_url else ""
    return f"{head}\n{c.title}{url}\n\n{c.summary}"


@cache
def _case(name: str) -> tuple[dict[str, Any], Decision]:
    build, config = CASES[name]
    report = build()
    return report, decide(report, config)


def _evaluated(name: str, **kw: Any) -> p.Evaluated:
    report, decision = _case(name)
    return p.Evaluated(report, decision, run_id=kw.pop("run_id", 11), report_url=REPORT_URL, **kw)


def _reviews(*items: tuple[str, str, str], approvers: tuple[str, ...] = ("rita", "sam")) -> p.Reviews:
    return p.Reviews(tuple(ReviewIn(user, state, sha) for user, state, sha in items),
                     {u.lower(): u in approvers for u, _, _ in items})


def _failing_plan(reviews: p.Reviews | None = None, previous: p.Remembered | None = None) -> p.PRUpdate:
    return p.plan(_evaluated("failing"), CHURN, reviews or _reviews(), previous or p.Remembered(), PR)


# ---------------------------------------------------------------- check summaries

CHECKS: dict[str, Callable[[], p.CheckUpdate]] = {
    "undecided": lambda: p.undecided_check(HEAD, p.EVALUATION, "read the policy", "GitHub answered 502", False),
    "undecided-retrying": lambda: p.undecided_check(HEAD, p.REVIEW, "list the changed files", "rate limited", True),
    "failed-job": lambda: p.failed_job_check(HEAD, "d-123", "the artifact download timed out"),
    "invalid-config": lambda: p.invalid_config_check(HEAD, "main", "line 3: models: expected a list"),
    "no-config": lambda: p.no_config_check(HEAD, p.EVALUATION, "main"),
    "no-ml": lambda: p.no_ml_check(HEAD, p.REVIEW, "main"),
    "draft": lambda: p.draft_check(HEAD, p.EVALUATION, ".github/workflows/mlgate-evaluate.yml"),
    "pending": lambda: p.pending_check(HEAD, ".github/workflows/mlgate-evaluate.yml", "mlgate-report"),
    "review-waits": lambda: p.review_waits_check(HEAD),
    "review-token-teams": lambda: p.token_teams_check(HEAD, ["@acme/ml-reviewers", "@acme/`odd`<b>"]),
    "waiting": lambda: p.waiting_check(HEAD, p.REVIEW),
    "missing-artifact": lambda: p.artifact_check(
        HEAD, missing=True, reason="the run uploaded no `mlgate-report` artifact",
        workflow=".github/workflows/mlgate-evaluate.yml", artifact="mlgate-report",
        run_url="https://github.com/acme/churn/actions/runs/11", details_url="https://github.com/acme/churn/actions/runs/11"),
    "invalid-artifact": lambda: p.artifact_check(
        HEAD, missing=False, reason="member ../../etc/passwd is outside the archive; @eve [x](http://evil)",
        workflow=".github/workflows/mlgate-evaluate.yml", artifact="mlgate-report", run_url="11", details_url=None),
    "untrusted": lambda: p.untrusted_check(HEAD, "the run was started by a pull_request event", "https://x/runs/9",
                                           "https://x/runs/9"),
    "stale": lambda: p.stale_check(OLD, 7, _case("passing")[1], _case("passing")[0]),
    "rerun-started": lambda: p.rerun_check(HEAD, run_id=11, before="failure"),
    "rerun-by-command": lambda: p.rerun_check(HEAD, run_id=11, before=None, by="@wes"),
    "rerun-no-run": lambda: p.rerun_check(HEAD, run_id=None, before=None),
    "rerun-no-run-neutral": lambda: p.rerun_check(HEAD, run_id=None, before="neutral"),
    "rerun-refused": lambda: p.rerun_check(HEAD, run_id=11, before="success", refused="the run is still in progress"),
    "evaluation-passing": lambda: _check(p.plan(_evaluated("passing"), CHURN, None, p.Remembered(), PR), p.EVALUATION),
    "evaluation-failing": lambda: _check(_failing_plan(), p.EVALUATION),
    "evaluation-accepted": lambda: _check(_failing_plan(_reviews(("rita", "APPROVED", HEAD))), p.EVALUATION),
    "review-required": lambda: _check(_failing_plan(), p.REVIEW),
    "review-approved": lambda: _check(_failing_plan(_reviews(("rita", "APPROVED", HEAD))), p.REVIEW),
    "review-changes-requested": lambda: _check(_failing_plan(_reviews(
        ("rita", "APPROVED", HEAD), ("sam", "CHANGES_REQUESTED", OLD), ("alice", "APPROVED", HEAD),
        ("eve", "APPROVED", HEAD))), p.REVIEW),
    "review-waiting-for-evaluation": lambda: p.review_check(HEAD, review_state(
        [ReviewIn("rita", "APPROVED", HEAD)], head_sha=HEAD, pr_author="alice", required_when=["regression"],
        min_approvals=1, is_approver=lambda u: True, decision=None, evaluated=False), CHURN),
    "review-not-required": lambda: _check(p.plan(_evaluated("passing"), parse_config(
        "version: 1\nmodels:\n  - {name: churn-classifier, task: binary, holdout: h.parquet, label: y}\n"
        "review: {required_when: [regression]}\n"), None, p.Remembered(), PR), p.REVIEW),
}


def _check(update: p.PRUpdate, name: str) -> p.CheckUpdate:
    check = update.check(name)
    assert check is not None
    return check


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_summary_golden(name: str) -> None:
    check = CHECKS[name]()
    _golden(f"check-{name}.md", _check_text(check))
    assert len(check.summary) < 65535 and check.title
    assert check.status != "completed" or check.conclusion is not None


def test_untrusted_text_in_a_check_is_inert() -> None:
    text = CHECKS["invalid-artifact"]().summary
    assert "@eve" not in text and "](http" not in text


# ---------------------------------------------------------------- the living comment

POLICY_NO_REGRESSION_REVIEW: Config = CHURN.model_copy(update={
    "review": CHURN.review.model_copy(update={"required_when": ["data_change"]})})


def _earlier_state() -> p.Remembered:
    """A PR whose previous head was evaluated (failing), as the store remembers it."""
    first = _failing_plan(previous=p.Remembered())
    assert first.state is not None
    return p.Remembered(replace(first.state, head_sha=OLD, run_id=10), first.section)


COMMENTS: dict[str, Callable[[], p.PRUpdate]] = {
    "failing": lambda: _failing_plan(),
    "failing-changes-requested": lambda: _failing_plan(_reviews(("sam", "CHANGES_REQUESTED", OLD))),
    "failing-not-acceptable": lambda: p.plan(_evaluated("failing"), POLICY_NO_REGRESSION_REVIEW, None,
                                             p.Remembered(), PR),
    "accepted": lambda: _failing_plan(_reviews(("rita", "APPROVED", HEAD))),
    "passing-after-failing": lambda: p.plan(_evaluated("passing", run_id=12), CHURN, None, _earlier_state(), PR),
    "pending-after-failing": lambda: p.plan_pending(CHURN, _earlier_state(), PR, ["a note"]),
    "promoted": lambda: _restated([p.ReleaseNote("promote", "churn-classifier", "production", "3", "bob", "2")]),
    "rolled-back": lambda: _restated([p.ReleaseNote("promote", "churn-classifier", "production", "3", "bob", "2"),
                                      p.ReleaseNote("rollback", "churn-classifier", "production", "2", "max", "3")]),
    "passing-waiting-for-review": lambda: p.plan(_evaluated("passing", extra_reasons=(
        "the pull request changes data",)), CHURN, _reviews(("sam", "APPROVED", OLD)), p.Remembered(), PR),
    "action-token-mode": lambda: p.plan(_evaluated("failing"), CHURN, None, p.Remembered(),
                                        replace(PR, app=False)),
    "releases-refused": lambda: p.plan(_evaluated("passing"), CHURN, None, p.Remembered(), replace(
        PR, releases_refused=Refusal(Refused.UNPROTECTED, base="release/1.x", default="main"))),
    "releases-refused-hostile-base": lambda: p.plan(_evaluated("passing"), CHURN, None, p.Remembered(), replace(
        PR, releases_refused=Refusal(Refused.NOT_RELEASE_BRANCH, base="wes-`policy`<b>@ada", default="main"))),
    # the head gets no evaluation: the state block says so, the earlier report is collapsed
    "no-ml-after-failing": lambda: p.plan_unevaluated(_earlier_state(), PR, "no_ml"),
    "undecided-after-failing": lambda: p.plan_unevaluated(
        _earlier_state(), PR, "undecided", ".github/mlgate.yml on main is invalid: models: expected a list"),
    "draft-after-failing": lambda: p.plan_unevaluated(
        _earlier_state(), PR, "not_evaluated", "a draft (the policy skips drafts until they are ready for review)"),
}


def _restated(releases: list[p.ReleaseNote]) -> p.PRUpdate:
    accepted = _failing_plan(_reviews(("rita", "APPROVED", HEAD)))
    assert accepted.state is not None
    return p.restate(p.Remembered(accepted.state, accepted.section), PR, releases)


@pytest.mark.parametrize("name", sorted(COMMENTS))
def test_comment_state_golden(name: str) -> None:
    update = COMMENTS[name]()
    assert update.comment is not None
    _golden(f"comment-{name}.md", update.comment)
    assert len(update.comment) < p.MAX_COMMENT_CHARS


def _commands(body: str) -> list[str]:
    tail = body.rsplit("**Commands** (comment on this PR):", 1)
    return [line.split("`")[1] for line in tail[1].splitlines() if line.startswith("- `")] if len(tail) == 2 else []


def test_commands_are_listed_only_when_they_apply() -> None:
    def body(name: str) -> str:
        text = COMMENTS[name]().comment
        assert text is not None
        return text

    assert _commands(body("failing")) == ["/evaluate", "/status", "/help"]  # no /promote while red
    assert _commands(body("accepted")) == ["/promote", "/evaluate", "/status", "/help"]
    assert _commands(body("promoted")) == ["/promote", "/rollback", "/evaluate", "/status", "/help"]
    assert _commands(body("pending-after-failing")) == ["/status", "/help"]
    assert _commands(body("releases-refused")) == ["/evaluate", "/status", "/help"]
    assert _commands(body("action-token-mode")) == []


def test_a_red_comment_names_what_unblocks_it() -> None:
    failing = COMMENTS["failing"]().comment or ""
    top = failing.split("## ❌ mlgate", 1)[0]
    assert "@\u200bacme/ml-reviewers" in top and "accepts the regression" in top and HEAD[:7] in top
    refused = COMMENTS["failing-not-acceptable"]().comment or ""
    assert "an approval does not accept this failure" in refused.split("## ❌ mlgate", 1)[0]


def test_earlier_evaluations_drop_the_oldest_to_stay_under_the_limit() -> None:
    big = "x" * 20_000
    earlier = tuple(p.EarlierEvaluation(f"{i:040x}", "fail", f"section {i}\n{big}") for i in range(6))
    first = _failing_plan()
    assert first.state is not None
    state = replace(first.state, earlier=earlier)
    body = p.compose_comment(state, first.section)
    assert len(body) < p.MAX_COMMENT_CHARS
    shown = [i for i in range(6) if f"section {i}\n" in body]
    assert shown == list(range(len(shown))) and 0 < len(shown) < 6  # newest first; the oldest dropped
    assert f"{6 - len(shown)} older evaluation" in body
    # what is remembered stays bounded too
    bounded = p.plan(_evaluated("failing", run_id=99), CHURN, _reviews(), p.Remembered(state, first.section), PR)
    assert bounded.state is not None
    assert sum(len(e.section) for e in bounded.state.earlier) <= p.MAX_COMMENT_CHARS
    assert bounded.state.earlier_dropped + len(bounded.state.earlier) == 7


def test_a_redelivery_does_not_repeat_the_report_under_earlier_evaluations() -> None:
    first = _failing_plan()
    assert first.state is not None
    again = _failing_plan(previous=p.Remembered(first.state, first.section))
    assert again.comment == first.comment
    assert not again.labels_add and not again.labels_remove  # remembered after the label was written
    assert again.state is not None and again.state.earlier == ()


def test_the_state_survives_the_store() -> None:
    update = COMMENTS["rolled-back"]()
    assert update.state is not None
    assert p.PRState.from_json(update.state.to_json()) == update.state
    assert p.PRState.from_json("{not json") is None and p.PRState.from_json('{"head_sha": 1}') is None
