"""Fitting a text under GitHub's size limits: cut the long tables harder until it fits, and say what was cut."""

from __future__ import annotations

from typing import Any

from bot.render.text import render_template

MAX_COMMENT_CHARS = 65536  # GitHub refuses a comment body of this many characters or more
MAX_SUMMARY_CHARS = 65535  # check-run output.summary limit
SAFETY_MARGIN = 1000  # room for the notes that truncation itself adds
TOP_FLAGGED = 25  # regressed segments listed above the fold
TRUNCATION_STEPS: tuple[int | None, ...] = (None, 500, 200, 100, 50, 20, 10, 0)
MAX_REASONS = 20


def cap(view: dict[str, Any], limit: int | None) -> dict[str, Any]:
    """A copy of the view with every long table cut to `limit` entries and the cuts counted."""
    ctx = dict(view)
    models = []
    for m in view["models"]:
        m = dict(m)
        keys: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for r in m["segments"]:
            if r["key"] not in seen:
                seen.add(r["key"])
                keys.append(r["key"])
        keep = set(keys if limit is None else keys[:limit])
        m["segments_hidden"] = len(keys) - len(keep)
        m["segments"] = [r for r in m["segments"] if r["key"] in keep]
        top = TOP_FLAGGED if limit is None else min(TOP_FLAGGED, max(limit, 5))
        m["flagged_hidden"] = max(len(m["flagged"]) - top, 0)
        m["flagged"] = m["flagged"][:top]
        models.append(m)
    ctx["models"] = models
    ctx["reasons_hidden"] = max(len(view["reasons"]) - MAX_REASONS, 0)
    ctx["reasons"] = view["reasons"][:MAX_REASONS]
    failed = [c for c in view["checks"] if not c["passed"]]
    for name, rows in (("failed_checks", failed), ("drift", view["drift"]), ("changes", view["changes"])):
        n = len(rows) if limit is None else max(limit, 5)
        ctx[name] = rows[:n]
        ctx[f"{name}_hidden"] = len(rows) - len(ctx[name])
    ctx["drift_total"] = len(view["drift"])
    return ctx


def fit(view: dict[str, Any], template: str, limit: int) -> str:
    """Render; while too long, cut the long tables harder. Each cut says how much is hidden."""
    for step in TRUNCATION_STEPS:
        text = render_template(template, **cap(view, step))
        if len(text) < limit - SAFETY_MARGIN:
            return text
    ctx = cap(view, 0)
    ctx["models"] = []
    ctx["too_large"] = True
    text = render_template(template, **ctx)
    return text if len(text) < limit else text[: limit - 2] + "\n"
