"""Failures and repeats: redelivery, MLflow down or failing mid-way, a held lock, bad versions, merge."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from bot.store import LockInfo
from tests.chatops.conftest import BASE_CONFIG, MODEL, REPO, World, make_world


def green_pr(world: World, author: str = "alice") -> int:
    """A PR whose evaluation passed (no review required): both gates green."""
    n = world.open_pr(author=author)["number"]
    world.evaluate(n, kind="passing")
    head = world.head(n)
    assert world.check(head, "mlgate/evaluation")["conclusion"] == "success"
    assert world.check(head, "mlgate/review")["conclusion"] == "success"
    return int(n)


def test_redelivered_comment_promotes_once_and_edits_its_reply(world: World) -> None:
    n = green_pr(world)
    c = world.comment(n, "/promote", user="wes")
    assert world.alias() == "2"
    index = max(i for i, d in enumerate(world.github.deliveries) if d["event"] == "issue_comment")
    world.github.redeliver(index)
    world.deliver()
    assert world.alias() == "2"
    assert len(world.audit(action="promote", result="success")) == 1
    assert len(world.github.deployments(REPO)) == 1
    [reply] = world.replies_to(c["id"])  # the same reply, edited
    assert "Not repeated: this command was already carried out" in reply


def dead_registry() -> Any:
    from bot.mlflow import Registry

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return Registry(f"http://127.0.0.1:{port}")


def test_mlflow_unreachable_moves_nothing_and_says_so(world: World) -> None:
    n = green_pr(world)
    real = world.registry
    world.registry = dead_registry()
    try:
        c = world.comment(n, "/promote", user="wes")
    finally:
        world.registry = real
    text = world.reply(c["id"])
    assert "failed: the model registry failed" in text and "cannot be reached" in text
    assert "**churn-classifier@production** was not moved" in text
    assert world.reactions(c["id"]) == ["eyes", "confused"]
    assert world.alias() == "1" and world.github.deployments(REPO) == []
    [row] = world.audit(action="promote")
    detail = json.loads(row["detail"])
    assert row["result"] == "failed" and detail["code"] == "registry_failed" and detail["alias_state"] == "unchanged"
    assert "cannot be reached" in detail["reason"]


class FailingMove:
    """The real adapter, except that MLflow fails while it moves the alias (after it moved it)."""

    def __init__(self, real: Any):
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        from bot.mlflow import RegistryError

        self.real.set_alias(name, alias, version)
        if version != "1":  # the move itself, not the undo
            raise RegistryError("MLflow went away")


def test_mlflow_failing_while_moving_puts_the_alias_back(world: World) -> None:
    n = green_pr(world)
    real = world.registry
    world.registry = FailingMove(real)
    try:
        c = world.comment(n, "/promote", user="wes")
    finally:
        world.registry = real
    text = world.reply(c["id"])
    assert "MLflow went away" in text and "was put back to version 1" in text
    assert world.alias() == "1" and world.github.deployments(REPO) == []
    [row] = world.audit(action="promote")
    detail = json.loads(row["detail"])
    assert row["result"] == "failed" and detail["alias_state"] == "restored" and detail["code"] == "move_failed"
    # once MLflow is back, the same PR can be promoted (the failed attempt did not count)
    c = world.comment(n, "/promote", user="wes")
    assert "promoted: version 1 → **version 2**" in world.reply(c["id"])


class HistoryTags:
    """The real adapter, recording every history tag written; with `fail`, MLflow refuses them."""

    def __init__(self, real: Any, fail: bool = False):
        self.real, self.fail = real, fail
        self.history_writes: list[tuple[str, dict[str, str]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        from bot.mlflow import RegistryError

        if any(k.startswith("mlgate.history.") for k in tags):
            self.history_writes.append((version, tags))
            if self.fail:
                raise RegistryError("MLflow went away")
        self.real.set_version_tags(name, version, tags)


def test_the_history_tag_failing_after_the_audit_row_keeps_the_release_and_warns(world: World) -> None:
    # the audit row is the record: once it is written the alias stays where it moved, and the
    # tag that mirrors it is written once (old code wrote it before the row and again after it,
    # and put the alias back when the first write failed)
    n = green_pr(world)
    real = world.registry
    world.registry = failing = HistoryTags(real, fail=True)
    try:
        c = world.comment(n, "/promote", user="wes")
    finally:
        world.registry = real
    text = world.reply(c["id"])
    assert "promoted: version 1 → **version 2**" in text
    assert "the audit record was not mirrored to MLflow (MLflow went away)" in text
    assert world.alias() == "2" and len(failing.history_writes) == 1
    [row] = world.audit(action="promote")
    assert row["result"] == "success"


def test_held_lock_says_who_and_since_when(world: World) -> None:
    n = green_pr(world)
    assert world.store.acquire(f"model:{MODEL}", "bob (promote via acme/churn#9)", 300) is None
    held = world.store.acquire(f"model:{MODEL}", "probe", 1)
    assert isinstance(held, LockInfo)
    c = world.comment(n, "/promote", user="wes")
    text = world.reply(c["id"])
    assert f"The lock is held by bob (promote via acme/churn#9) since {held.since}" in text
    assert world.alias() == "1"
    assert [r["result"] for r in world.audit(action="promote")] == ["lock_held"]


def test_a_crashed_workers_lock_expires(world: World) -> None:
    n = green_pr(world)
    assert world.store.acquire(f"model:{MODEL}", "crashed worker", 0.05) is None
    time.sleep(0.1)
    c = world.comment(n, "/promote", user="wes")
    assert "promoted" in world.reply(c["id"]) and world.alias() == "2"


def test_rollback_to_a_missing_version_names_the_closest(world: World) -> None:
    n = world.open_pr()["number"]
    c = world.comment(n, "/rollback --to 7", user="max")
    text = world.reply(c["id"])
    assert "churn-classifier has no version 7" in text and "the closest is 1" in text
    assert world.alias() == "1"
    c = world.comment(n, "/rollback", user="max")
    assert "the audit log has no version" in world.reply(c["id"]) and "/rollback --to VERSION" in world.reply(c["id"])


def test_rollback_to_a_named_version(world: World) -> None:
    n = green_pr(world)
    world.comment(n, "/promote", user="wes")
    c = world.comment(n, "/rollback --to v1", user="ada")
    assert "rolled back: version 2 → **version 1**" in world.reply(c["id"])
    c = world.comment(n, "/rollback --to 1", user="ada")
    assert "already points at version 1; nothing to do" in world.reply(c["id"])


@pytest.fixture
def on_merge(github: Any, tmp_path: Path, mlflow_template: Path) -> World:
    return make_world(github, tmp_path, mlflow_template, BASE_CONFIG + "promote:\n  on_merge: true\n")


def test_merge_promotes_when_the_gates_were_green(on_merge: World) -> None:
    world = on_merge
    n = green_pr(world)
    world.github.merge(REPO, n, user="wes")
    world.deliver()
    assert world.alias() == "2"
    [row] = world.audit(action="promote", result="success")
    assert row["actor"] == "wes" and '"via": "merge"' in row["detail"]
    [comment] = [c["body"] for c in world.github.comments(REPO, n) if "mlgate:merge-promotion" in c["body"]]
    assert "(on merge)" in comment


def test_merge_with_red_gates_promotes_nothing(on_merge: World) -> None:
    world = on_merge
    n = world.open_pr()["number"]
    world.evaluate(n, kind="failing")
    world.github.merge(REPO, n, user="wes")
    world.deliver()
    assert world.alias() == "1"
    assert [r["result"] for r in world.audit(action="promote")] == ["refused"]


def test_merge_by_someone_who_may_not_promote(on_merge: World) -> None:
    world = on_merge
    n = green_pr(world)
    world.github.merge(REPO, n, user="tom")
    world.deliver()
    assert world.alias() == "1"
    assert [r["actor"] for r in world.audit(action="denied")] == ["tom"]


def test_a_promotion_writes_its_history_tag_once_with_the_audit_rows_id(world: World) -> None:
    # old code wrote the tag twice: with audit_id 0 before the audit row, and again after it
    n = green_pr(world)
    real = world.registry
    world.registry = counting = HistoryTags(real)
    try:
        world.comment(n, "/promote", user="wes")
    finally:
        world.registry = real
    [row] = world.audit(action="promote", result="success")
    [(version, tags)] = counting.history_writes
    [value] = tags.values()
    assert version == "2" and json.loads(value)["audit_id"] == row["id"]
    history = {k: v for k, v in real.version_tags(MODEL, "2").items() if k.startswith("mlgate.history.")}
    assert [json.loads(v)["audit_id"] for v in history.values()] == [row["id"]]
