"""The web door under abuse, through the real app (create_app, SQLite store, SQLite queue).

Each test here failed on the code before it: an unread-body cap (413), closed metric labels,
a 401 for any malformed signature, a 400 for JSON nested too deep or ids the store cannot
keep, and a delivery between the store's old 5 MiB limit and GitHub's 25 MB cap stored
instead of spooled for ever.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from bot.events import KNOWN_EVENTS, MAX_DEPTH
from bot.store import MAX_BODY, deliveries
from tests.app.conftest import FIXTURES, AppHarness

OPENED = (FIXTURES / "webhooks" / "pull_request" / "opened-1.json").read_bytes()
HUGE = 300 * 2**20  # the unsigned POST that used to be read whole before its 401


class BodySource(io.RawIOBase):
    """A request body made on demand: counts what the app reads and the process's RSS as it reads.

    It refuses to hand out more than the cap plus one read's worth, so the old code (which
    read everything) fails here at once instead of allocating hundreds of MiB."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.served = 0
        self.peak_rss = psutil.Process().memory_info().rss

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        want = min(len(buf), self.size - self.served)
        if want <= 0:
            return 0
        if self.served + want > MAX_BODY + 2**20:
            raise AssertionError(f"the app read {self.served + want} bytes of an oversized body")
        buf[:want] = b"x" * want
        self.served += want
        self.peak_rss = max(self.peak_rss, psutil.Process().memory_info().rss)
        return want


def post_stream(harness: AppHarness, source: BodySource, headers: dict[str, str], *, chunked: bool = False) -> Any:
    """POST a body the app must pull from the WSGI stream, as under gunicorn (which ends the
    stream itself, so it sets wsgi.input_terminated)."""
    environ = {"wsgi.input": source, "wsgi.input_terminated": True, "CONTENT_LENGTH": str(source.size)}
    if chunked:
        headers = {**headers, "Transfer-Encoding": "chunked"}
    return harness.client.post("/webhook", headers=headers, environ_overrides=environ)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_headers(harness: AppHarness, body: bytes, event: str = "pull_request") -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": str(uuid.uuid4()), "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(harness.settings.webhook_secret, body)}


def stored(harness: AppHarness) -> int:
    with harness.store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(deliveries)).scalar_one())


def series(name: str) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted(s.labels.items())) for m in REGISTRY.collect() if m.name == name for s in m.samples
            if s.name == name + "_total"}


