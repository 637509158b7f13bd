"""The chat-ops world keeps MLflow's artifacts in the test's own directory, never in ./mlruns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.chatops.conftest import make_world


def test_logged_candidates_and_their_artifacts_stay_under_tmp_path(
        github: Any, tmp_path: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the trusted candidate's experiment was created without an artifact location, so
    MLflow wrote its models under ./mlruns of the working directory (the repository root)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    (tmp_path / "world").mkdir()
    world = make_world(github, tmp_path / "world", mlflow_template)
    uri = world.trusted_candidate(1, "a" * 40)
    assert uri.startswith("models:/")
    assert list(cwd.iterdir()) == []  # no ./mlruns
    assert any((tmp_path / "world" / "mlflow-artifacts").rglob("MLmodel"))
