"""The worker's registry: without MLFLOW_TRACKING_URI it refuses, instead of opening MLflow's
default store (an `mlflow.db` in the worker's working directory, empty, so every alias read
would say "no such model" rather than "not configured")."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.mlflow import RegistryError
from bot.settings import Settings
from bot.store import Store
from bot.worker import build_context


def _delivery() -> dict[str, object]:
    body = {"action": "created", "installation": {"id": 7, "account": {"login": "acme"}}, "repositories": []}
    return {"id": "d-1", "event": "installation", "body": json.dumps(body).encode()}


def test_no_tracking_uri_means_no_registry_and_no_mlflow_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store = Store(f"sqlite:///{tmp_path / 'app.db'}")
    store.migrate()
    settings = Settings(webhook_secret="s", app_id=1, private_key="k", database_url=store.url)
    ctx = build_context(settings, store, _delivery())
    with pytest.raises(RegistryError, match="no model registry is configured"):
        ctx.registry()
    assert not [p for p in os.listdir(tmp_path) if not p.startswith("app.db")]  # the store's files only
