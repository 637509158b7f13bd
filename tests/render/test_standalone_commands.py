"""The comment written from a report alone (`mlgate evaluate --markdown`, `mlgate render --format
comment`, the demo) lists commands by the App's rule: no /promote while the gate is red, and a red
comment says what unblocks it (#14 item 1)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot import render
from bot.config import Config
from bot.gate import decide
from bot.plan import acceptable
from bot.render.markdown import standalone_commands
from tests.render.cases import CASES, CHURN, REPORTS, load_report


def _commands(text: str) -> list[str]:
    tail = text.rsplit("**Commands** (comment on this PR):", 1)[1]
    return [line.split("`")[1] for line in tail.splitlines() if line.startswith("- `")]


def _unblock(text: str) -> str | None:
    if "**What unblocks it:**" not in text:
        return None
    return text.split("**What unblocks it:**\n", 1)[1].split("\n", 1)[0]


def test_a_red_comment_lists_no_promote_and_names_who_may_accept() -> None:
    """Before: the stand-alone comment listed /promote and /rollback on a failed gate."""
    report = load_report(REPORTS / "failing.json")
    decision = decide(report, CHURN)
    assert decision.outcome == "fail" and decision.regressed
    text = render.render_comment(report, decision)
    assert _commands(text) == ["/evaluate", "/status", "/help"]
    said = _unblock(text)
    assert said is not None and said.startswith("an approval of this head commit by @\u200bacme/ml-reviewers "
                                                 "(1 needed; not the author's own) accepts the regression")


def test_a_green_comment_lists_promote_but_never_rollback() -> None:
    report = load_report(REPORTS / "passing.json")
    decision = decide(report, CHURN)
    assert decision.outcome == "pass"
    text = render.render_comment(report, decision)
    assert _commands(text) == ["/promote", "/evaluate", "/status", "/help"]
    assert _unblock(text) is None


def test_a_failure_the_policy_does_not_send_to_review_is_fixed_not_approved() -> None:
    report = load_report(REPORTS / "failing.json")
    report["policy"]["review"]["required_when"] = ["data_change"]
    decision = decide(report, CHURN)
    said = _unblock(render.render_comment(report, decision))
    assert said is not None and said.startswith("push a fix, then the evaluation runs again")


@pytest.mark.parametrize("case", sorted(CASES))
def test_accept_or_fix_agrees_with_the_app(case: str) -> None:
    """The stand-alone comment's 'accept' is bot.plan.acceptable on the report's own policy."""
    build, config = CASES[case]
    report: dict[str, Any] = copy.deepcopy(build())
    decision = decide(report, config)
    commands, unblock = standalone_commands(report, decision)
    policy = Config.model_validate(report["policy"]) if "review" in (report.get("policy") or {}) else config
    if decision.outcome == "fail":
        assert unblock is not None and "/promote" not in [c for c, _ in commands]
        assert (unblock["kind"] == "accept") == acceptable(decision, policy, [])
    assert "/rollback" not in [c for c, _ in commands]
