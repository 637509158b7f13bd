"""/promote --canary and /rollback --canary through the real handlers (tests/chatops/conftest.py):
the gates, provenance, lock, audit and deployment of /promote, but the challenger alias moves."""

from __future__ import annotations

import json

from tests.chatops.conftest import MODEL, World, mlflow_template, skops_model_dir, world  # noqa: F401
from tests.chatops.test_provenance import _green


def test_promote_canary_then_rollback_canary(world: World) -> None:  # noqa: F811
    n = _green(world)
    c = world.comment(n, "/promote --canary 10%", user="wes")
    reply = world.reply(c["id"])
    assert "churn-classifier@challenger" in reply and "10% of traffic goes to" in reply, reply
    assert world.alias() == "1" and world.alias("challenger") == "2"  # production did not move
    tags = world.registry.version_tags(MODEL, "2")
    assert tags["mlgate.canary.share"] == "0.1" and tags["mlgate.canary.champion"] == "1"
    [row] = world.audit(action="promote")
    assert row["result"] == "success" and json.loads(row["detail"])["canary"] == 0.1
    deployments = world.github.deployments("acme/churn")
    assert deployments[-1]["environment"] == f"model/{MODEL}@canary"
    assert deployments[-1]["payload"]["traffic_share"] == 0.1

    c = world.comment(n, "/rollback --canary", user="wes")  # /rollback's permission: maintain or higher
    assert "It needs maintain permission or higher" in world.reply(c["id"])
    assert world.alias("challenger") == "2"
    world.github.set_permission("acme/churn", "mo", "maintain")
    c = world.comment(n, "/rollback --canary", user="mo")
    reply = world.reply(c["id"])
    assert "canary of churn-classifier was cleared" in reply, reply
    assert world.alias("challenger") is None and world.alias() == "1"
    assert world.github.deployments("acme/churn")[-1]["statuses"][-1]["state"] == "inactive"

    # the full release of the same candidate is still possible after its canary
    c = world.comment(n, "/promote", user="wes")
    assert "promoted: version 1 → **version 2**" in world.reply(c["id"]), world.reply(c["id"])
    assert world.alias() == "2"


def test_promote_canary_needs_the_gates(world: World) -> None:  # noqa: F811
    n = int(world.open_pr(files={"train.py": "FEATURES = ['plan']\n"})["number"])
    c = world.comment(n, "/promote --canary 10%", user="wes")
    assert "was refused" in world.reply(c["id"])
    assert world.alias("challenger") is None


def _monitored(world: World, worse: bool) -> None:  # noqa: F811
    """What `mlgate monitor` records for a running canary (bot.monitor.state.record, real types)."""
    from bot.monitor.canary import running_canary
    from bot.monitor.checks import ModelHealth
    from bot.monitor.compare import ComparisonRow, LiveComparison
    from bot.monitor.state import Posted, record

    canary = running_canary(world.registry, MODEL, "challenger")
    assert canary is not None and canary.pr is not None
    delta, low, high = (-0.05, -0.07, -0.03) if worse else (0.001, -0.004, 0.006)
    result = LiveComparison(MODEL, "1", canary.version, "shadow", "2026-11-23 to 2026-11-29", 9000, 2700, rows=[
        ComparisonRow("roc_auc", "all", 2700, 0.80, 0.80 + delta, delta, low, high,
                      "regressed" if worse else "unchanged", True)])
    health = ModelHealth(MODEL, "1", "2026-11-23 to 2026-11-29", 12000, 12000)
    record(world.store, "acme/churn", health, None, Posted(canary, result, 7), web="https://github.com")


def test_a_later_promote_quotes_the_canarys_live_comparison(world: World) -> None:  # noqa: F811
    n = _green(world)
    c = world.comment(n, "/promote --canary 10%", user="wes")
    assert "10% of traffic goes to" in world.reply(c["id"])
    _monitored(world, worse=True)
    c = world.comment(n, "/promote --dry-run", user="wes")
    reply = world.reply(c["id"])
    assert reply.index("Live comparison of the canary (version 2 against production)") < reply.index("Dry run")
    assert "The challenger is worse" in reply and "<details open>" in reply
    assert world.alias() == "1"
    _monitored(world, worse=False)
    c = world.comment(n, "/promote", user="wes")
    reply = world.reply(c["id"])
    assert "The challenger is not worse" in reply and "<details>" in reply
    assert "promoted: version 1 → **version 2**" in reply and world.alias() == "2"
    # a canary's own /promote --canary does not quote it
    c = world.comment(n, "/promote --canary 20%", user="wes")
    assert "Live comparison" not in world.reply(c["id"])


def test_no_monitor_run_no_quote(world: World) -> None:  # noqa: F811
    n = _green(world)
    c = world.comment(n, "/promote", user="wes")
    assert "Live comparison" not in world.reply(c["id"]) and world.alias() == "2"
