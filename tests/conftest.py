"""Shared fixtures: the one GitHub stand-in every test uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

if TYPE_CHECKING:
    from bot.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _mlflow_uri_environment_put_back() -> Iterator[None]:
    """MLflow's set_tracking_uri also writes MLFLOW_TRACKING_URI into os.environ: a test that sets it
    and does not put it back sends every later test of the worker to that store (mlgate evaluate reads
    the variable). Each test starts from the environment the session started with."""
    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {k: os.environ.get(k) for k in keys}
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def github_app_key() -> str:
    """One freshly generated RSA key per test session (2048-bit generation is slow)."""
    from bot.sandbox import generate_private_key

    return generate_private_key()


@pytest.fixture
def github(github_app_key: str) -> Iterator[Sandbox]:
    """The GitHub stand-in on a free loopback port: an App (key in `.private_key`, webhook
    secret in `.webhook_secret`), one installation (`.installation_id`) and the repo
    acme/churn with a `main` branch. Fails the test if any request was one GitHub rejects."""
    from bot.sandbox import Sandbox

    box = Sandbox()
    box.start()
    box.register_app(private_key=github_app_key, webhook_secret="sandbox-secret")
    box.create_installation("acme", ["acme/churn"])
    try:
        yield box
    finally:
        box.stop()
    box.assert_no_invalid_requests()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store's URL: a SQLite file, then a fresh database on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mlgate.db'}"
        return
    from tests.backends import postgres_database

    with postgres_database() as url:
        yield url
