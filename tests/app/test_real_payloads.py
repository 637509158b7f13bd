"""Every example payload of the handled events, signed, through the real Flask app and worker.

The webhook must answer 2xx for each; the job must finish, be ignored, or fail with a
GitHub error (the examples name installations and repositories the stand-in does not have)
— never with a KeyError or TypeError from a payload shape the handler did not expect.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import uuid

import pytest

from bot.github_client import GitHubError
from bot.worker import run_delivery
from tests.app.conftest import AppHarness
from tests.fixtures.webhooks.extract import load_all

PAYLOADS = load_all()


def test_fixtures_cover_every_handled_event_and_note_derived_ones() -> None:
    events = {e for e, _, _ in PAYLOADS}
    assert events == {"ping", "pull_request", "pull_request_review", "issue_comment", "workflow_run", "check_run",
                      "check_suite", "installation", "installation_repositories", "merge_group",
                      "deployment_protection_rule"}
    derived = [(e, n) for e, n, p in PAYLOADS if "_mlgate_fixture_note" in p]
    assert derived == [("deployment_protection_rule", "requested-from-schema.json"),
                       ("issue_comment", "created-on-pr.json"), ("workflow_run", "completed-with-installation.json")]


@pytest.mark.parametrize(("event", "name", "payload"), PAYLOADS, ids=[f"{e}/{n}" for e, n, _ in PAYLOADS])
def test_real_payload_through_the_app(app_harness: AppHarness, event: str, name: str, payload: dict) -> None:  # type: ignore[type-arg]
    body = json.dumps(payload).encode()
    secret = app_harness.settings.webhook_secret
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }
    resp = app_harness.client.post("/webhook", data=body, headers=headers)
    assert resp.status_code == (200 if event == "ping" else 202), resp.data
    for delivery in app_harness.queued:
        # GitHubError: an installation or repository the stand-in does not know
        with contextlib.suppress(GitHubError):
            run_delivery(delivery, settings=app_harness.settings, store=app_harness.store)
    app_harness.queued.clear()
