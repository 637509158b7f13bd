"""mlgate setup's pieces that need no GitHub (issue #16); the whole flow is in tests/e2e/test_github_native.py."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.setup_flow import (
    CreatedApp,
    SetupError,
    api_url_for,
    convert,
    manifest_for,
    write_credentials,
)

APP = CreatedApp(7, "mlgate", "mlgate", "https://github.com/apps/mlgate", "-----BEGIN KEY-----\n", "s3cret")


def test_api_url_for_github_and_enterprise_server() -> None:
    assert api_url_for("https://github.com") == "https://api.github.com"
    assert api_url_for("https://ghes.example.com/") == "https://ghes.example.com/api/v3"


def test_credentials_are_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    paths = write_credentials(tmp_path / "app", APP, "https://api.github.com", "https://mlgate.example.com")
    for p in paths.values():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert "MLGATE_WEBHOOK_SECRET=s3cret" in paths["mlgate.env"].read_text()
    with pytest.raises(SetupError, match="already exist"):
        write_credentials(tmp_path / "app", APP, "https://api.github.com", "https://mlgate.example.com")
    assert paths["private-key.pem"].read_text() == APP.pem  # untouched


def test_manifest_points_at_this_setup_and_the_webhook() -> None:
    m = manifest_for({"name": "mlgate", "hook_attributes": {"url": "x"}}, webhook_url="https://h/webhook",
                     redirect_url="http://127.0.0.1:1/callback", name=None)
    assert m["hook_attributes"] == {"url": "https://h/webhook", "active": True}
    assert m["redirect_url"] == "http://127.0.0.1:1/callback" and m["name"] == "mlgate"


def test_a_malformed_code_is_refused_before_any_request() -> None:
    with pytest.raises(SetupError, match="no valid code"):
        convert("http://127.0.0.1:9", "../../app")
