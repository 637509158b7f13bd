"""Real PostgreSQL and Redis for the scale-out tests: a fresh database / queue name each, cleaned up.

PostgreSQL is expected at 127.0.0.1:5432 (trust auth, user postgres) and Redis at
127.0.0.1:6379; a test is skipped, saying why, only when the service is absent.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.processes import free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"


@contextmanager
def postgres_database() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"mlgate_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_queue() -> Iterator[tuple[str, str]]:
    """(queue url, unique queue name); the queue's keys are deleted afterwards."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379: {exc}")
    name = f"mlgate-test-{uuid.uuid4().hex[:12]}"
    try:
        yield REDIS, name
    finally:
        for key in client.scan_iter(f"huey*{name}*"):
            client.delete(key)


@contextmanager
def mlflow_server(artifacts: Path) -> Iterator[str]:
    """A real `mlflow server` on a fresh PostgreSQL database, artifacts proxied under `artifacts`.

    The scale-out registry as docs/operations.md lays it out; yields its http:// URL.
    """
    import requests

    from tests.processes import stop, wait_for

    with postgres_database() as db:
        port = free_port()
        log_path = artifacts.parent / f"mlflow-server-{port}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
                 "--backend-store-uri", db.replace("postgresql+psycopg://", "postgresql://"),
                 "--artifacts-destination", str(artifacts), "--workers", "1"],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
            url = f"http://127.0.0.1:{port}"

            def up() -> bool:
                if proc.poll() is not None:
                    raise AssertionError(f"mlflow server exited: {log_path.read_text()[-2000:]}")
                try:
                    return requests.get(f"{url}/health", timeout=1).status_code == 200
                except requests.RequestException:
                    return False

            try:
                wait_for("the mlflow server", up, 120)
                yield url
            finally:
                stop(proc)  # type: ignore[arg-type]


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb in a temp dir, a free port), so it can be restarted.

    The machine's server is shared by the suite's parallel workers; stopping it would break
    them. PostgreSQL refuses to run as root, so as root the cluster runs as user `postgres`.
    """

    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
        self._bin = bindir
        self._user: str | None = None
        self.root = Path(tempfile.mkdtemp(prefix="mlgate-pg-"))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root)
                pytest.skip("PostgreSQL refuses to run as root and there is no `postgres` user to run it as")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._user = "postgres"
        self.port = free_port()
        subprocess.run([str(bindir / "initdb"), "-D", str(self.root / "data"), "-U", "postgres", "--auth=trust",
                   "--no-sync", "-E", "UTF8"], check=True, capture_output=True, user=self._user)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([str(self._bin / "pg_ctl"), "-D", str(self.root / "data"), "-o", opts, "-l",
                   str(self.root / "server.log"), "-w", "-t", "60", "start"], check=True, capture_output=True,
                  user=self._user)

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash as far as clients can tell: no goodbye, recovery at the next start."""
        subprocess.run([str(self._bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", mode, "-w", "stop"],
                  check=True, capture_output=True, user=self._user)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        subprocess.run([str(self._bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"],
                  capture_output=True, user=self._user)
        shutil.rmtree(self.root, ignore_errors=True)


def _pg_bindir() -> Path | None:
    if shutil.which("pg_config"):
        found = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
        if (found / "initdb").exists():
            return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None
