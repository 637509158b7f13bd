"""What a flood of release commands costs once the flooder's replies are spent (issue #12, second look).

Before, each /rollback past an outsider's reply budget still read the pull request, the policy
and the permission (3 calls, 30 for ten comments); now the permission alone is asked (1 call),
the attempt is audited and nothing is posted. A maintainer's release commands stay exempt.
"""

from __future__ import annotations

from bot.chatops import BUDGETS
from tests.chatops.conftest import World


def test_a_flood_of_release_commands_from_an_outsider_costs_no_calls_past_the_budget(world: World) -> None:
    n = world.open_pr()["number"]
    for _ in range(BUDGETS["user"][0]):
        world.comment(n, "/rollback --to 1", user="zed")
    world.github.reset_calls()
    for _ in range(10):
        world.comment(n, "/rollback --to 1", user="zed")
    assert world.github.call_counts() == {("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"): 10}


def test_a_maintainers_release_commands_spend_no_reply_budget(world: World) -> None:
    n = world.open_pr()["number"]
    for _ in range(BUDGETS["user"][0] + 2):  # more than a commenter's budget, all answered
        c = world.comment(n, "/rollback --dry-run", user="max")
        assert len(world.replies_to(c["id"])) == 1
    c = world.comment(n, "/status", user="max")  # which needs no role: the budget is still whole
    assert len(world.replies_to(c["id"])) == 1
