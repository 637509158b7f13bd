"""20 /promote deliveries for one model, handled at once by several worker processes."""

from __future__ import annotations

import json
import multiprocessing as mp
from collections import Counter
from typing import Any

import pytest

from bot.context import Event
from tests.chatops.conftest import MODEL, REPO, World

_WORLD: dict[str, Any] = {}


def _handle(event: Event) -> str:
    """One worker process: its own store, registry and GitHub client, as `mlgate worker` has."""
    from bot.context import Context
    from bot.dispatch import dispatch
    from bot.github_client import GitHubClient
    from bot.mlflow import Registry
    from bot.store import Store

    if "store" not in _WORLD:
        _WORLD["store"] = Store(_WORLD["db"])
        _WORLD["registry"] = Registry(_WORLD["tracking_uri"])
        _WORLD["client"] = GitHubClient.from_token(_WORLD["token"], REPO, _WORLD["api"])
    assert dispatch(event, lambda e: Context(event=e, github=_WORLD["client"], store=_WORLD["store"],
                                             registry_factory=lambda: _WORLD["registry"]))
    return event.delivery_id


@pytest.mark.slow
def test_twenty_concurrent_promotions_agree_with_mlflow(world_on_each_store: World) -> None:
    world = world_on_each_store
    prs = []
    for _ in range(4):
        n = world.open_pr()["number"]
        world.evaluate(n, kind="passing")
        prs.append(n)
    comments = [world.github.comment(REPO, prs[i % 4], "/promote", user="wes") for i in range(20)]
    events = world.take()
    assert len(events) == 20 and all(e.key == "issue_comment.created" for e in events)
    _WORLD.clear()
    _WORLD.update(db=world.store.url, tracking_uri=world.tracking_uri, api=world.github.base_url,
                  token=world.client.gh.requester.auth.token)
    with mp.get_context("fork").Pool(4) as pool:
        done = pool.map(_handle, events, chunksize=1)
    assert sorted(done) == sorted(e.delivery_id for e in events)

    # every delivery got exactly one reply and a final reaction
    for c in comments:
        assert len(world.replies_to(c["id"])) == 1
        assert world.reactions(c["id"])[-1] in ("rocket", "confused")

    # each PR's candidate was promoted at most once, and at least one promotion happened
    success = world.audit(action="promote", result="success")
    assert success, world.audit()
    per_head = Counter(r["sha"] for r in success)
    assert max(per_head.values()) == 1
    assert len({r["to_version"] for r in success}) == len(success)
    results = Counter(r["result"] for r in world.audit(action="promote"))
    assert set(results) <= {"success", "lock_held"}

    # the alias history mirrored in MLflow is exactly the audit log's, in the same order
    mirrored = []
    for v in world.registry.list_versions(MODEL):
        for key, value in v.tags.items():
            if key.startswith("mlgate.history."):
                mirrored.append((key, json.loads(value)))
    mirrored.sort()
    assert [(m["audit_id"], m["from"], m["to"]) for _, m in mirrored] == [
        (r["id"], r["from_version"], r["to_version"]) for r in success]
    chain = ["1"] + [r["to_version"] for r in success]
    assert [r["from_version"] for r in success] == chain[:-1]
    assert world.alias() == chain[-1]
