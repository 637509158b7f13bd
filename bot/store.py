"""The store (SQLAlchemy): deliveries, PR heads, evaluations, checks, comments, audit, locks.

SQLite by default, PostgreSQL when the URL says so; the same statements work on both. The
audit table is append-only: this module has no function that updates or deletes it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import (
    DatabaseError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)

from bot.errors import AdapterError
from bot.ports import AuditRow, EvaluationRow, InstallationRow, MonitorRunRow
from bot.redact import redact_url, scrub, url_secrets

# GitHub caps webhook payloads at 25 MB; the web door refuses more (413) with this same limit,
# so every delivery it accepts fits here and none is spooled for being too large.
MAX_BODY = 25 * 1024 * 1024

metadata = MetaData()

deliveries = Table(
    "deliveries", metadata,
    Column("id", String(64), primary_key=True),
    Column("event", String(64), nullable=False),
    Column("action", String(64)),
    Column("repo", String(200)),
    Column("installation_id", BigInteger),
    Column("received_at", Float, nullable=False),
    Column("status", String(16), nullable=False),  # queued | done | ignored | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("updated_at", Float),
    Column("body", LargeBinary, nullable=False),
)
Index("ix_deliveries_repo_received", deliveries.c.repo, deliveries.c.received_at)  # prune's newest-per-repo
installations = Table(
    "installations", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account", String(200)),
    Column("repos", Text, nullable=False),  # JSON list
    Column("active", Integer, nullable=False, default=1),
    Column("updated_at", Float, nullable=False),
)
pulls = Table(
    "pulls", metadata,
    Column("repo", String(200), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("head_sha", String(64), nullable=False),
    Column("base_sha", String(64)),
    Column("author", String(200)),
    Column("updated_at", Float, nullable=False),
)
evaluations = Table(
    "evaluations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("repo", String(200), nullable=False),
    Column("pr", Integer, nullable=False),
    Column("head_sha", String(64), nullable=False),
    Column("run_id", BigInteger),
    Column("outcome", String(16), nullable=False),
    Column("report", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
checks = Table(
    "checks", metadata,
    Column("repo", String(200), primary_key=True),
    Column("sha", String(64), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("check_id", BigInteger, nullable=False),
    Column("conclusion", String(32)),
    Column("digest", String(64)),  # SHA-256 of what was last written (bot.apply): the same check costs no call
)
comments = Table(
    "comments", metadata,
    Column("repo", String(200), primary_key=True),
    Column("pr", Integer, primary_key=True),
    Column("comment_id", BigInteger, nullable=False),
)
audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("repo", String(200)),
    Column("model", String(256)),
    Column("from_version", String(64)),
    Column("to_version", String(64)),
    Column("pr", Integer),
    Column("sha", String(64)),
    Column("delivery_id", String(64)),
    Column("result", String(32), nullable=False),
    Column("detail", Text),
    Column("alias", String(255)),  # the alias a promotion or rollback moved (migration 0007)
)
# release history (bot.promotion): an alias's releases, an earlier release by the same delivery or PR head
Index("ix_audit_release", audit.c.model, audit.c.alias, audit.c.id)
Index("ix_audit_delivery", audit.c.delivery_id)
Index("ix_audit_head", audit.c.repo, audit.c.sha)
Index("ix_audit_pr", audit.c.repo, audit.c.pr, audit.c.id)  # a PR's releases, newest first (0008)
locks = Table(
    "locks", metadata,
    Column("name", String(300), primary_key=True),
    Column("holder", String(300), nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
files = Table(
    "files",  # files read from GitHub at a commit (the base branch's policy): immutable, so shared by workers
    metadata,
    Column("repo", String(200), primary_key=True),
    Column("path", String(300), primary_key=True),
    Column("sha", String(64), primary_key=True),
    Column("text", Text),  # NULL: the file does not exist at that commit
    Column("read_at", Float, nullable=False),
)


pr_states = Table(
    "pr_states",  # what the living comment shows (bot.plan.PRState as JSON), its main section and body hash
    metadata,
    Column("repo", String(200), primary_key=True),
    Column("pr", Integer, primary_key=True),
    Column("state", Text, nullable=False),
    Column("section", Text, nullable=False),
    Column("comment_sha256", String(64)),
    Column("updated_at", Float, nullable=False),
)


pr_heads = Table(
    "pr_heads",  # each head SHA a PR has had: how far its jobs got, and whether a newer head replaced it
    metadata,
    Column("repo", String(200), primary_key=True),
    Column("pr", Integer, primary_key=True),
    Column("sha", String(64), primary_key=True),
    Column("phase", Integer, nullable=False),  # bot.handlers.ordering: 0 seen, 1 pending, 2 evaluated
    Column("superseded", Integer, nullable=False),  # 1: a newer head replaced it; it never comes back
    Column("updated_at", Float, nullable=False),
)

monitor_runs = Table(  # bot.monitor.state: one row per repository, model and window (0005)
    "monitor_runs", metadata,
    Column("repo", String(200), primary_key=True),
    Column("model", String(256), primary_key=True),
    Column("window_label", String(40), primary_key=True),
    Column("at", Float, nullable=False),
    Column("state", String(16), nullable=False),  # ok | alert | unknown
    Column("issue", Integer),
    Column("summary", Text, nullable=False),  # JSON
    Column("comparison", Text),  # JSON: a running canary's live comparison
)
Index("ix_monitor_runs_at", monitor_runs.c.repo, monitor_runs.c.model, monitor_runs.c.at)


def _evaluation_row(row: RowMapping) -> EvaluationRow:
    report = json.loads(row["report"])
    if not isinstance(report, dict):  # the App only ever stores objects: this row was written by someone else
        raise StoreError(f"stored evaluation {row['id']} holds no report object; delete the row and re-run the evaluation")
    return EvaluationRow(id=int(row["id"]), repo=row["repo"], pr=int(row["pr"]), head_sha=row["head_sha"],
                         run_id=row["run_id"], outcome=row["outcome"], report=report,
                         created_at=float(row["created_at"]))


class StoreError(AdapterError):
    """The database cannot be reached or used; names the URL without credentials."""


MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"  # the schema that create_all made before bot/migrations existed
SCHEMA_HEAD = "0008"  # the newest revision in bot/migrations/versions (tests keep the two equal)
MIGRATION_LOCK = 0x6D6C67617465  # "mlgate": the advisory lock that serialises migrations on PostgreSQL


def _alembic_config(conn: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def _upgrade(conn: Any) -> None:
    """Apply the missing revisions on `conn`, inside its transaction."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    cfg = _alembic_config(conn)
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            raise StoreError(
                f"the database's schema is at revision {current}, which this mlgate (schema {head}) does not "
                "know: a newer mlgate migrated it. Deploy that version again, or restore the backup taken "
                "before the upgrade (see docs/operations.md, Upgrades)") from None
    elif inspect(conn).has_table("deliveries"):
        command.stamp(cfg, BASELINE)  # made by create_all before migrations existed
        current = BASELINE
    command.upgrade(cfg, "head")
    logging.getLogger("mlgate.store").info("store schema %s", f"upgraded from {current} to {head}" if current
                                           else f"created at {head}")


