"""The worker's job metrics keep closed labels too (issue #12, second look).

The door counts an event outside the App's subscriptions as `other`, but the worker labelled
`mlgate_jobs` and `mlgate_job_duration_seconds` with the stored event name and action as
they came: every new signed name added a series. Now an unknown event is `other`.
"""

from __future__ import annotations

import json

from prometheus_client import REGISTRY

from tests.app.conftest import AppHarness
from tests.app.test_webhook_door import signed_headers


def _job_events() -> set[str]:
    return {s.labels["event"] for m in REGISTRY.collect() if m.name == "mlgate_jobs" for s in m.samples}


def test_signed_events_outside_the_subscriptions_add_no_job_series(app_harness: AppHarness) -> None:
    body = json.dumps({"action": "created", "repository": {"full_name": "acme/churn"}}).encode()
    for i in range(20):
        headers = signed_headers(app_harness, body, event=f"made_up_{i}")
        assert app_harness.client.post("/webhook", data=body, headers=headers).status_code == 202
    app_harness.drain()
    assert not {e for e in _job_events() if e.startswith("made_up")}, _job_events()
    assert "other" in _job_events()


def test_signed_actions_no_handler_takes_add_no_job_series(app_harness: AppHarness) -> None:
    """A known event with actions nobody routes (the sender's words) is counted under the event alone."""
    for i in range(20):
        body = json.dumps({"action": f"made_up_{i}", "repository": {"full_name": "acme/churn"}}).encode()
        headers = signed_headers(app_harness, body, event="pull_request")
        assert app_harness.client.post("/webhook", data=body, headers=headers).status_code == 202
    app_harness.drain()
    assert not {e for e in _job_events() if "made_up" in e}, _job_events()
    assert "pull_request" in _job_events()
