"""Fuzzing the web door: generated bodies and headers through the real app (create_app with a
real SQLite store and queue). No input gets a 5xx; without a valid signature nothing is
stored or enqueued; a signed delivery is stored only when it is answered 200/202."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from bot.events import KNOWN_EVENTS
from tests.app.conftest import FIXTURES, AppHarness
from tests.app.test_webhook_door import stored

EXAMPLES = [json.loads(p.read_text()) for p in sorted((FIXTURES / "webhooks").rglob("*.json"))[:20]]
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# What a WSGI server can hand over as a header value: latin-1 text without control characters.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25)
# GitHub's own payloads with fields the App reads replaced by anything
patched_examples = st.builds(
    lambda example, patch: {**example, **patch},
    st.sampled_from(EXAMPLES),
    st.dictionaries(st.sampled_from(["action", "installation", "repository", "sender", "pull_request", "comment"]),
                    json_values, max_size=3))


def _form(value: Any) -> bytes:
    return urlencode({"payload": json.dumps(value)}).encode()


bodies = st.one_of(
    st.binary(max_size=600),
    json_values.map(lambda v: json.dumps(v).encode()),
    patched_examples.map(lambda v: json.dumps(v).encode()),
    patched_examples.map(_form),
    st.integers(0, 300_000).map(lambda d: b"[" * d + b"]" * d),
    st.integers(0, 300_000).map(lambda d: b'{"a":' * d + b"1" + b"}" * d),
)
# the signed test leans towards what GitHub sends, so most examples get past parsing to the store
likely_bodies = patched_examples.map(lambda v: json.dumps(v).encode()) | bodies
events = st.sampled_from(sorted(KNOWN_EVENTS)) | header_text
deliveries = st.uuids().map(str) | header_text
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                 "application/json; charset=utf-8", "text/plain"]) | header_text
likely_content_types = st.just("application/json") | content_types


def _headers(event: str, delivery: str, ctype: str, signature: str | None) -> dict[str, str]:
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": ctype}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return headers


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@FUZZ
@given(body=bodies, event=events, delivery=deliveries, ctype=content_types, data=st.data())
def test_without_a_valid_signature_nothing_happens(app_harness: AppHarness, body: bytes, event: str,
                                                   delivery: str, ctype: str, data: st.DataObject) -> None:
    signature = data.draw(st.one_of(
        st.none(), header_text, header_text.map("sha256=".__add__),
        st.text("0123456789abcdef", min_size=64, max_size=64).map("sha256=".__add__),
        st.just(_sign("not-the-secret", body)), st.just(_sign(app_harness.settings.webhook_secret, body + b" "))))
    rows, queued = stored(app_harness), len(app_harness.queued)
    resp = app_harness.client.post("/webhook", data=body, headers=_headers(event, delivery, ctype, signature))
    assert resp.status_code == 401, resp.get_data()
    assert resp.get_json() == {"error": "invalid signature"}
    assert stored(app_harness) == rows and len(app_harness.queued) == queued


@FUZZ
@given(body=likely_bodies, event=events, delivery=st.uuids().map(str) | deliveries, ctype=likely_content_types)
def test_signed_deliveries_never_get_a_5xx(app_harness: AppHarness, body: bytes, event: str, delivery: str,
                                           ctype: str) -> None:
    rows, queued = stored(app_harness), len(app_harness.queued)
    signature = _sign(app_harness.settings.webhook_secret, body)
    resp = app_harness.client.post("/webhook", data=body, headers=_headers(event, delivery, ctype, signature))
    assert resp.status_code in (200, 202, 400), resp.get_data()
    tally(f"status {resp.status_code} {(resp.get_json() or {}).get('error', '')[:30]}")
    if resp.status_code == 400:
        assert resp.get_json()["error"]
    if resp.status_code != 202:
        assert stored(app_harness) == rows and len(app_harness.queued) == queued
    else:
        assert stored(app_harness) == rows + 1 and len(app_harness.queued) == queued + 1
