"""What the door accepts, the worker can parse (issue #12, second look).

Before, the door parsed a body one way and the worker (which parses the stored body again, as
JSON) another: a form-encoded delivery (GitHub's other webhook content type) and a UTF-8 body
with a byte-order mark or in UTF-16 were answered 202 and stored, then failed in the worker
as unparseable. Now a form delivery is stored as its JSON payload, and the door reads JSON
as GitHub sends it, UTF-8 without a byte-order mark, refusing the rest with a 400.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.app.conftest import FIXTURES, AppHarness
from tests.app.test_webhook_door import signed_headers

PING = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1,
                   "repository": {"full_name": "acme/churn"}, "installation": {"id": 1}}).encode()
OPENED = (FIXTURES / "webhooks" / "pull_request" / "opened-1.json").read_bytes()


def test_a_form_encoded_delivery_is_stored_as_its_json_payload(app_harness: AppHarness) -> None:
    body = urlencode({"payload": OPENED.decode()}).encode()
    headers = {**signed_headers(app_harness, body), "Content-Type": "application/x-www-form-urlencoded"}
    resp = app_harness.client.post("/webhook", data=body, headers=headers)
    assert resp.status_code == 202
    stored = app_harness.store.delivery(headers["X-GitHub-Delivery"])
    assert stored is not None and json.loads(stored["body"]) == json.loads(OPENED)
    app_harness.drain()
    assert app_harness.store.delivery(headers["X-GitHub-Delivery"])["status"] != "failed"


@pytest.mark.parametrize("body", [b"\xef\xbb\xbf" + OPENED, OPENED.decode().encode("utf-16"),
                                  OPENED.decode().encode("utf-32")])
def test_json_not_in_plain_utf8_is_a_400(app_harness: AppHarness, body: bytes) -> None:
    resp = app_harness.client.post("/webhook", data=body, headers=signed_headers(app_harness, body))
    assert resp.status_code == 400 and "UTF-8" in resp.get_json()["error"]
    assert app_harness.queued == []
