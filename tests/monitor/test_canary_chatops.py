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
