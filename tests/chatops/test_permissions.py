"""Every command x every permission level, checked when the command runs, through the stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import chatops
from tests.chatops.conftest import BASE_CONFIG, World, make_world

# the PR is authored by ria, who has only read permission
ROLES = {"zed": "none", "ria": "read (PR author)", "rel": "read", "tom": "triage", "wes": "write",
         "max": "maintain", "ada": "admin"}
ALLOWED = {
    "/help": set(ROLES),
    "/status": set(ROLES),
    "/evaluate": {"ria", "tom", "wes", "max", "ada"},
    "/promote --dry-run": {"wes", "max", "ada"},
    "/rollback --dry-run": {"max", "ada"},
}


@pytest.fixture
def unlimited_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The matrix posts 35 comments on one PR: far over the reply budgets (test_rate_limits.py)."""
    for scope in chatops.BUDGETS:
        monkeypatch.setitem(chatops.BUDGETS, scope, (1000, 600.0))


def _run_matrix(world: World, allowed: dict[str, set[str]]) -> list[str]:
    n = world.open_pr(author="ria")["number"]
    world.evaluate(n, kind="passing")
    wrong = []
    for command, who in allowed.items():
        for user in ROLES:
            before = len(world.audit(action="denied"))
            c = world.comment(n, command, user=user)
            text = world.reply(c["id"])
            denied = "was not run:" in text and "It needs" in text
            audited = len(world.audit(action="denied")) - before
            if denied == (user in who) or audited != (1 if denied else 0):
                wrong.append(f"{command} by {user} ({ROLES[user]}): denied={denied} audited={audited}\n{text}")
            if denied:
                assert world.reactions(c["id"]) == ["eyes", "confused"]
    return wrong


def test_default_permissions(world: World, unlimited_replies: None) -> None:
    assert _run_matrix(world, ALLOWED) == []
    denial = world.audit(action="denied", actor="tom")[0]
    assert denial["result"] == "denied" and denial["pr"] == 1 and '"command": "promote"' in denial["detail"]


def test_config_lists_replace_the_role_rule(github: Any, tmp_path: Path, mlflow_template: Path,
                                           unlimited_replies: None) -> None:
    config = BASE_CONFIG + 'commands:\n  promote: ["@acme/ml-release", "@tom"]\n  rollback: ["rel", "@acme/ml-release"]\n'
    world = make_world(github, tmp_path, mlflow_template, config)
    allowed = {**ALLOWED, "/promote --dry-run": {"rel", "tom"}, "/rollback --dry-run": {"rel"}}
    assert _run_matrix(world, allowed) == []
    n = 1
    c = world.comment(n, "/promote", user="ada")
    text = world.reply(c["id"])
    assert "@ada is not listed in `commands.promote`" in text
    assert "be added to @acme/ml-release, @tom" in text


def test_denied_reply_says_what_would_make_it_pass(world: World) -> None:
    n = world.open_pr()["number"]
    c = world.comment(n, "/rollback", user="wes")
    text = world.reply(c["id"])
    assert "@wes has write permission" in text and "It needs maintain permission or higher" in text
    c = world.comment(n, "/promote", user="zed")
    assert "@zed is not a collaborator" in world.reply(c["id"])


def test_bots_are_ignored_and_their_attempts_audited(world: World) -> None:
    n = world.open_pr()["number"]
    c = world.comment(n, "/promote\n/help", user="dependabot[bot]")
    assert world.replies_to(c["id"]) == [] and world.reactions(c["id"]) == []
    [row] = world.audit(action="denied")
    assert row["actor"] == "dependabot[bot]" and "bots may not run commands" in row["detail"]


def test_edited_comments_and_plain_issues_run_nothing(world: World) -> None:
    from bot.context import Event
    from bot.dispatch import ROUTER, dispatch

    assert "issue_comment.edited" not in ROUTER and "issue_comment.deleted" not in ROUTER
    n = world.open_pr()["number"]
    c = world.comment(n, "/help", user="wes")
    payload = world.handled[-1].payload
    issue_only = {**payload, "issue": {k: v for k, v in payload["issue"].items() if k != "pull_request"}}
    assert dispatch(Event("issue_comment", "created", "d-plain", issue_only), world.context)
    assert len(world.replies_to(c["id"])) == 1


class _Source:
    """GitHub's permission and team answers, counting the questions asked."""

    def __init__(self, roles: dict[str, str], teams: dict[str, set[str]]) -> None:
        self.roles, self.teams = roles, teams
        self.asked: list[str] = []

    def permission(self, user: str) -> str:
        self.asked.append(f"permission {user}")
        return self.roles.get(user, "none")

    def team_member(self, org: str, team: str, user: str) -> bool:
        self.asked.append(f"team {org}/{team} {user}")
        return user in self.teams.get(f"{org}/{team}", set())


def test_each_question_is_asked_once_per_job() -> None:
    from bot.commands import SPECS
    from bot.permissions import Grant, Permissions

    source = _Source({"wes": "write"}, {"acme/ml-release": {"rel"}})
    who = Permissions(source)
    for _ in range(3):
        assert who.authorize(SPECS["promote"].requirement, "wes").grant == Grant.ROLE
        assert who.has_role("WES", "triage")
        assert who.in_list(["@acme/ml-release"], "rel") and not who.in_list(["@acme/ml-release"], "wes")
    assert sorted(source.asked) == ["permission wes", "team acme/ml-release rel", "team acme/ml-release wes"]


def test_an_unknown_role_counts_as_none_and_the_list_replaces_the_role_rule() -> None:
    from bot.commands import SPECS
    from bot.permissions import Denial, Grant, Permissions

    who = Permissions(_Source({"cus": "custom-release-role", "ada": "admin"}, {"acme/ml-release": {"rel"}}))
    auth = who.authorize(SPECS["rollback"].requirement, "cus")
    assert not auth.allowed and auth.denial == Denial.NOT_COLLABORATOR  # fail closed, never a guess
    listed = ("@acme/ml-release",)
    assert who.authorize(SPECS["rollback"].requirement, "rel", listed=listed).grant == Grant.LIST
    denied = who.authorize(SPECS["rollback"].requirement, "ada", listed=listed)  # an admin, but not listed
    assert denied.denial == Denial.NOT_LISTED and denied.listed == listed
    assert chatops.denial_reason(denied) == "@ada is not listed in `commands.rollback`"
