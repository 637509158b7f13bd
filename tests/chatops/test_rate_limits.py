"""One comment, one effect; a flood of comments, a bounded number of replies (issue #12).

Before: a non-collaborator's comment with 15 command lines made 11 bot comments, 27 API calls
and 10 audit rows, and every further comment was answered.
"""

from __future__ import annotations

from prometheus_client import REGISTRY

from bot.chatops import BUDGETS
from tests.chatops.conftest import REPO, World

SUPPRESSED = "mlgate_chatops_replies_suppressed_total"


def _suppressed(scope: str) -> float:
    return REGISTRY.get_sample_value(SUPPRESSED, {"scope": scope}) or 0.0


def _bot_comments(world: World, number: int) -> list[str]:
    return [c["body"] for c in world.github.comments(REPO, number) if "<!-- mlgate:reply " in c["body"]]


def test_one_comment_with_many_command_lines_has_one_effect(world: World) -> None:
    n = world.open_pr()["number"]
    before = len(_bot_comments(world, n))
    world.github.reset_calls()
    body = "\n".join(["/promote", "/rollback --to 1", *["/status"] * 13])
    c = world.comment(n, body, user="zed")  # not a collaborator
    [reply] = world.replies_to(c["id"])
    assert "@zed is not a collaborator" in reply
    assert "only `/promote` was read" in reply and "and 12 more did nothing" in reply
    assert len(_bot_comments(world, n)) == before + 1
    assert len(world.audit(action="denied")) == 1
    # 7 calls: the pull request, the default branch (policy), the permission, two reactions, and
    # finding then posting the reply (before: 27); one more is allowed for the policy's own reads
    assert world.github.count_calls() <= 8, world.github.call_counts()


def test_a_flood_of_comments_gets_a_bounded_number_of_replies(world: World) -> None:
    n = world.open_pr()["number"]
    user_size, pr_size = BUDGETS["user"][0], BUDGETS["pr"][0]
    user_before, pr_before = _suppressed("user"), _suppressed("pr")

    flood = [world.comment(n, "/promote", user="zed")["id"] for _ in range(user_size + 3)]
    answered = [i for i in flood if world.replies_to(i)]
    assert answered == flood[:user_size]
    assert all(world.reactions(i) == [] for i in flood[user_size:])  # nothing at all is posted
    assert len(world.audit(action="denied")) == len(flood)  # but every attempt is on record
    assert _suppressed("user") - user_before == 3
    world.github.reset_calls()
    c = world.comment(n, "/help\n/status", user="zed")  # needs no role: refused before any API call
    assert world.replies_to(c["id"]) == [] and world.github.count_calls() == 0
    assert _suppressed("user") - user_before == 4

    # someone else on the same PR is answered until the PR's budget is spent too
    others = [world.comment(n, "/help", user=f"guest{i}")["id"] for i in range(pr_size - user_size + 1)]
    assert [bool(world.replies_to(i)) for i in others] == [True] * (pr_size - user_size) + [False]
    assert _suppressed("pr") - pr_before == 1

    # a command that needs a role, from someone who has it, still runs and answers
    c = world.comment(n, "/rollback --dry-run", user="max")
    assert "rollback" in world.reply(c["id"]) and world.reactions(c["id"])[0] == "eyes"
    # while anyone's /status or /help on this PR stays unanswered
    c = world.comment(n, "/status", user="wes")
    assert world.replies_to(c["id"]) == []


def test_a_redelivered_comment_keeps_its_reply_slot(world: World) -> None:
    n = world.open_pr()["number"]
    c = world.comment(n, "/help", user="ria")
    event = world.handled[-1]
    for _ in range(BUDGETS["user"][0] + 2):  # GitHub redelivers the same webhook
        assert world.run_event(event).error is None
    assert len(world.replies_to(c["id"])) == 1
    c = world.comment(n, "/help", user="ria")  # ria's budget was spent once, not seven times
    assert len(world.replies_to(c["id"])) == 1
