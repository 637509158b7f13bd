"""Release history as store queries (bot.store, written by bot.promotion.audit as a release writes it):
an alias's releases, the version before the current one, an earlier release by the same delivery or
PR head, and the promotion of a head; each found by index. Also: the registry is opened before the
model lock is taken, and migration 0007 gives existing release rows their alias."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import promotion
from bot.mlflow import RegistryError
from bot.promotion import A_PROMOTE, A_ROLLBACK, R_FAILED, R_REFUSED, R_SUCCESS, Reason, Release
from bot.store import Store

MODEL, REPO = "churn", "acme/churn"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'mlgate.db'}")
    s.migrate()
    return s


def _release(action: str, delivery: str, *, alias: str = "production", sha: str | None = None,
             model: str = MODEL) -> Release:
    return Release(action, model, alias, "wes", delivery, REPO, 7 if sha else None, sha)  # type: ignore[arg-type]


def _write(store: Store, action: str, delivery: str, before: str | None, after: str | None, *,
           result: str = R_SUCCESS, **kw: str) -> int:
    return promotion.audit(store, _release(action, delivery, **kw), action, result, from_version=before,
                           to_version=after)


def test_an_aliases_releases_newest_first_without_refusals_failures_or_other_aliases(store: Store) -> None:
    first = _write(store, A_PROMOTE, "d1", "1", "2")
    _write(store, A_PROMOTE, "d2", "2", "3", alias="challenger")
    _write(store, A_PROMOTE, "d3", "2", "4", result=R_FAILED)
    _write(store, A_PROMOTE, "d4", "2", None, result=R_REFUSED)
    _write(store, A_PROMOTE, "d5", None, "9", model="other")
    second = _write(store, A_ROLLBACK, "d6", "2", "1")
    rows = store.releases(MODEL, "production")
    assert [(r.id, r.action, r.from_version, r.to_version, r.alias) for r in rows] == [
        (second, "rollback", "2", "1", "production"), (first, "promote", "1", "2", "production")]
    assert store.last_release(MODEL, "production") == rows[0]
    assert [r.to_version for r in store.releases(MODEL, "challenger")] == ["3"]
    assert store.last_release(MODEL, "staging") is None
    assert promotion.alias_history(store, MODEL, "production") == rows[::-1]  # oldest first


def test_previous_version_is_where_the_newest_move_to_the_current_version_came_from(store: Store) -> None:
    _write(store, A_PROMOTE, "d1", "1", "2")
    _write(store, A_PROMOTE, "d2", "2", "3")
    _write(store, A_ROLLBACK, "d3", "3", "2")
    _write(store, A_PROMOTE, "d4", "2", "3")
    _write(store, A_PROMOTE, "d5", "5", "3", alias="challenger")
    assert store.previous_version(MODEL, "production", "3") == "2"
    assert store.previous_version(MODEL, "production", "2") == "3"  # the rollback, the newer move to 2
    assert store.previous_version(MODEL, "production", "7") is None
    assert store.previous_version(MODEL, "challenger", "3") == "5"
    _write(store, A_ROLLBACK, "d6", "3", None, alias="challenger")  # a canary cleared
    assert store.previous_version(MODEL, "challenger", None) == "3"


def test_an_earlier_release_by_the_same_delivery_or_the_same_pr_head_and_alias(store: Store) -> None:
    head = "a" * 40
    row = _write(store, A_PROMOTE, "d1", "1", "2", sha=head)
    _write(store, A_PROMOTE, "d2", "2", "3", sha="b" * 40, result=R_FAILED)
    found = store.earlier_release(model=MODEL, action=A_PROMOTE, delivery_id="d1")
    assert found is not None and found.id == row and found.sha == head
    assert store.earlier_release(model=MODEL, action=A_ROLLBACK, delivery_id="d1") is None
    assert store.earlier_release(model=MODEL, action=A_PROMOTE, delivery_id="d2") is None  # it failed
    by_head = store.earlier_release(model=MODEL, action=A_PROMOTE, delivery_id="new", head=(REPO, head, "production"))
    assert by_head is not None and by_head.id == row
    assert store.earlier_release(model=MODEL, action=A_PROMOTE, delivery_id="new",
                                 head=(REPO, head, "challenger")) is None
    assert store.earlier_release(model=MODEL, action=A_PROMOTE, delivery_id="new",
                                 head=("acme/other", head, "production")) is None
    promoted = store.release_of_head(REPO, head)
    assert promoted is not None and promoted.id == row
    assert store.release_of_head(REPO, "b" * 40) is None


def test_the_release_queries_use_the_indexes(store: Store) -> None:
    for i in range(50):
        _write(store, A_PROMOTE, f"d{i}", str(i), str(i + 1), sha=f"{i:040x}")
    plans = {}
    for name, sql in {
        "releases": "SELECT id FROM audit WHERE model = 'churn' AND alias = 'production' AND action IN "
                    "('promote', 'rollback') AND result = 'success' ORDER BY id DESC",
        "delivery": "SELECT id FROM audit WHERE delivery_id = 'd3'",
        "head": "SELECT id FROM audit WHERE repo = 'acme/churn' AND sha = 'x'",
    }.items():
        with store.engine.connect() as c:
            plans[name] = " ".join(str(r[-1]) for r in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "ix_audit_release" in plans["releases"], plans
    assert "ix_audit_delivery" in plans["delivery"], plans
    assert "ix_audit_head" in plans["head"], plans


def test_the_registry_is_opened_before_the_model_lock_is_taken(store: Store) -> None:
    # old code took the lock, then opened the registry (which may take MLflow's whole timeout)
    lock_free_when_opened: list[bool] = []

    def registry() -> promotion.Registry:
        held = store.acquire(promotion.lock_name(MODEL), "probe", 1.0)
        if held is None:
            store.release(promotion.lock_name(MODEL), "probe")
        lock_free_when_opened.append(held is None)
        raise RegistryError("the MLflow server at http://mlflow:5000 cannot be reached")

    release = Release("rollback", MODEL, "production", "max", "d-1", via="cli", version="1")
    out = promotion.rollback(store, registry, None, release)
    assert lock_free_when_opened == [True]
    assert out.status == "failed" and out.reason is Reason.REGISTRY_UNAVAILABLE and out.alias_state == "unchanged"
    assert "cannot be reached" in promotion.reason_text(out)
    [row] = store.audit_records()
    assert row["result"] == R_FAILED and json.loads(row["detail"] or "{}")["code"] == "registry_unavailable"
    assert store.acquire(promotion.lock_name(MODEL), "next", 1.0) is None  # nobody holds it


def test_migration_0007_gives_release_rows_their_alias(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import text

    from bot.store import _alembic_config

    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    with store.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0006")
        for action, result, detail in [
            ("promote", "success", '{"alias": "production", "dry_run": false, "via": "comment"}'),
            ("promote", "success", '{"alias": "challenger", "canary": 0.1, "dry_run": false, "via": "cli"}'),
            ("rollback", "refused", '{"dry_run": false, "reason": "x", "via": "comment"}'),  # no alias: production
            ("denied", "denied", '{"command": "promote", "reason": "y"}'),
        ]:
            conn.execute(text("INSERT INTO audit (at, actor, action, result, model, to_version, detail) "
                              "VALUES (1.0, 'wes', :a, :r, 'churn', '2', :d)"), {"a": action, "r": result, "d": detail})
    store.migrate()
    assert [(r["action"], r["alias"]) for r in store.audit_records()] == [
        ("promote", "production"), ("promote", "challenger"), ("rollback", "production"), ("denied", None)]
    assert [r.alias for r in store.releases("churn", "challenger")] == ["challenger"]


def test_an_accepted_regression_is_recorded_once_per_pull_request_head(store: Store) -> None:
    head = "c" * 40
    kw = dict(repo=REPO, pr=7, model=MODEL, approvers=["ada"], reasons=["roc_auc dropped"], delivery_id="d1")
    first = promotion.record_accepted_regression(store, sha=head, **kw)  # type: ignore[arg-type]
    assert first is not None
    assert promotion.record_accepted_regression(store, sha=head, **kw) is None  # type: ignore[arg-type]
    assert promotion.record_accepted_regression(store, sha="d" * 40, **kw) is not None  # type: ignore[arg-type]
    assert store.has_audit(action=promotion.A_ACCEPT, repo=REPO, pr=7, sha=head)
    assert not store.has_audit(action=promotion.A_ACCEPT, repo=REPO, pr=8, sha=head)
    assert [r["action"] for r in store.audit_records()] == ["accept_regression"] * 2