def test_an_oversized_body_with_a_length_is_refused_unread(app_harness: AppHarness) -> None:
    source = BodySource(HUGE)
    resp = post_stream(app_harness, source, {"X-GitHub-Event": "pull_request", "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert "25 MiB" in resp.get_json()["error"]
    assert source.served == 0
    assert stored(app_harness) == 0 and app_harness.queued == []


def test_a_chunked_body_is_cut_at_the_cap(app_harness: AppHarness) -> None:
    """No Content-Length: the server (gunicorn) says it ends the stream; the app stops reading at the cap."""
    source = BodySource(HUGE)
    resp = post_stream(app_harness, source, {"X-GitHub-Event": "pull_request"}, chunked=True)
    assert resp.status_code == 413
    assert source.served <= MAX_BODY + 2**16
    assert stored(app_harness) == 0 and app_harness.queued == []


def test_memory_stays_flat_under_a_stream_of_oversized_requests(app_harness: AppHarness) -> None:
    """Thirty requests of 300 MiB each (length given, or chunked): none is read past the cap and
    the process's RSS, sampled during every read, stays within a small multiple of the cap."""
    start = psutil.Process().memory_info().rss
    peak = start
    served = 0
    for i in range(30):
        source = BodySource(HUGE)
        resp = post_stream(app_harness, source, {"X-GitHub-Event": f"junk-{i}",
                                                 "X-Hub-Signature-256": "sha256=" + "0" * 64}, chunked=i % 3 == 0)
        assert resp.status_code == 413
        served += source.served
        peak = max(peak, source.peak_rss, psutil.Process().memory_info().rss)
    assert served <= 10 * (MAX_BODY + 2**16)  # only the ten chunked ones were read, each up to the cap
    assert peak - start < 4 * MAX_BODY  # 9 GiB were offered
    assert stored(app_harness) == 0 and app_harness.queued == []


def test_a_signed_delivery_between_5_mib_and_the_cap_is_stored_not_spooled(app_harness: AppHarness) -> None:
    payload = json.loads(OPENED)
    payload["padding"] = "p" * (8 * 2**20)  # GitHub sends up to 25 MB; the store refused over 5 MiB
    body = json.dumps(payload).encode()
    resp = app_harness.client.post("/webhook", data=body, headers=signed_headers(app_harness, body))
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"
    assert stored(app_harness) == 1 and len(app_harness.queued) == 1
    assert not any(Path(app_harness.settings.spool_dir).glob("*.json"))


def test_unsigned_requests_cannot_add_metric_series(app_harness: AppHarness) -> None:
    client = app_harness.client
    client.post("/webhook", data=b"{}", headers={"X-GitHub-Event": "warmup"})
    before = series("mlgate_webhook_deliveries")
    for i in range(500):
        resp = client.post("/webhook", data=b"{}", headers={"X-GitHub-Event": f"made-up-{i}",
                                                            "X-Hub-Signature-256": "sha256=" + "0" * 64})
        assert resp.status_code == 401
    after = series("mlgate_webhook_deliveries")
    assert after == before  # every one counted as event="other", outcome="unauthorized"
    labels = {dict(s)["event"] for s in after} | {dict(s)["outcome"] for s in after}
    assert not any(label.startswith(("made-up", "warmup")) for label in labels)
    assert REGISTRY.get_sample_value("mlgate_webhook_deliveries_total",
                                     {"event": "other", "outcome": "unauthorized"}) >= 500


def test_signed_events_outside_the_subscriptions_are_counted_as_other(app_harness: AppHarness) -> None:
    body = b'{"action": "created"}'
    before = REGISTRY.get_sample_value("mlgate_webhook_deliveries_total",
                                       {"event": "other", "outcome": "accepted"}) or 0.0
    resp = app_harness.client.post("/webhook", data=body, headers=signed_headers(app_harness, body, "star"))
    assert resp.status_code == 202
    assert REGISTRY.get_sample_value("mlgate_webhook_deliveries_total",
                                     {"event": "other", "outcome": "accepted"}) == before + 1
    assert not any(dict(s)["event"] == "star" for s in series("mlgate_webhook_deliveries"))


@pytest.mark.parametrize("signature", ["sha256=" + "é" * 64, "sha256=ünïcode", "sha256=" + "A" * 64,
                                       "sha1=" + "0" * 40, "sha256=" + "0" * 63, "\u00ff"])
def test_a_malformed_signature_is_a_401(app_harness: AppHarness, signature: str) -> None:
    resp = app_harness.client.post("/webhook", data=OPENED, headers={
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-1", "Content-Type": "application/json",
        "X-Hub-Signature-256": signature})
    assert resp.status_code == 401
    assert stored(app_harness) == 0 and app_harness.queued == []


@pytest.mark.parametrize("depth", [200_000, 2_000, MAX_DEPTH + 1])
def test_deeply_nested_json_is_a_400_that_says_why(app_harness: AppHarness, depth: int) -> None:
    body = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
    resp = app_harness.client.post("/webhook", data=body, headers=signed_headers(app_harness, body))
    assert resp.status_code == 400
    assert resp.get_json()["error"] == (f"body nests JSON deeper than {MAX_DEPTH} levels; "
                                        "GitHub payloads nest far less")
    assert stored(app_harness) == 0 and app_harness.queued == []


def test_json_as_deep_as_the_limit_is_accepted(app_harness: AppHarness) -> None:
    depth = MAX_DEPTH - 1  # plus the outer object
    body = b'{"action": "opened", "a": ' + b"[" * depth + b"]" * depth + b"}"
    resp = app_harness.client.post("/webhook", data=body, headers=signed_headers(app_harness, body))
    assert resp.status_code == 202


@pytest.mark.parametrize(("patch", "says"), [
    ({"installation": {"id": "12"}}, "installation.id"),
    ({"installation": {"id": 2**64}}, "installation.id"),
    ({"installation": {"id": True}}, "installation.id"),
    ({"repository": {"full_name": "acme/churn\x00"}}, "repository.full_name"),
    ({"repository": {"full_name": "a" * 300 + "/b"}}, "repository.full_name"),
    ({"repository": {"full_name": ["acme/churn"]}}, "repository.full_name"),
    ({"action": "x" * 65}, "action"),
    ({"action": "opened\x00"}, "action"),
])
def test_fields_the_store_keeps_are_checked_at_the_door(app_harness: AppHarness, patch: dict[str, Any],
                                                        says: str) -> None:
    """Values the store's columns cannot hold were a 500 (or, on PostgreSQL, an endless spool)."""
    payload = {**json.loads(OPENED), **patch}
    body = json.dumps(payload).encode()
    resp = app_harness.client.post("/webhook", data=body, headers=signed_headers(app_harness, body))
    assert resp.status_code == 400
    assert says in resp.get_json()["error"]
    assert stored(app_harness) == 0 and app_harness.queued == []


@pytest.mark.parametrize("event", ["x" * 65, "Pull_Request", "pull request", "pull_request\x00", "é"])
def test_a_malformed_event_name_is_a_400(app_harness: AppHarness, event: str) -> None:
    resp = app_harness.client.post("/webhook", data=OPENED, headers=signed_headers(app_harness, OPENED, event))
    assert resp.status_code == 400
    assert stored(app_harness) == 0


def test_the_known_events_cover_every_handler_and_the_manifest() -> None:
    from bot.dispatch import ROUTER

    manifest = json.loads((Path(__file__).resolve().parents[2] / "docs" / "app-manifest.json").read_text())
    assert set(manifest["default_events"]) <= KNOWN_EVENTS
    assert {key.split(".")[0] for key in ROUTER} <= KNOWN_EVENTS
    assert "ping" in KNOWN_EVENTS
