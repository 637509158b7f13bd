"""#10: the App and the Action's token mode agree by construction. For the same report, policy
and reviews, both read the reviews the same way (bot.apply.read_reviews: the App with its
installation token, the Action with the workflow's token, through the same GitHub stand-in) and
plan through bot.plan: the same checks (mlgate/review included), conclusions, titles and
summaries, and the same comment but for the commands block, which only the App can answer.

Before, the Action planned without reviews and without the review gate: a regression an
approver had accepted stayed red in token mode, and no mlgate/review was posted at all. A
workflow's token cannot read team membership: under `review.approvers` naming a team the
Action fails mlgate/review closed, saying why, where the App counts the team's approval."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import action
from bot.config import Config, parse_config
from bot.gate import decide
from bot.github_client import GitHubClient
from bot.handlers.inputs import notes_for, read_reviews
from bot.plan import (
    EVALUATION,
    REVIEW,
    TOKEN_TEAMS_TITLE,
    Evaluated,
    PRUpdate,
    PullView,
    Remembered,
    plan,
)
from tests.handlers.conftest import CONFIG, FAILING, REPO, Hub

TEAMS = CONFIG  # review.approvers: ["@acme/ml-reviewers"]
USERS = CONFIG.replace('approvers: ["@acme/ml-reviewers"]', "approvers: [rita]")
ANYONE_WITH_WRITE = CONFIG.replace('approvers: ["@acme/ml-reviewers"]', "approvers: []")


def _setup(hub: Hub, config_text: str, reviews: list[tuple[str, str]]) -> tuple[Any, dict[str, Any], Config, int, str]:
    """A PR with `reviews` on its head, and the App's context for it (from a real delivery)."""
    hub.github.push(REPO, "main", {".github/mlgate.yml": config_text})
    pr = hub.github.open_pull_request(REPO, {"data/train.csv": "a\n1\n", "train.py": "x = 1\n"}, author="alice")
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    hub.github.add_team_member("acme", "ml-reviewers", "rita")
    for user, role in (("rita", "write"), ("sam", "write")):
        hub.github.set_permission(REPO, user, role)
    for user, state in reviews:
        hub.github.review(REPO, n, user=user, state=state)
    events = hub.take()
    ctx = hub.context(events[0])
    config = parse_config(config_text)
    report: dict[str, Any] = json.loads(FAILING)
    report["run"] = {**report.get("run", {}), "head_sha": head}  # the report the Action made for this head
    report["policy"] = config.to_policy()
    return ctx, report, config, n, head


def _both(hub: Hub, config_text: str, reviews: list[tuple[str, str]]) -> tuple[PRUpdate, PRUpdate]:
    ctx, report, config, n, head = _setup(hub, config_text, reviews)
    decision = decide(report, config)  # one decision, as the Action's evaluate makes it
    app = plan(Evaluated(report, decision, notes=tuple(notes_for(report, config, head))), config,
               read_reviews(ctx, n, "alice", config), Remembered(), PullView(n, head, "alice"))
    token = GitHubClient.from_token(hub.github.create_token(REPO), REPO, hub.github.base_url)
    event = {"pull_request": {"number": n, "head": {"sha": head, "repo": {"full_name": REPO}},
                              "user": {"login": "alice"}}}
    return app, action._plan(report, decision, config, event, github=token)


def _without_commands(body: str | None) -> str:
    assert body is not None
    return body.split("\n**Commands**", 1)[0]


def _checks(update: PRUpdate) -> list[tuple[str, str, str | None, str, str]]:
    return [(c.name, c.status, c.conclusion, c.title, c.summary) for c in update.checks]


@pytest.mark.parametrize("config_text", [USERS, ANYONE_WITH_WRITE], ids=["users", "anyone-with-write"])
@pytest.mark.parametrize("reviews", [[], [("rita", "APPROVED")], [("rita", "APPROVED"), ("sam", "CHANGES_REQUESTED")]],
                         ids=["no-review", "approved", "changes-requested"])
def test_the_app_and_the_action_plan_the_same_checks_and_comment(hub: Hub, config_text: str,
                                                                 reviews: list[tuple[str, str]]) -> None:
    app, token = _both(hub, config_text, reviews)
    assert _checks(token) == _checks(app)
    assert {c.name for c in token.checks} == {EVALUATION, REVIEW}
    assert _without_commands(token.comment) == _without_commands(app.comment)
    assert "**Commands**" in (app.comment or "") and "**Commands**" not in (token.comment or "")
    if reviews == [("rita", "APPROVED")]:  # the approval accepts the regression on both
        assert [c.conclusion for c in token.checks] == ["success", "success"]


def test_under_team_approvers_the_action_fails_the_review_closed_and_says_why(hub: Hub) -> None:
    app, token = _both(hub, TEAMS, [("rita", "APPROVED")])
    assert [(c.name, c.conclusion) for c in app.checks] == [(EVALUATION, "success"), (REVIEW, "success")]
    review = token.check(REVIEW)
    assert review is not None and (review.conclusion, review.title) == ("failure", TOKEN_TEAMS_TITLE)
    assert "cannot read team membership" in review.summary and "`@acme/ml-reviewers`" in review.summary
    evaluation = token.check(EVALUATION)
    assert evaluation is not None and evaluation.conclusion == "failure"  # nothing accepted on a count it cannot make
    # the comment says the same: no promise that a team's approval accepts the regression here
    comment = token.comment or ""
    assert "acme/ml-reviewers cannot be counted here" in comment, comment
    assert "accepts the regression" not in comment
