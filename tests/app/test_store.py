"""The store on SQLite and on PostgreSQL: dedupe, stale evaluations, locks across processes, audit."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store
from tests.backends import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'store.db'}")
        s.migrate()
        yield s
        return
    with postgres_database() as url:
        s = Store(url)
        s.migrate()
        yield s
        s.engine.dispose()


def test_deliveries_are_deduplicated(store: Store) -> None:
    assert store.record_delivery("d1", "pull_request", "opened", "acme/churn", 1, b"{}")
    assert not store.record_delivery("d1", "pull_request", "opened", "acme/churn", 1, b"{}")
    store.mark_delivery("d1", "done")
    row = store.delivery("d1")
    assert row is not None and row["status"] == "done" and row["attempts"] == 1 and row["body"] == b"{}"


def test_a_report_for_an_older_head_never_overwrites(store: Store) -> None:
    store.set_pr_head("acme/churn", 7, "new", "base", "alice")
    assert store.record_evaluation("acme/churn", 7, "old", 1, "pass", {"x": 1}) is None
    eid = store.record_evaluation("acme/churn", 7, "new", 2, "fail", {"x": 2})
    assert eid is not None
    latest = store.latest_evaluation("acme/churn", 7)
    assert latest is not None and latest["report"] == {"x": 2} and latest["outcome"] == "fail"


def test_lock_contention_and_expiry(store: Store) -> None:
    assert store.acquire("promote:churn", "worker-a", ttl=60) is None
    held = store.acquire("promote:churn", "worker-b", ttl=60)
    assert held is not None and held.holder == "worker-a"
    store.release("promote:churn", "worker-b")  # not the holder: nothing happens
    assert store.acquire("promote:churn", "worker-b", ttl=60) is not None
    store.release("promote:churn", "worker-a")
    assert store.acquire("promote:churn", "worker-b", ttl=0.2) is None
    time.sleep(0.3)
    assert store.acquire("promote:churn", "worker-c", ttl=60) is None  # expired: taken over


def _contend(url: str, holder: str, results: multiprocessing.Queue[str]) -> None:
    s = Store(url)
    results.put(holder if s.acquire("promote:shared", holder, ttl=30) is None else "")


def test_only_one_of_many_processes_gets_the_lock(store: Store) -> None:
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(store.url, f"p{i}", results)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    winners = [w for w in (results.get(timeout=5) for _ in procs) if w]
    assert len(winners) == 1


def test_audit_is_append_only(store: Store) -> None:
    a = store.record_audit(actor="bob", action="promote", result="success", model="churn", from_version="1",
                           to_version="2", pr=7, sha="abc", delivery_id="d1")
    b = store.record_audit(actor="eve", action="promote", result="denied", model="churn", pr=7)
    assert b > a
    rows = store.audit_records(model="churn")
    assert [(r["actor"], r["result"]) for r in rows] == [("bob", "success"), ("eve", "denied")]
    public = [n for n in dir(Store) if not n.startswith("_")]
    assert not [n for n in public if "audit" in n and any(w in n for w in ("update", "delete", "edit", "remove"))]


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    from bot.store import StoreError

    with pytest.raises(StoreError, match="cannot open the database postgresql"):
        Store("postgresql+psycopg://postgres:s3cret@127.0.0.1:9/x").migrate()
    try:
        Store("postgresql+psycopg://postgres:s3cret@127.0.0.1:9/x").migrate()
    except StoreError as exc:
        assert "s3cret" not in str(exc)


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://ops:hunter2@db:notaport/mlgate", "postgresql://***@db:notaport/mlgate cannot be used"),
    ("mysqlx://ops:hunter2@db/mlgate", "mysqlx://***@db/mlgate cannot be used (NoSuchModuleError"),
    ("hunter2", "(not a URL; value hidden) cannot be used"),
])
def test_a_malformed_database_url_is_named_without_its_password(url: str, says: str) -> None:
    from bot.store import StoreError

    with pytest.raises(StoreError) as err:
        Store(url)
    assert says in str(err.value) and "hunter2" not in str(err.value)
    assert "use sqlite:///PATH or postgresql+psycopg://" in str(err.value)


def test_postgres_scheme_as_heroku_writes_it_is_accepted() -> None:
    with postgres_database() as url:
        store = Store(url.replace("postgresql+psycopg://", "postgres://"))
        store.migrate()
        assert store.ping() and store.record_delivery("d", "ping", None, None, None, b"{}")
        store.engine.dispose()
