"""Webhook deliveries as GitHub makes them: real example payloads as templates, HMAC signatures.

The templates are the payload fixtures extracted from `@octokit/webhooks-examples` by
tests/fixtures/webhooks/extract.py. A delivery starts from the real example for its
event and action and overwrites what the stand-in knows (ids, SHAs, numbers, users, URLs),
so handlers see every field GitHub sends, not only the ones the stand-in thought of.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

_PACKAGED = Path(__file__).with_name("webhook-examples")
FIXTURES_DIR = _PACKAGED if _PACKAGED.is_dir() else (
    Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "webhooks"
)

# (event, action) -> the fixture used as the template of a delivery
TEMPLATES: dict[tuple[str, str | None], str] = {
    ("ping", None): "ping/event-1.json",
    ("pull_request", "opened"): "pull_request/opened-1.json",
    ("pull_request", "synchronize"): "pull_request/synchronize-1.json",
    ("pull_request", "reopened"): "pull_request/reopened-1.json",
    ("pull_request", "ready_for_review"): "pull_request/ready_for_review-1.json",
    ("pull_request", "closed"): "pull_request/closed-1.json",
    ("pull_request_review", "submitted"): "pull_request_review/submitted-1.json",
    ("pull_request_review", "dismissed"): "pull_request_review/dismissed-1.json",
    ("issue_comment", "created"): "issue_comment/created-on-pr.json",
    ("issue_comment", "edited"): "issue_comment/edited-1.json",
    ("issue_comment", "deleted"): "issue_comment/deleted-1.json",
    ("workflow_run", "completed"): "workflow_run/completed-with-installation.json",
    ("check_run", "rerequested"): "check_run/rerequested-1.json",
    ("check_suite", "requested"): "check_suite/requested-1.json",
    ("check_suite", "rerequested"): "check_suite/rerequested-1.json",
    ("pull_request", "converted_to_draft"): "pull_request/converted_to_draft-1.json",
    ("pull_request", "edited"): "pull_request/opened-1.json",  # the examples have no edited: opened's shape
    ("merge_group", "checks_requested"): "merge_group/checks_requested-1.json",
    ("merge_group", "destroyed"): "merge_group/checks_requested-1.json",  # no destroyed example: same shape
    ("deployment_protection_rule", "requested"): "deployment_protection_rule/requested-from-schema.json",
    ("installation", "created"): "installation/created-1.json",
    ("installation_repositories", "added"): "installation_repositories/added-1.json",
    ("installation_repositories", "removed"): "installation_repositories/removed-1.json",
}


class Fixture(NamedTuple):
    """One real (or noted-derived) example payload."""

    event: str
    name: str  # file name, e.g. "opened-1.json"
    payload: dict[str, Any]
    path: Path


def fixtures(event: str | None = None) -> list[Fixture]:
    """Every payload fixture, or those of one event, in a stable order."""
    pattern = f"{event}/*.json" if event else "*/*.json"
    return [Fixture(p.parent.name, p.name, json.loads(p.read_text()), p) for p in sorted(FIXTURES_DIR.glob(pattern))]


def load_fixture(event: str, name: str) -> dict[str, Any]:
    """One fixture's payload, e.g. load_fixture("pull_request", "opened-1")."""
    name = name if name.endswith(".json") else f"{name}.json"
    data: dict[str, Any] = json.loads((FIXTURES_DIR / event / name).read_text())
    return data


@cache
def _template_text(event: str, action: str | None) -> str | None:
    rel = TEMPLATES.get((event, action))
    path = FIXTURES_DIR / rel if rel else None
    return path.read_text() if path is not None and path.exists() else None


def template(event: str, action: str | None, *, api_url: str, full_name: str) -> dict[str, Any]:
    """The real example for (event, action) with its URLs and repository name moved onto ours.

    Empty when no template exists (e.g. a wheel without the fixtures): deliveries then carry
    only the fields the stand-in fills in.
    """
    text = _template_text(event, action)
    if text is None:
        return {}
    data = json.loads(text)
    data = {k: v for k, v in data.items() if not k.startswith("_")}
    old_name = (data.get("repository") or {}).get("full_name")
    text = json.dumps(data).replace("https://api.github.com", api_url)
    if old_name:
        text = text.replace(f"/{old_name}", f"/{full_name}").replace(f'"{old_name}"', json.dumps(full_name))
    out: dict[str, Any] = json.loads(text)
    return out


def overlay_object(base: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """`overlay` of two objects, which is an object."""
    merged = overlay(base, ours)
    assert isinstance(merged, dict)
    return merged


def overlay(base: Any, ours: Any) -> Any:
    """`ours` written over `base`: dicts merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(ours, dict):
        merged = dict(base)
        for key, value in ours.items():
            merged[key] = overlay(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(ours)


def signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 header value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the right signature of `body` (constant-time), for tests."""
    return bool(header) and hmac.compare_digest(signature(secret, body), str(header))


def headers(event: str, delivery: str, secret: str, body: bytes, hook_id: int = 1) -> dict[str, str]:
    """The headers of one delivery, as GitHub's Hookshot sends them."""
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature-256": signature(secret, body),
        "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/sandbox",
    }