RELEASE_ACTIONS = ("promote", "rollback")  # bot.promotion's audit actions and success result
RELEASE_SUCCESS = "success"
_SUCCESSFUL_RELEASE = and_(audit.c.action.in_(RELEASE_ACTIONS), audit.c.result == RELEASE_SUCCESS)


@dataclass(frozen=True)
class ReleaseRow:
    """One successful promotion or rollback from the audit log (bot.promotion wrote it)."""

    id: int
    at: float
    actor: str
    action: str
    model: str
    alias: str
    from_version: str | None
    to_version: str | None  # None: a canary's alias was cleared
    repo: str | None
    pr: int | None
    sha: str | None
    delivery_id: str | None
    detail: str | None

    @classmethod
    def of(cls, row: RowMapping) -> ReleaseRow:
        return cls(**{f: row[f] for f in _RELEASE_FIELDS})


_RELEASE_FIELDS = ("id", "at", "actor", "action", "model", "alias", "from_version", "to_version", "repo", "pr",
                   "sha", "delivery_id", "detail")
_RELEASE_COLUMNS = [audit.c[f] for f in _RELEASE_FIELDS]


@dataclass(frozen=True)
class LockInfo:
    name: str
    holder: str
    acquired_at: float
    expires_at: float

    @property
    def since(self) -> str:
        return datetime.fromtimestamp(self.acquired_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def open_existing(url: str) -> Store:
    """The App's store for an operator command, as the App left it: never created, never migrated.

    Creating one would split the audit log between two stores without anyone noticing, and
    migrating from an operator's newer install would stop the App's processes at their next
    start (they refuse a schema newer than theirs).
    """
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not os.path.exists(path):
            raise StoreError(f"there is no store at {path}; pass --database-url or set MLGATE_DATABASE_URL "
                             "(or MLGATE_DATA_DIR) as the App has them")
        if os.path.isfile(path) and os.path.getsize(path) == 0:  # opening it would make it a database
            raise StoreError(f"there is no mlgate store at {path} (the file is empty); pass --database-url or "
                             "set MLGATE_DATABASE_URL as the App has them")
    store = Store(url)
    revision = store.stored_revision()
    if revision == SCHEMA_HEAD:
        return store
    where = redact_url(url)
    if revision is None and not store.has_tables():
        raise StoreError(f"there is no mlgate store at {where} (the database has no mlgate tables); pass "
                         "--database-url or set MLGATE_DATABASE_URL as the App has them")
    raise StoreError(
        f"the store at {where} has schema {revision or '0.1 (before migrations)'} and this mlgate has schema "
        f"{SCHEMA_HEAD}; run the operator command with the mlgate version the App runs (the App's "
        "processes migrate the store when they start after an upgrade)")


class Store:
    def __init__(self, url: str):
        self.url = url
        self._secrets = url_secrets(url)
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        elif url.startswith(("postgresql://", "postgres://")):  # postgres:// as Heroku and others write it
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except Exception as exc:  # a malformed URL: say which, never with its password
            raise StoreError(f"the database URL {redact_url(self.url)} cannot be used ({type(exc).__name__}: "
                             f"{self._say((str(exc).splitlines() or [''])[0], 120)}); use sqlite:///PATH or "
                             "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB") from None
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _pragmas(conn: Any, _: Any) -> None:
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                # WAL + NORMAL survives a crash of any process; only an OS crash can lose the last commits
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

    def migrate(self) -> None:
        """Bring the schema to this release's (bot/migrations, Alembic), or refuse with the reason.

        All or nothing, and one process at a time when several start at once: PostgreSQL
        serialises them on an advisory lock inside the migrating transaction; SQLite takes its
        write lock up front (BEGIN IMMEDIATE) on a connection whose DDL the driver does not
        commit by itself. The others then find the work done. A store made before migrations
        existed is recognised and stamped, then upgraded in place. A store migrated by a newer
        mlgate is never touched: going back needs a backup.
        """
        if self._at_head():
            return  # the usual start: no need to load Alembic (0.1 s and 11 MB per process)
        from alembic.util import CommandError

        last = ""
        for attempt in range(8):
            try:
                if self.engine.dialect.name == "sqlite":
                    self._migrate_sqlite()
                else:
                    with self.engine.begin() as conn:
                        if conn.dialect.name == "postgresql":
                            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                        _upgrade(conn)
                return
            except (OperationalError, IntegrityError, ProgrammingError) as exc:
                text = self._say(str(exc.orig))
                if any(s in text for s in ("already exists", "duplicate key", "database is locked")):
                    last = text
                    time.sleep(0.05 * (attempt + 1))  # another process is migrating: look again
                    continue
                raise StoreError(f"cannot open the database {redact_url(self.url)}: {text}") from None
            except CommandError as exc:
                raise StoreError(f"cannot migrate the database {redact_url(self.url)}: {exc}") from None
        raise StoreError(f"cannot migrate the database {redact_url(self.url)} after 8 attempts: {last} (if no other "
                         "mlgate process is starting, a table or index of a newer schema is in the way)")

    def _migrate_sqlite(self) -> None:
        # pysqlite commits DDL on its own unless it is told to stay out of the way: in AUTOCOMMIT
        # mode it sends our BEGIN/COMMIT through, so every CREATE is inside one transaction
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits (busy_timeout) while another process migrates
            try:
                _upgrade(conn)
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")

    def _say(self, text: str, limit: int = 200) -> str:
        """A driver's message fit to show: no URL credentials, not even pieces of the password,
        at most `limit` characters; with a hint when the password holds characters that a URL
        must percent-encode."""
        out = scrub(text.strip(), self._secrets)[:limit]
        userinfo = self.url.split("://", 1)[-1].rsplit("@", 1)[0] if "@" in self.url else ""
        if userinfo.count("@") or "/" in userinfo or userinfo.count(":") > 1:
            out += " (if the password holds @, / or :, percent-encode them in the URL, e.g. @ as %40)"
        return out

    def _at_head(self) -> bool:
        try:
            return self.stored_revision() == SCHEMA_HEAD
        except StoreError:
            return False  # migrate() says what is wrong

    def stored_revision(self) -> str | None:
        """The schema revision the store records; None when it has none (plain SQL, no Alembic)."""
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except DatabaseError as exc:  # unreachable, not a database, refused
            raise StoreError(f"cannot open the database {redact_url(self.url)}: "
                             f"{self._say((str(exc.orig).strip().splitlines() or [''])[0])}") from None
        return str(found) if found is not None else None

    def has_tables(self) -> bool:
        """Whether any of mlgate's tables exist (a store made before migrations has no version)."""
        with self.engine.connect() as conn:
            return inspect(conn).has_table("deliveries")

    def ping(self) -> bool:
        try:
            with self.engine.connect() as c:
                c.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    # ------------------------------------------------------------ deliveries

    def record_delivery(self, delivery_id: str, event_name: str, action: str | None, repo: str | None,
                        installation_id: int | None, body: bytes) -> bool:
        """Insert a delivery; False when the id was seen before (a redelivery)."""
        if len(body) > MAX_BODY:
            raise StoreError(f"delivery body is {len(body)} bytes; the limit is {MAX_BODY}")
        try:
            with self.engine.begin() as c:
                c.execute(insert(deliveries).values(
                    id=delivery_id, event=event_name, action=action, repo=repo, installation_id=installation_id,
                    received_at=time.time(), updated_at=time.time(), status="queued", attempts=0, body=body))
            return True
        except IntegrityError:
            return False
        except OperationalError as exc:
            raise StoreError(f"the database {redact_url(self.url)} is unavailable: "
                             f"{self._say(str(exc.orig))}") from None

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(deliveries).where(deliveries.c.id == delivery_id)).mappings().first()
        return dict(row) if row else None

    def mark_delivery(self, delivery_id: str, status: str, error: str | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
                status=status, last_error=error, attempts=deliveries.c.attempts + 1, updated_at=time.time()))

    def defer_delivery(self, delivery_id: str, until: float, error: str | None = None) -> None:
        """Queued again, due at `until` (the queue holds the delayed job). Its `updated_at` is set
        to `until`, so the sweep, which re-enqueues deliveries without progress for a while,
        counts from the due time: it rescues a job the queue lost, never runs one early."""
        with self.engine.begin() as c:
            c.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
                status="queued", last_error=error, attempts=deliveries.c.attempts + 1, updated_at=until))

    def mark_running(self, delivery_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
                status="running", updated_at=time.time()))

    def stale_deliveries(self, older_than: float, limit: int = 100) -> list[str]:
        """Deliveries queued or running with no progress since `older_than` (a worker died with them)."""
        with self.engine.connect() as c:
            rows = c.execute(select(deliveries.c.id).where(
                deliveries.c.status.in_(("queued", "running")),
                deliveries.c.updated_at < older_than).order_by(deliveries.c.received_at).limit(limit))
            return [r[0] for r in rows]

    def touch_delivery(self, delivery_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(updated_at=time.time()))

    def prune(self, older_than: float, *, dry_run: bool = False) -> dict[str, int]:
        """Delete finished deliveries, cached files and superseded PR heads last touched before `older_than`.

        Queued and running deliveries are never touched, nor are evaluations, the audit log,
        locks, checks or comments. Each repository's newest delivery is kept too: it names the
        App installation that covers the repository (`installation_for`). One transaction:
        all or nothing.
        """
        newer = deliveries.alias("newer")
        superseded = exists().where(newer.c.repo == deliveries.c.repo, newer.c.installation_id.is_not(None),
                                    newer.c.received_at > deliveries.c.received_at)
        finished = (deliveries.c.status.in_(("done", "ignored", "failed")),
                    func.coalesce(deliveries.c.updated_at, deliveries.c.received_at) < older_than,
                    or_(deliveries.c.repo.is_(None), deliveries.c.installation_id.is_(None), superseded))
        # heads a newer head replaced long ago: a late event about one is ordered by asking GitHub
        replaced = (pr_heads.c.superseded == 1, pr_heads.c.updated_at < older_than)
        with self.engine.begin() as c:
            counts = {
                "deliveries": int(c.execute(select(func.count()).select_from(deliveries).where(*finished)).scalar()
                                  or 0),
                "files": int(c.execute(select(func.count()).select_from(files).where(files.c.read_at < older_than))
                             .scalar() or 0),
                "pr_heads": int(c.execute(select(func.count()).select_from(pr_heads).where(*replaced)).scalar() or 0),
            }
            if not dry_run:
                c.execute(delete(deliveries).where(*finished))
                c.execute(delete(files).where(files.c.read_at < older_than))
                c.execute(delete(pr_heads).where(*replaced))
        return counts

    def recent_deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(deliveries.c.id, deliveries.c.event, deliveries.c.action, deliveries.c.repo,
                                    deliveries.c.status, deliveries.c.attempts, deliveries.c.last_error,
                                    deliveries.c.received_at).order_by(deliveries.c.received_at.desc()).limit(limit))
            return [dict(r) for r in rows.mappings()]

    # ------------------------------------------------------------ installations

    def set_installation(self, inst_id: int, account: str | None, repos: list[str], active: bool = True) -> None:
        with self.engine.begin() as c:
            c.execute(delete(installations).where(installations.c.id == inst_id))
            c.execute(insert(installations).values(id=inst_id, account=account, repos=json.dumps(sorted(set(repos))),
                                                   active=1 if active else 0, updated_at=time.time()))

    def installation(self, inst_id: int) -> InstallationRow | None:
        with self.engine.connect() as c:
            row = c.execute(select(installations).where(installations.c.id == inst_id)).mappings().first()
        if not row:
            return None
        return InstallationRow(id=int(row["id"]), account=row["account"], repos=list(json.loads(row["repos"])),
                               active=int(row["active"]), updated_at=float(row["updated_at"]))

    # ------------------------------------------------------------ PRs and evaluations

    def installation_for(self, repo: str) -> int | None:
        """The App installation covering `repo`: from installation events, else from its latest delivery."""
        with self.engine.connect() as c:
            for row in c.execute(select(installations.c.id, installations.c.repos)
                                 .where(installations.c.active == 1).order_by(installations.c.updated_at.desc())):
                if repo in json.loads(row.repos):
                    return int(row.id)
            found = c.execute(select(deliveries.c.installation_id).where(
                deliveries.c.repo == repo, deliveries.c.installation_id.is_not(None))
                .order_by(deliveries.c.received_at.desc()).limit(1)).scalar()
        return int(found) if found is not None else None

    def set_pr_head(self, repo: str, number: int, head_sha: str, base_sha: str | None, author: str | None) -> None:
        with self.engine.begin() as c:
            c.execute(delete(pulls).where(pulls.c.repo == repo, pulls.c.number == number))
            c.execute(insert(pulls).values(repo=repo, number=number, head_sha=head_sha, base_sha=base_sha,
                                           author=author, updated_at=time.time()))

    def pr_head(self, repo: str, number: int) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(pulls.c.head_sha).where(pulls.c.repo == repo, pulls.c.number == number)).scalar()

    # ------------------------------------------------------------ the order of a PR's heads

    def head_state(self, repo: str, pr: int, sha: str) -> tuple[int, bool]:
        """(phase, superseded) of one head of a PR; (0, False) for a head never seen."""
        with self.engine.connect() as c:
            row = c.execute(select(pr_heads.c.phase, pr_heads.c.superseded).where(
                pr_heads.c.repo == repo, pr_heads.c.pr == pr, pr_heads.c.sha == sha)).first()
        return (int(row[0]), bool(row[1])) if row else (0, False)

    def order_pr_head(self, repo: str, pr: int, sha: str, *, before: str | None = None,
                      base_sha: str | None = None, author: str | None = None) -> tuple[str, str | None]:
        """Whether `sha` is the PR's head, decided from the store alone in one transaction.

        ("current", sha) after making it the head: the first head seen, the head itself, the head
        a `synchronize` names as replaced in `before` (also a force-push back to an earlier
        commit), or a successor of a head already superseded. ("stale", head) when a newer head
        replaced `sha`. ("unknown", head) when the store cannot order the two: the caller asks
        GitHub. ("retry", ...) when another process moved the head meanwhile. `before` is marked
        superseded whatever the answer.
        """
        now = time.time()
        try:
            with self.engine.begin() as c:
                if before and before != sha:
                    self._retire(c, repo, pr, before, now)
                self._head_row(c, repo, pr, sha, now)
                superseded = bool(c.execute(select(pr_heads.c.superseded).where(
                    pr_heads.c.repo == repo, pr_heads.c.pr == pr, pr_heads.c.sha == sha)).scalar())
                row = c.execute(select(pulls.c.head_sha, pulls.c.base_sha, pulls.c.author).where(
                    pulls.c.repo == repo, pulls.c.number == pr)).first()
                current = row[0] if row else None
                if (current == sha and not superseded) or (before is not None and before == current):
                    pass
                elif superseded:
                    return "stale", current
                elif current is not None and not c.execute(select(pr_heads.c.superseded).where(
                        pr_heads.c.repo == repo, pr_heads.c.pr == pr, pr_heads.c.sha == current)).scalar():
                    return "unknown", current
                if not self._set_head(c, repo, pr, sha, row, base_sha, author, now):
                    return "retry", current
                return "current", sha
        except IntegrityError:
            return "retry", None  # another process recorded this PR's first head at the same moment

    def move_pr_head(self, repo: str, pr: int, sha: str, *, expected: str | None, retire: list[str],
                     base_sha: str | None = None, author: str | None = None, revive: bool = False) -> bool:
        """Make `sha` the PR's head if the head is still `expected` (compare-and-set) and `sha` was
        never superseded (unless `revive`: a force-push back to an earlier commit); mark `retire`
        superseded either way. One transaction: False changes nothing but the retirements, which
        are facts whatever the answer."""
        now = time.time()
        try:
            with self.engine.begin() as c:
                for old in {x for x in retire if x and x != sha}:
                    self._retire(c, repo, pr, old, now)
                self._head_row(c, repo, pr, sha, now)
                if c.execute(select(pr_heads.c.superseded).where(pr_heads.c.repo == repo, pr_heads.c.pr == pr,
                                                                  pr_heads.c.sha == sha)).scalar() and not revive:
                    return False
                row = c.execute(select(pulls.c.head_sha, pulls.c.base_sha, pulls.c.author).where(
                    pulls.c.repo == repo, pulls.c.number == pr)).first()
                if (row[0] if row else None) != expected:
                    return False
                return self._set_head(c, repo, pr, sha, row, base_sha, author, now)
        except IntegrityError:
            return False  # another process recorded this PR's first head at the same moment: look again

    def _set_head(self, c: Any, repo: str, pr: int, sha: str, row: Any, base_sha: str | None,
                  author: str | None, now: float) -> bool:
        """Within a transaction: `sha` becomes the head if the head is still `row`'s (compare-and-set);
        the replaced head is superseded and `sha` is not."""
        values = {"head_sha": sha, "base_sha": base_sha or (row[1] if row else None),
                  "author": author or (row[2] if row else None), "updated_at": now}
        if row is None:
            c.execute(insert(pulls).values(repo=repo, number=pr, **values))  # a race: IntegrityError
        else:
            res = c.execute(update(pulls).where(pulls.c.repo == repo, pulls.c.number == pr,
                                                pulls.c.head_sha == row[0]).values(**values))
            if not res.rowcount:
                return False
            if row[0] != sha:
                self._retire(c, repo, pr, row[0], now)
        c.execute(update(pr_heads).where(pr_heads.c.repo == repo, pr_heads.c.pr == pr, pr_heads.c.sha == sha)
                  .values(superseded=0, updated_at=now))
        return True

    def _retire(self, c: Any, repo: str, pr: int, sha: str, now: float) -> None:
        self._head_row(c, repo, pr, sha, now)
        c.execute(update(pr_heads).where(pr_heads.c.repo == repo, pr_heads.c.pr == pr, pr_heads.c.sha == sha)
                  .values(superseded=1, updated_at=now))

    def raise_head_phase(self, repo: str, pr: int, sha: str, phase: int) -> bool:
        """Record that a head's jobs got to `phase`; a phase never goes down. True when it rose."""
        now = time.time()
        with self.engine.begin() as c:
            self._head_row(c, repo, pr, sha, now)
            res = c.execute(update(pr_heads).where(pr_heads.c.repo == repo, pr_heads.c.pr == pr, pr_heads.c.sha == sha,
                                                   pr_heads.c.phase < phase).values(phase=phase, updated_at=now))
            return bool(res.rowcount)

    def prs_with_head(self, repo: str, sha: str) -> list[int]:
        """The PRs mlgate has seen with this head SHA (current or former), newest first."""
        with self.engine.connect() as c:
            found = {int(r[0]) for r in c.execute(select(pulls.c.number).where(pulls.c.repo == repo,
                                                                                 pulls.c.head_sha == sha))}
            found |= {int(r[0]) for r in c.execute(select(pr_heads.c.pr).where(pr_heads.c.repo == repo,
                                                                                 pr_heads.c.sha == sha))}
        return sorted(found, reverse=True)

    @staticmethod
    def _head_row(c: Any, repo: str, pr: int, sha: str, now: float) -> None:
        if c.execute(select(pr_heads.c.phase).where(pr_heads.c.repo == repo, pr_heads.c.pr == pr,
                                                    pr_heads.c.sha == sha)).first() is None:
            c.execute(insert(pr_heads).values(repo=repo, pr=pr, sha=sha, phase=0, superseded=0, updated_at=now))

    def record_evaluation(self, repo: str, pr: int, head_sha: str, run_id: int | None, outcome: str,
                          report: dict[str, Any]) -> int | None:
        """Store an evaluation; None (nothing stored) when the PR has moved to a newer head."""
        current = self.pr_head(repo, pr)
        if current is not None and current != head_sha:
            return None
        with self.engine.begin() as c:
            res = c.execute(insert(evaluations).values(repo=repo, pr=pr, head_sha=head_sha, run_id=run_id,
                                                       outcome=outcome, report=json.dumps(report),
                                                       created_at=time.time()))
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def latest_evaluation(self, repo: str, pr: int, head_sha: str | None = None) -> EvaluationRow | None:
        q = select(evaluations).where(evaluations.c.repo == repo, evaluations.c.pr == pr)
        if head_sha:
            q = q.where(evaluations.c.head_sha == head_sha)
        with self.engine.connect() as c:
            row = c.execute(q.order_by(evaluations.c.id.desc()).limit(1)).mappings().first()
        return _evaluation_row(row) if row else None

    def evaluation(self, eval_id: int) -> EvaluationRow | None:
        with self.engine.connect() as c:
            row = c.execute(select(evaluations).where(evaluations.c.id == eval_id)).mappings().first()
        return _evaluation_row(row) if row else None

    def recent_evaluations(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(evaluations.c.id, evaluations.c.repo, evaluations.c.pr, evaluations.c.head_sha,
                                    evaluations.c.outcome, evaluations.c.created_at)
                             .order_by(evaluations.c.id.desc()).limit(limit))
            return [dict(r) for r in rows.mappings()]

    # ------------------------------------------------------------ checks and comments

    def check_id(self, repo: str, sha: str, name: str) -> int | None:
        with self.engine.connect() as c:
            return c.execute(select(checks.c.check_id).where(
                checks.c.repo == repo, checks.c.sha == sha, checks.c.name == name)).scalar()

    def set_check(self, repo: str, sha: str, name: str, check_id: int, conclusion: str | None,
                  digest: str | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(delete(checks).where(checks.c.repo == repo, checks.c.sha == sha, checks.c.name == name))
            c.execute(insert(checks).values(repo=repo, sha=sha, name=name, check_id=check_id, conclusion=conclusion,
                                            digest=digest))

    def check_digest(self, repo: str, sha: str, name: str) -> str | None:
        """The SHA-256 of the check run last written (bot.apply), or None."""
        with self.engine.connect() as c:
            return c.execute(select(checks.c.digest).where(
                checks.c.repo == repo, checks.c.sha == sha, checks.c.name == name)).scalar()

    def pr_state(self, repo: str, pr: int) -> tuple[str, str, str | None] | None:
        """(state JSON, section, comment body SHA-256) of the PR's living comment, or None."""
        with self.engine.connect() as c:
            row = c.execute(select(pr_states.c.state, pr_states.c.section, pr_states.c.comment_sha256).where(
                pr_states.c.repo == repo, pr_states.c.pr == pr)).first()
        return (str(row[0]), str(row[1]), row[2]) if row else None

    def set_pr_state(self, repo: str, pr: int, state: str, section: str, comment_sha256: str | None) -> None:
        with self.engine.begin() as c:
            c.execute(delete(pr_states).where(pr_states.c.repo == repo, pr_states.c.pr == pr))
            c.execute(insert(pr_states).values(repo=repo, pr=pr, state=state, section=section,
                                               comment_sha256=comment_sha256, updated_at=time.time()))

    def check_conclusion(self, repo: str, sha: str, name: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(checks.c.conclusion).where(
                checks.c.repo == repo, checks.c.sha == sha, checks.c.name == name)).scalar()

    def comment_id(self, repo: str, pr: int) -> int | None:
        with self.engine.connect() as c:
            return c.execute(select(comments.c.comment_id).where(comments.c.repo == repo, comments.c.pr == pr)).scalar()

    def set_comment_id(self, repo: str, pr: int, comment_id: int) -> None:
        with self.engine.begin() as c:
            c.execute(delete(comments).where(comments.c.repo == repo, comments.c.pr == pr))
            c.execute(insert(comments).values(repo=repo, pr=pr, comment_id=comment_id))

    # ------------------------------------------------------------ files at a commit

    def file_at(self, repo: str, path: str, sha: str) -> tuple[bool, str | None]:
        """(known, text): text is None when the file was absent at that commit."""
        with self.engine.connect() as c:
            row = c.execute(select(files.c.text).where(files.c.repo == repo, files.c.path == path,
                                                       files.c.sha == sha)).first()
        return (True, row[0]) if row else (False, None)

    def remember_file(self, repo: str, path: str, sha: str, text: str | None) -> None:
        try:
            with self.engine.begin() as c:
                c.execute(insert(files).values(repo=repo, path=path, sha=sha, text=text, read_at=time.time()))
        except IntegrityError:
            pass  # another worker read it first; a commit's content never changes

    # ------------------------------------------------------------ audit (append-only)

    def record_audit(self, *, actor: str, action: str, result: str, repo: str | None = None,
                     model: str | None = None, from_version: str | None = None, to_version: str | None = None,
                     pr: int | None = None, sha: str | None = None, delivery_id: str | None = None,
                     detail: str | None = None, alias: str | None = None) -> int:
        """Append one row; a StoreError when the database cannot take it (a release undoes its move)."""
        try:
            with self.engine.begin() as c:
                res = c.execute(insert(audit).values(at=time.time(), actor=actor, action=action, result=result,
                                                     repo=repo, model=model, from_version=from_version,
                                                     to_version=to_version, pr=pr, sha=sha, delivery_id=delivery_id,
                                                     detail=detail, alias=alias))
                return int(res.inserted_primary_key[0])  # type: ignore[index]
        except DBAPIError as exc:
            raise StoreError(f"cannot write the audit log to {redact_url(self.url)}: "
                             f"{self._say(str(exc.orig))}") from None

    def audit_records(self, model: str | None = None, limit: int | None = None) -> list[AuditRow]:
        q = select(audit).order_by(audit.c.id)
        if model:
            q = q.where(audit.c.model == model)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as c:
            return [cast(AuditRow, dict(r)) for r in c.execute(q).mappings()]

    # release history: successful promotions and rollbacks, found by index (never a scan of the log)

    def _releases(self, q: Any) -> list[ReleaseRow]:
        with self.engine.connect() as c:
            return [ReleaseRow.of(r) for r in c.execute(q).mappings()]

    def releases(self, model: str, alias: str, limit: int | None = None) -> list[ReleaseRow]:
        """The successful promotions and rollbacks of `model@alias`, newest first."""
        q = (select(*_RELEASE_COLUMNS).where(audit.c.model == model, audit.c.alias == alias, _SUCCESSFUL_RELEASE)
             .order_by(audit.c.id.desc()))
        return self._releases(q.limit(limit) if limit else q)

    def last_release(self, model: str, alias: str) -> ReleaseRow | None:
        """The newest successful promotion or rollback of `model@alias`: where mlgate last put the alias."""
        found = self.releases(model, alias, limit=1)
        return found[0] if found else None

    def previous_version(self, model: str, alias: str, current: str | None) -> str | None:
        """The version `model@alias` pointed at before its newest successful move to `current`."""
        q = (select(*_RELEASE_COLUMNS).where(audit.c.model == model, audit.c.alias == alias, _SUCCESSFUL_RELEASE,
                                             audit.c.to_version.is_(None) if current is None
                                             else audit.c.to_version == current)
             .order_by(audit.c.id.desc()).limit(1))
        found = self._releases(q)
        return found[0].from_version if found else None

    def earlier_release(self, *, model: str, action: str, delivery_id: str,
                        head: tuple[str, str, str] | None = None) -> ReleaseRow | None:
        """The newest successful `action` of `model` by this delivery, or (`head` = repo, sha, alias)
        of that pull-request head to that alias: a release that must not run twice."""
        same = audit.c.delivery_id == delivery_id
        if head is not None:
            repo, sha, alias = head
            same = or_(same, and_(audit.c.repo == repo, audit.c.sha == sha, audit.c.alias == alias))
        q = (select(*_RELEASE_COLUMNS).where(audit.c.model == model, audit.c.action == action,
                                             audit.c.result == RELEASE_SUCCESS, same)
             .order_by(audit.c.id.desc()).limit(1))
        found = self._releases(q)
        return found[0] if found else None

    def has_audit(self, *, action: str, repo: str, pr: int, sha: str) -> bool:
        """Whether the log has an `action` row for this pull request's head (an accepted regression)."""
        q = select(exists().where(audit.c.repo == repo, audit.c.sha == sha, audit.c.pr == pr,
                                  audit.c.action == action))
        with self.engine.connect() as c:
            return bool(c.execute(q).scalar())

    def releases_of_pr(self, repo: str, pr: int, limit: int) -> list[ReleaseRow]:
        """The successful promotions and rollbacks made from pull request `pr` of `repo`, newest
        first (the living comment's state block lists them), by ix_audit_pr."""
        q = (select(*_RELEASE_COLUMNS).where(audit.c.repo == repo, audit.c.pr == pr, _SUCCESSFUL_RELEASE)
             .order_by(audit.c.id.desc()).limit(limit))
        return self._releases(q)

    def release_of_head(self, repo: str, sha: str) -> ReleaseRow | None:
        """The newest successful promotion of a pull-request head of `repo`."""
        q = (select(*_RELEASE_COLUMNS).where(audit.c.repo == repo, audit.c.sha == sha,
                                             audit.c.action == RELEASE_ACTIONS[0], audit.c.result == RELEASE_SUCCESS)
             .order_by(audit.c.id.desc()).limit(1))
        found = self._releases(q)
        return found[0] if found else None

    # ------------------------------------------------------------ monitor runs (bot.monitor.state)

    def record_monitor_run(self, *, repo: str, model: str, window: str, state: str, issue: int | None,
                           summary: str, comparison: str | None) -> None:
        """What a monitor run found; a re-run over the same window replaces its row."""
        key = (monitor_runs.c.repo == repo, monitor_runs.c.model == model, monitor_runs.c.window_label == window)
        with self.engine.begin() as c:
            c.execute(delete(monitor_runs).where(*key))
            c.execute(insert(monitor_runs).values(repo=repo, model=model, window_label=window, at=time.time(),
                                                  state=state, issue=issue, summary=summary, comparison=comparison))

    def monitor_runs(self, *, repo: str | None = None, model: str | None = None,
                     limit: int = 500) -> list[MonitorRunRow]:
        """Monitor runs, newest first."""
        q = select(monitor_runs).order_by(monitor_runs.c.at.desc()).limit(limit)
        if repo is not None:
            q = q.where(monitor_runs.c.repo == repo)
        if model is not None:
            q = q.where(monitor_runs.c.model == model)
        with self.engine.connect() as c:
            return [cast(MonitorRunRow, dict(r)) for r in c.execute(q).mappings()]

    # ------------------------------------------------------------ locks

    def acquire(self, name: str, holder: str, ttl: float) -> LockInfo | None:
        """Take the lock; None on success, else who holds it. Expired locks are taken over."""
        now = time.time()
        with self.engine.begin() as c:
            c.execute(delete(locks).where(locks.c.name == name, locks.c.expires_at < now))
        try:
            with self.engine.begin() as c:
                c.execute(insert(locks).values(name=name, holder=holder, acquired_at=now, expires_at=now + ttl))
            return None
        except IntegrityError:
            with self.engine.connect() as c:
                row = c.execute(select(locks).where(locks.c.name == name)).mappings().first()
            if row is None:  # released in between: try once more
                return self.acquire(name, holder, ttl)
            return LockInfo(row["name"], row["holder"], row["acquired_at"], row["expires_at"])

    def release(self, name: str, holder: str) -> None:
        with self.engine.begin() as c:
            c.execute(delete(locks).where(locks.c.name == name, locks.c.holder == holder))

    def release_held_by(self, holders: Sequence[str], *, name_prefix: str) -> int:
        """Free the locks named `name_prefix…` that `holders` hold (jobs the sweep found dead)."""
        if not holders:
            return 0
        with self.engine.begin() as c:
            res = c.execute(delete(locks).where(locks.c.name.startswith(name_prefix, autoescape=True),
                                                locks.c.holder.in_(list(holders))))
            return int(res.rowcount or 0)
