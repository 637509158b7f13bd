"""Migration 0008: a PR's release history (Store.releases_of_pr, read by every plan of a PR)
is found by the (repo, pr) index, on a store migrated up from 0007 with its rows kept."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, inspect

from bot import promotion
from bot.promotion import A_PROMOTE, R_SUCCESS, Release
from bot.store import Store

REPO = "acme/churn"


def _promote(store: Store, pr: int, delivery: str) -> None:
    release = Release("promote", "churn", "production", "wes", delivery, REPO, pr, f"{pr:040x}")
    promotion.audit(store, release, A_PROMOTE, R_SUCCESS, from_version="1", to_version="2")


def test_migration_0008_adds_the_pr_index_and_releases_of_pr_uses_it(tmp_path: Path) -> None:
    from alembic import command

    from bot.store import _alembic_config

    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    with store.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0007")
    for i in range(60):
        _promote(store, pr=i % 6, delivery=f"d{i}")
    assert "ix_audit_pr" not in {ix["name"] for ix in inspect(store.engine).get_indexes("audit")}

    store.migrate()  # up to the head, 0008 among them
    assert store.stored_revision() == "0008"
    assert "ix_audit_pr" in {ix["name"] for ix in inspect(store.engine).get_indexes("audit")}
    rows = store.releases_of_pr(REPO, 3, 10)
    assert len(rows) == 10 and all(r.pr == 3 for r in rows)
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)  # newest first

    # the query releases_of_pr really sends, with its parameters, as SQLite plans it
    sent: list[tuple[str, object]] = []

    def capture(conn: object, cursor: object, statement: str, params: object, context: object, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "audit" in statement:
            sent.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.releases_of_pr(REPO, 3, 10)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    [(statement, params)] = sent
    with store.engine.connect() as c:
        plan = " ".join(str(r[-1]) for r in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params))  # type: ignore[arg-type]
    assert "ix_audit_pr" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # the index gives the order too
