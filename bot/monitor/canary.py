"""A running canary, found in the registry, and its live comparison posted on the PR that started it.

`/promote --canary N%` (bot.promotion) points the challenger alias at the candidate and tags
that version with the traffic share (`mlgate.canary.share`), the champion it runs beside
(`mlgate.canary.champion`) and the PR (`mlgate.pr`, "owner/repo#12"). The monitor reads those
tags, compares the two on logged traffic (bot.monitor.compare) and keeps one comment on that
PR, found by a hidden marker and edited in place: a re-run over the same window changes nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Protocol

from bot.monitor.compare import LiveComparison, render_comparison
from bot.monitor.run import VersionSource
from bot.monitor.templates import template

SHARE_TAG = "mlgate.canary.share"
CHAMPION_TAG = "mlgate.canary.champion"
PR_TAG = "mlgate.pr"
_PR = re.compile(r"^([A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100})#([1-9][0-9]{0,9})$")


class CommentPort(Protocol):
    """What posting the comparison asks of GitHub (bot.github_client.GitHubClient satisfies it)."""

    def upsert_sticky_comment(self, number: int, body: str, marker: str, known_id: int | None = None) -> int: ...


@dataclass(frozen=True)
class Canary:
    model: str
    alias: str
    version: str
    share: float | None  # the traffic share /promote --canary recorded (None: not recorded)
    champion: str | None
    repo: str | None  # the PR that started it, from the version's mlgate.pr tag
    pr: int | None


def running_canary(registry: VersionSource, model: str, alias: str) -> Canary | None:
    """The version the challenger alias names and what /promote --canary tagged it with; None if no alias."""
    version = registry.alias_version(model, alias)
    if version is None:
        return None
    tags = registry.version_tags(model, version)
    try:
        share: float | None = float(tags[SHARE_TAG])
    except (KeyError, ValueError):
        share = None
    m = _PR.match(tags.get(PR_TAG, ""))
    return Canary(model, alias, version, share, tags.get(CHAMPION_TAG) or None,
                  m.group(1) if m else None, int(m.group(2)) if m else None)


def marker(model: str) -> str:
    return f"<!-- mlgate:canary-comparison model={json.dumps(model)} -->"


def verdict(result: LiveComparison) -> str:
    """worse | undecided | not_worse: the comparison in one word (unknown is never 'not worse')."""
    if result.worse:
        return "worse"
    return "undecided" if result.undecided else "not_worse"


def comment_body(canary: Canary, result: LiveComparison) -> str:
    """The PR comment: the marker, what runs where, and the comparison (no run time: a re-run
    over the same window renders the same text, so the comment is not edited again)."""
    return template("canary_comment.md.j2").render(
        marker=marker(canary.model), share=canary.share, verdict=verdict(result),
        comparison=render_comparison(result)).strip() + "\n"


def post_comparison(gh: CommentPort, canary: Canary, result: LiveComparison) -> int:
    """Create or edit the one comparison comment on the canary's PR; returns the comment id."""
    assert canary.pr is not None
    return gh.upsert_sticky_comment(canary.pr, comment_body(canary, result), marker(canary.model))
