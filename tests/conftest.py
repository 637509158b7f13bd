"""Shared fixtures: the one GitHub stand-in every test uses."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def github() -> Iterator[Sandbox]:  # noqa: F821 - imported lazily so collection stays fast
    """The GitHub stand-in with an App, one installation and the repo acme/churn."""
    from bot.sandbox import Sandbox

    box = Sandbox()
    box.start()
    box.private_key = box.register_app()  # type: ignore[attr-defined]
    box.installation_id = box.create_installation("acme", ["acme/churn"])  # type: ignore[attr-defined]
    try:
        yield box
    finally:
        box.stop()
    box.assert_no_invalid_requests()
