"""What each monitor run found, kept in the App's store for the dashboard and for `/promote`.

`mlgate monitor --database-url` (or $MLGATE_DATABASE_URL) writes one row per repository,
model and window (bot.store.monitor_runs): the model's state, the figures behind it, the
monitor issue, and a running canary's live comparison with the PR that started it. The
dashboard shows the newest row per model; a later `/promote` without `--canary` quotes the
newest comparison in its reply (`release_note`), so whoever releases sees how the challenger
did on live traffic before production moves.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.monitor.templates import template

if TYPE_CHECKING:  # the App imports this module for /promote: no pandas, numpy or scipy on that path
    from bot.monitor.canary import Canary
    from bot.monitor.checks import ModelHealth
    from bot.monitor.compare import LiveComparison
    from bot.monitor.issues import IssueOutcome
    from bot.ports import MonitorRunRow

STALE_AFTER = 8 * 24 * 3600.0  # a comparison older than a weekly schedule plus a day is called out as old
MAX_TEXT = 20_000  # characters of the comparison's Markdown kept (a PR comment's worth, bounded)


class MonitorReader(Protocol):
    """What the dashboard and /promote read (bot.store.Store, bot.ports.Store)."""

    def monitor_runs(self, *, repo: str | None = None, model: str | None = None,
                     limit: int = 500) -> list[MonitorRunRow]: ...


class MonitorStore(MonitorReader, Protocol):
    """What `mlgate monitor` writes (bot.store.Store)."""

    def record_monitor_run(self, *, repo: str, model: str, window: str, state: str, issue: int | None,
                           summary: str, comparison: str | None) -> None: ...


@dataclass(frozen=True)
class Posted:
    """A canary's comparison as this run made it, and where it was posted (if anywhere)."""

    canary: Canary
    result: LiveComparison
    comment_id: int | None = None
    note: str | None = None  # why it was not posted, if it was not


def summary_of(health: ModelHealth, outcome: IssueOutcome | None, issue_url: str | None) -> dict[str, Any]:
    psis = [d.psi for d in health.drift]
    return {
        "version": health.version, "rows": health.rows, "labelled": health.labelled,
        "reasons": [r[:400] for r in health.reasons[:10]],
        "drifted": sum(d.drifted for d in health.drift), "max_psi": max(psis) if psis else None,
        "prediction_psi": health.prediction[0].psi if health.prediction else None,
        "live": [{"metric": r.metric, "evaluated": r.evaluated, "live": r.live, "low": r.live_low,
                  "high": r.live_high, "verdict": r.verdict} for r in health.live if r.segment == "all"],
        "issue": None if outcome is None or outcome.number is None else
        {"number": outcome.number, "action": outcome.action, "url": issue_url},
    }


def comparison_of(posted: Posted, pr_url: str | None) -> dict[str, Any]:
    from bot.monitor.canary import verdict
    from bot.monitor.compare import render_comparison

    c, r = posted.canary, posted.result
    return {
        "challenger": c.version, "alias": c.alias, "champion": r.champion, "share": c.share,
        "repo": c.repo, "pr": c.pr, "pr_url": pr_url, "comment_id": posted.comment_id, "note": posted.note,
        "mode": r.mode, "window": r.window, "verdict": verdict(r),
        "rows": [{"metric": x.metric, "champion": x.champion, "challenger": x.challenger, "delta": x.delta,
                  "low": x.ci_low, "high": x.ci_high, "verdict": x.verdict}
                 for x in r.rows if x.segment == "all"],
        "text": render_comparison(r)[:MAX_TEXT],
    }


def record(store: MonitorStore, repo: str, health: ModelHealth, outcome: IssueOutcome | None,
           posted: Posted | None, *, web: str) -> None:
    """Keep this run's finding for `health.model` (a re-run over the same window replaces it)."""
    issue_url = f"{web}/{repo}/issues/{outcome.number}" if outcome and outcome.number else None
    comparison = None
    if posted is not None:
        c = posted.canary
        pr_url = f"{web}/{c.repo}/pull/{c.pr}" if c.repo and c.pr else None
        comparison = json.dumps(comparison_of(posted, pr_url))
    store.record_monitor_run(repo=repo, model=health.model, window=health.window, state=health.state,
                             issue=outcome.number if outcome else None,
                             summary=json.dumps(summary_of(health, outcome, issue_url)), comparison=comparison)


@dataclass
class MonitorView:
    """The newest monitor run of one model, as the dashboard shows it."""

    repo: str
    model: str
    window: str
    at: float
    state: str
    summary: dict[str, Any]
    comparison: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)  # older runs: window, state, at


def _json(text: str | None) -> dict[str, Any] | None:
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def latest(store: MonitorReader, *, repo: str | None = None, model: str | None = None,
           history: int = 12) -> list[MonitorView]:
    """The newest run per (repository, model), with up to `history` earlier states; model order."""
    out: dict[tuple[str, str], MonitorView] = {}
    for row in store.monitor_runs(repo=repo, model=model):
        key = (row["repo"], row["model"])
        state = row["state"] if row["state"] in ("ok", "alert", "unknown") else "unknown"
        if key not in out:
            out[key] = MonitorView(row["repo"], row["model"], row["window_label"], row["at"], state,
                                   _json(row["summary"]) or {}, _json(row["comparison"]))
        elif len(out[key].history) < history:
            out[key].history.append({"window": row["window_label"], "state": state, "at": row["at"]})
    return sorted(out.values(), key=lambda v: (v.model, v.repo))


def release_note(store: MonitorReader, repo: str | None, model: str, *, now: float | None = None) -> str | None:
    """The newest live comparison of `model`'s canary in `repo`, for a `/promote` reply; None when
    the newest monitor run found no canary (or none ran). The text is what the monitor rendered
    from the logs (the App has no logs to read), with when and over which window."""
    if not repo:
        return None
    runs = store.monitor_runs(repo=repo, model=model, limit=1)
    comparison = _json(runs[0]["comparison"]) if runs else None
    if comparison is None or not isinstance(comparison.get("text"), str):
        return None
    age = (now if now is not None else time.time()) - float(runs[0]["at"])
    at = datetime.fromtimestamp(float(runs[0]["at"]), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return template("release_note.md.j2").render(
        c=comparison, at=at, stale=age > STALE_AFTER, days=int(age // 86400),
        text=comparison["text"].replace("### Canary:", "#### Canary:", 1)).strip() + "\n"
