"""The living comment (#14 item 1) through chat-ops: after an accepted regression, /promote and
/rollback, the sticky comment's state block says so (it used to keep saying "the gate failed")."""

from __future__ import annotations

from bot.render import MARKER
from tests.chatops.conftest import REPO, World


def _state_block(world: World, number: int) -> str:
    (comment,) = [c for c in world.github.comments(REPO, number) if c["body"].startswith(MARKER)]
    return str(comment["body"]).split("\n## ", 1)[0]


def test_the_comment_follows_acceptance_promotion_and_rollback(world: World) -> None:
    n = world.open_pr()["number"]
    head = world.head(n)
    world.evaluate(n, kind="failing")
    state = _state_block(world, n)
    assert "❌ the gate failed" in state and "What unblocks it" in state
    world.github.review(REPO, n, user="rita")
    world.deliver()
    state = _state_block(world, n)
    assert "✅ regression accepted by @\u200brita" in state and "What unblocks it" not in state
    world.comment(n, "/promote", user="wes")
    state = _state_block(world, n)
    assert f"(head `{head[:7]}`)" in state
    assert "🚀 churn-classifier promoted to version 2 (production) by @\u200bwes" in state
    world.comment(n, "/rollback", user="max")
    state = _state_block(world, n)
    assert "↩️ churn-classifier rolled back to version 1 (production) by @\u200bmax" in state
    world.comment(n, "/rollback --dry-run", user="max")  # a dry run changes nothing shown
    assert _state_block(world, n) == state
