"""Golden files pin the monitor's texts: the model's issue, the live comparison, the canary's PR
comment and the note a later /promote quotes (UPDATE_GOLDEN=1 rewrites them).

Built from the monitor's own types with fixed figures, so a change to a template or to what
the code puts in it shows up here as a diff to review."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bot.monitor.canary import Canary, comment_body
from bot.monitor.checks import DriftRow, LiveRow, ModelHealth
from bot.monitor.compare import ComparisonRow, LiveComparison, render_comparison
from bot.monitor.issues import render_issue, trend_entry
from bot.monitor.state import Posted, record, release_note

GOLDEN = Path(__file__).parent / "golden"
WINDOW = "2026-11-23 to 2026-11-29"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


def _alert() -> ModelHealth:
    h = ModelHealth("churn-classifier", "3", WINDOW, 1_400_000, 1_250_000)
    h.drift = [
        DriftRow("tenure_months", "all", "numeric", 0.4123, 1e-30, 1_400_000, True),
        DriftRow("monthly_charges", "all", "numeric", 0.0123, 0.2345, 1_400_000, False),
        DriftRow("region", "all", "categorical", 0.0311, 0.00004, 1_400_000, False),
        DriftRow("tenure_months", "region=APAC", "numeric", 0.6021, 1e-12, 250_000, True),
        DriftRow("tenure_months", "region=EU", "numeric", 0.3501, 2e-9, 400_000, True),
    ]
    h.prediction = [DriftRow("score", "all", "numeric", 0.2514, 1e-8, 1_400_000, True)]
    h.live = [
        LiveRow("roc_auc", "all", 1_250_000, 0.7012, 0.6523, 0.6501, 0.6545, -0.0489, "regressed", True),
        LiveRow("accuracy", "all", 1_250_000, 0.7811, 0.7702, 0.7695, 0.7709, -0.0109, "informational", False),
        LiveRow("roc_auc", "region=APAC", 220_000, None, 0.6011, 0.5962, 0.6060, None, "n/a", True),
    ]
    h.flag("alert", "input drift in 3 feature/segment pair(s): tenure_months")
    h.flag("alert", "prediction drift against the previous window (PSI 0.251)")
    h.flag("alert", "live roc_auc is significantly below its evaluation-time figure")
    return h


def test_issue_alert() -> None:
    h = _alert()
    earlier = {"window": "2026-11-16 to 2026-11-22", "state": "ok", "drifted": 0, "max_psi": 0.0312,
               "live": {"roc_auc": 0.7003}}
    _check("issue-alert.md", render_issue(h, [earlier, trend_entry(h)]))


def test_issue_unknown() -> None:
    h = ModelHealth("churn-classifier", None, WINDOW, 0, 0)
    h.flag("unknown", "no logged predictions of churn-classifier in " + WINDOW)
    h.flag("unknown", "cannot tell which version is in production: the alias production of churn-classifier "
                      "does not exist")
    h.notes.append("prediction drift not measured: the previous window has too few predictions")
    _check("issue-unknown.md", render_issue(h, [trend_entry(h)]))


def test_issue_back_within_bounds() -> None:
    h = ModelHealth("churn-classifier", "3", "2026-12-07 to 2026-12-13", 1_390_000, 0)
    h.drift = [DriftRow("tenure_months", "all", "numeric", 0.0101, 0.0421, 1_390_000, False)]
    h.notes.append("live quality not measured: the log has no label column")
    alert = {"window": WINDOW, "state": "alert", "drifted": 3, "max_psi": 0.6021, "live": {"roc_auc": 0.6523}}
    _check("issue-ok.md", render_issue(h, [alert, trend_entry(h)]))


def _comparison(mode: str, worse: bool) -> LiveComparison:
    c = LiveComparison("churn-classifier", "3", "4", mode, WINDOW, 980_000, 420_000)
    d, lo, hi = (-0.0312, -0.0389, -0.0235) if worse else (0.0021, -0.0018, 0.0060)
    c.rows = [
        ComparisonRow("roc_auc", "all", 420_000, 0.7012, 0.7012 + d, d, lo, hi,
                      "regressed" if worse else "unchanged", True),
        ComparisonRow("accuracy", "all", 420_000, 0.7811, 0.7799, -0.0012, -0.0040, 0.0016, "informational", False),
        ComparisonRow("roc_auc", "region=APAC", 90_000, 0.6611, 0.6611 + 2 * d, 2 * d, 2 * lo - 0.01, 2 * hi + 0.01,
                      "regressed" if worse else "unchanged", True),
        ComparisonRow("roc_auc", "region=LATAM", 150, 0.7, 0.68, -0.02, -0.11, 0.07, "inconclusive", False),
    ]
    return c


@pytest.mark.parametrize(("name", "mode", "worse"), [
    ("compare-shadow-worse.md", "shadow", True), ("compare-split-not-worse.md", "split", False)])
def test_comparison(name: str, mode: str, worse: bool) -> None:
    _check(name, render_comparison(_comparison(mode, worse)))


def test_comparison_undecided() -> None:
    c = LiveComparison("churn-classifier", "3", "4", "split", WINDOW, 150, 40)
    c.problems.append("too few labelled predictions to compare (150 champion, 40 challenger; monitor.min_rows is 200)")
    _check("compare-undecided.md", render_comparison(c))


CANARY = Canary("churn-classifier", "challenger", "4", 0.1, "3", "acme/churn", 12)


@pytest.mark.parametrize(("name", "worse"), [("canary-comment-worse.md", True), ("canary-comment-not-worse.md", False)])
def test_canary_comment(name: str, worse: bool) -> None:
    _check(name, comment_body(CANARY, _comparison("shadow", worse)))


class _Store:
    """Keeps what bot.monitor.state.record writes, as bot.store.Store's monitor_runs returns it."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def record_monitor_run(self, **row: Any) -> None:
        self.rows.insert(0, {**{k: v for k, v in row.items() if k != "window"}, "window_label": row["window"],
                             "at": 1_764_979_200.0})  # 2025-12-06 00:00 UTC

    def monitor_runs(self, *, repo: str | None = None, model: str | None = None, limit: int = 500) -> Any:
        return [r for r in self.rows if repo in (None, r["repo"]) and model in (None, r["model"])][:limit]


@pytest.mark.parametrize(("name", "worse", "days"), [("release-note-worse-stale.md", True, 10),
                                                     ("release-note-not-worse.md", False, 1)])
def test_release_note(name: str, worse: bool, days: int) -> None:
    store = _Store()
    record(store, "acme/churn", _alert(), None, Posted(CANARY, _comparison("shadow", worse), 77),
           web="https://github.com")
    assert json.loads(store.rows[0]["comparison"])["pr_url"] == "https://github.com/acme/churn/pull/12"
    note = release_note(store, "acme/churn", "churn-classifier", now=1_764_979_200.0 + days * 86400)
    assert note is not None
    _check(name, note)
