"""One GitHub issue per model: opened when a threshold is crossed, updated, closed when fine.

The issue is found by a hidden marker in the body of an issue mlgate (a Bot) opened with the
monitor label, so a re-run edits the same issue instead of opening another, and a human's
issue that quotes the marker is never taken over. The trend of earlier runs lives in a
hidden block of the body (one entry per window: a re-run replaces its own entry).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from bot.config import Monitor
from bot.monitor.checks import ModelHealth
from bot.monitor.templates import template

TREND_LENGTH = 12
_TREND = re.compile(r"<!-- mlgate:monitor-trend (\[[^<>]{0,20000}\]) -->")
_STATE_TITLE = {"alert": "a threshold is crossed", "unknown": "could not be checked", "ok": "back within bounds"}


class IssuePort(Protocol):
    """What the monitor asks of GitHub (bot.github_client.GitHubClient satisfies it)."""

    def issues_with_label(self, label: str, state: str = "all", limit: int = 300) -> list[dict[str, Any]]: ...

    def create_issue(self, title: str, body: str, labels: list[str]) -> int: ...

    def update_issue(self, number: int, *, title: str | None = None, body: str | None = None,
                     state: str | None = None, state_reason: str | None = None) -> None: ...

    def dispatch_workflow(self, workflow: str, ref: str, inputs: dict[str, str]) -> None: ...

    def repository_dispatch(self, event_type: str, payload: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class IssueOutcome:
    model: str
    action: str  # opened | reopened | updated | closed | unchanged | none
    number: int | None
    retrain: str | None = None  # what was dispatched, if anything


def marker(model: str) -> str:
    return f"<!-- mlgate:monitor model={json.dumps(model)} -->"


def _ours(issue: dict[str, Any], model: str) -> bool:
    user = issue.get("user") or {}
    return user.get("type") == "Bot" and marker(model) in (issue.get("body") or "")


def read_trend(body: str | None) -> list[dict[str, Any]]:
    """The earlier runs kept in an issue body; anything malformed is dropped (it is display only)."""
    m = _TREND.search(body or "")
    if not m:
        return []
    try:
        data = json.loads(m.group(1))
    except ValueError:
        return []
    out = []
    for e in data if isinstance(data, list) else []:
        if isinstance(e, dict) and isinstance(e.get("window"), str) and e.get("state") in _STATE_TITLE:
            out.append({"window": e["window"][:40], "state": e["state"],
                        "drifted": int(e["drifted"]) if isinstance(e.get("drifted"), int) else 0,
                        "max_psi": float(e["max_psi"]) if isinstance(e.get("max_psi"), int | float) else None,
                        "live": {str(k)[:40]: float(v) for k, v in (e.get("live") or {}).items()
                                 if isinstance(v, int | float)} if isinstance(e.get("live"), dict) else {}})
    return out[-TREND_LENGTH:]


def trend_entry(health: ModelHealth) -> dict[str, Any]:
    psis = [d.psi for d in health.drift]
    return {"window": health.window, "state": health.state, "drifted": sum(d.drifted for d in health.drift),
            "max_psi": round(max(psis), 4) if psis else None,
            "live": {r.metric: round(r.live, 4) for r in health.live if r.segment == "all" and r.live is not None}}


def _with(trend: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    kept = [e for e in trend if e["window"] != entry["window"]]
    return [*kept, entry][-TREND_LENGTH:]


def render_issue(health: ModelHealth, trend: list[dict[str, Any]], max_rows: int = 60) -> str:
    drifted = sorted((d for d in health.drift if d.drifted and d.segment != "all"), key=lambda d: -d.psi)
    return template("issue.md.j2").render(
        h=health, marker=marker(health.model), drifted=drifted[:max_rows], more_drift=max(len(drifted) - max_rows, 0),
        overall=[d for d in health.drift if d.segment == "all"],
        live=[r for r in health.live if r.segment == "all"], live_segments=[r for r in health.live if r.segment != "all"][:max_rows],
        trend=trend, trend_json=json.dumps(trend, separators=(",", ":")).replace("<", "").replace(">", ""),
    ).strip() + "\n"


def title(health: ModelHealth) -> str:
    return f"mlgate monitor: {health.model[:100]}: {_STATE_TITLE[health.state]}"


def sync_issue(gh: IssuePort, health: ModelHealth, cfg: Monitor, *, dry_run: bool = False) -> IssueOutcome:
    """Open, update or close the model's one issue so it says what this run found."""
    issues = [i for i in gh.issues_with_label(cfg.label, "all") if _ours(i, health.model)]
    current = next((i for i in issues if i.get("state") == "open"), None)
    latest = current or (max(issues, key=lambda i: int(i["number"])) if issues else None)
    trend = _with(read_trend(latest.get("body") if latest else None), trend_entry(health))
    body = render_issue(health, trend)
    if health.state == "ok":
        if current is None:
            return IssueOutcome(health.model, "none", None)
        if not dry_run:
            gh.update_issue(int(current["number"]), title=title(health), body=body, state="closed",
                            state_reason="completed")
        return IssueOutcome(health.model, "closed", int(current["number"]))
    if current is not None:
        number = int(current["number"])
        if current.get("body") == body and current.get("title") == title(health):
            return IssueOutcome(health.model, "unchanged", number)
        if not dry_run:
            gh.update_issue(number, title=title(health), body=body)
        return IssueOutcome(health.model, "updated", number)
    retrain = _retrain(gh, health, cfg, dry_run) if health.state == "alert" else None
    if latest is not None:
        number = int(latest["number"])
        if not dry_run:
            gh.update_issue(number, title=title(health), body=body, state="open")
        return IssueOutcome(health.model, "reopened", number, retrain)
    if dry_run:
        return IssueOutcome(health.model, "opened", None, retrain)
    number = gh.create_issue(title(health), body, [cfg.label])
    return IssueOutcome(health.model, "opened", number, retrain)


def _retrain(gh: IssuePort, health: ModelHealth, cfg: Monitor, dry_run: bool) -> str | None:
    """Start the retraining workflow once, when the model's issue opens (not on every run)."""
    r = cfg.retrain
    if r is None:
        return None
    inputs = {"model": health.model, "reason": "; ".join(health.reasons)[:1000], "window": health.window}
    if r.workflow:
        if not dry_run:
            gh.dispatch_workflow(r.workflow, r.ref, inputs)
        return f"workflow_dispatch {r.workflow}@{r.ref}"
    if r.event_type:
        if not dry_run:
            gh.repository_dispatch(r.event_type, inputs)
        return f"repository_dispatch {r.event_type}"
    return None
