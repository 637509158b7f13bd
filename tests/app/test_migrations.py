"""The store's schema comes from bot/migrations, on SQLite and PostgreSQL alike.

- A new store gets exactly the tables bot/store.py declares: a change to the tables without
  a revision (or a revision that disagrees) fails here.
- A store made by mlgate 0.1 before migrations existed is upgraded in place, rows kept.
- Several processes starting at once on one new store all succeed.
- A store that a newer mlgate migrated is refused, with what to do.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.store import Store, StoreError, metadata


def _head() -> str:
    from alembic.script import ScriptDirectory

    from bot.store import _alembic_config

    return str(ScriptDirectory.from_config(_alembic_config(None)).get_current_head())


def test_the_stores_schema_head_is_the_newest_revision() -> None:
    from bot.store import SCHEMA_HEAD

    assert _head() == SCHEMA_HEAD, "set bot.store.SCHEMA_HEAD to the newest revision in bot/migrations/versions"


def test_a_new_store_has_exactly_the_declared_tables(store_url: str) -> None:
    store = Store(store_url)
    store.migrate()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == [], f"bot/store.py and bot/migrations disagree; add a revision: {diff}"
    assert store.stored_revision() == _head()
    store.migrate()  # again: nothing to do
    assert store.stored_revision() == _head()
    store.engine.dispose()


def test_a_store_from_before_migrations_is_upgraded_in_place(store_url: str) -> None:


    store = Store(store_url)
    with store.engine.begin() as conn:
        # what mlgate 0.1's create_all made: its eight tables (unchanged since) without the later
        # index, and no version table
        later = ("files", "pr_heads", "monitor_runs", "pr_states")
        metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t.name not in later])
        conn.execute(text("DROP INDEX ix_deliveries_repo_received"))
        conn.execute(text("ALTER TABLE checks DROP COLUMN digest"))  # added by 0006
        for index in ("ix_audit_release", "ix_audit_delivery", "ix_audit_head", "ix_audit_pr"):  # 0007, 0008
            conn.execute(text(f"DROP INDEX {index}"))
        conn.execute(text("ALTER TABLE audit DROP COLUMN alias"))
        conn.execute(text("INSERT INTO audit (at, actor, action, result) VALUES (1.0, 'wes', 'promote', 'success')"))
    assert store.record_delivery("d-1", "ping", None, None, None, b"{}")
    assert not inspect(store.engine).has_table("files")

    store.migrate()
    assert store.stored_revision() == _head()
    assert inspect(store.engine).has_table("files")
    assert [r["actor"] for r in store.audit_records()] == ["wes"]
    assert store.delivery("d-1") is not None
    assert not store.record_delivery("d-1", "ping", None, None, None, b"{}")  # still deduplicates
    store.remember_file("acme/churn", ".github/mlgate.yml", "a" * 40, "version: 1\n")
    assert store.file_at("acme/churn", ".github/mlgate.yml", "a" * 40) == (True, "version: 1\n")
    store.engine.dispose()


def _start(args: tuple[str, Any]) -> str:
    """One process starting: open the store, wait until every process is ready, migrate."""
    store_url, ready = args
    store = Store(store_url)
    ready.wait(60)  # a barrier: all of them go at once
    try:
        store.migrate()
        return str(store.stored_revision())
    except Exception as exc:  # reported, not raised: the test shows every process's outcome
        return f"{type(exc).__name__}: {exc}"
    finally:
        store.engine.dispose()


def test_processes_starting_at_the_same_instant_on_a_new_store_all_succeed(store_url: str, tmp_path: Path) -> None:
    processes = 6
    ctx = mp.get_context("spawn")
    urls = [store_url] + ([f"sqlite:///{tmp_path / f'race{i}.db'}" for i in range(4)]
                          if store_url.startswith("sqlite") else [])  # SQLite raced most often: more stores
    outcomes: list[str] = []
    with ctx.Manager() as manager, ctx.Pool(processes) as pool:
        for url in urls:
            ready = manager.Barrier(processes)
            outcomes += pool.map(_start, [(url, ready)] * processes, chunksize=1)
    assert set(outcomes) == {_head()}, outcomes
    store = Store(store_url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    store.engine.dispose()


def test_a_failed_migration_on_sqlite_leaves_no_table_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.store

    url = f"sqlite:///{tmp_path / 'mlgate.db'}"
    real = bot.store._upgrade

    def crash_after_creating(conn: Any) -> None:
        real(conn)
        raise RuntimeError("the process died mid-migration")

    monkeypatch.setattr(bot.store, "_upgrade", crash_after_creating)
    with pytest.raises(RuntimeError):
        Store(url).migrate()
    monkeypatch.undo()
    store = Store(url)
    assert inspect(store.engine).get_table_names() == []  # all or nothing
    store.migrate()
    assert store.stored_revision() == _head()


def test_a_store_migrated_by_a_newer_mlgate_is_refused_untouched(store_url: str) -> None:
    store = Store(store_url)
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(StoreError) as err:
        store.migrate()
    message = str(err.value)
    assert "revision 0099" in message and "a newer mlgate migrated it" in message
    assert "restore the backup" in message
    assert store.stored_revision() == "0099"
    store.engine.dispose()


def test_the_worker_refuses_to_start_on_a_newer_schema(store_url: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from bot.sandbox import generate_private_key

    store = Store(store_url)
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    store.engine.dispose()
    env = {**os.environ, "MLGATE_WEBHOOK_SECRET": "s", "MLGATE_APP_ID": "1",
           "MLGATE_PRIVATE_KEY": generate_private_key(), "MLGATE_DATABASE_URL": store_url,
           "MLGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
    res = subprocess.run([sys.executable, "-m", "bot.cli", "worker"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode != 0
    assert "revision 0099" in res.stderr and "Deploy that version again" in res.stderr


def test_a_start_on_a_current_store_does_not_load_alembic(store_url: str) -> None:
    import subprocess
    import sys

    Store(store_url).migrate()
    probe = ("import sys\nfrom bot.store import Store\nStore(sys.argv[1]).migrate()\n"
             "print(any(m.split('.')[0] == 'alembic' for m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", probe, store_url], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
