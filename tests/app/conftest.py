"""An App wired to the shared GitHub stand-in: webhooks go through the real Flask app
(tests/harness.py's AppHarness, the demo's in-process App)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import AppHarness

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONFIG = (FIXTURES / "reports" / "mlgate.yml").read_text()

__all__ = ["CONFIG", "FIXTURES", "AppHarness", "app_harness"]


@pytest.fixture
def app_harness(github: Any, tmp_path: Path) -> Iterator[AppHarness]:
    github.push("acme/churn", "main", {".github/mlgate.yml": CONFIG})
    yield AppHarness(github, tmp_path)
