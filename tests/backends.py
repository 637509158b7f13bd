"""Real PostgreSQL and Redis for the scale-out tests: a fresh database / queue name each, cleaned up.

PostgreSQL is expected at 127.0.0.1:5432 (trust auth, user postgres) and Redis at
127.0.0.1:6379; a test is skipped, saying why, only when the service is absent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

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
