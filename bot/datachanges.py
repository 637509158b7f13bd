"""Which files a change touches, and what changed in the data files between two revisions.

Globs are anchored at the repository root: `*` and `?` stay inside one path segment and
`**` crosses segments (`data/**`, `**/*.dvc`). The App classifies a PR's changed files
with the same `classify`, so CI and the App agree on what counts as a data change.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from bot.config import Paths
from bot.datafiles import DataFileError, is_tabular, read_table_bytes, sha256_bytes
from bot.errors import InvalidInput

MAX_ROWS_BYTES = 200 * 1024 * 1024  # do not load larger files just to count rows


class DataChangeError(InvalidInput):
    """The revisions cannot be compared: names the cause."""


@cache
def _glob_re(glob: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif glob.startswith("**", i):
            out += ".*"
            i += 2
        elif glob[i] == "*":
            out += "[^/]*"
            i += 1
        elif glob[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(glob[i])
            i += 1
    return re.compile(out + r"\Z")


def matches(path: str, globs: list[str]) -> bool:
    return any(_glob_re(g).match(path.lstrip("/")) for g in globs)


def classify(paths: list[str], paths_config: Paths) -> dict[str, list[str]]:
    """Split changed paths into data and model-code changes (others are ignored)."""
    return {
        "data": [p for p in paths if matches(p, paths_config.data)],
        "model": [p for p in paths if matches(p, paths_config.model)],
    }


def _git(root: Path, *args: str) -> bytes:
    try:
        res = subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise DataChangeError("git is not installed; it is needed for --base-rev") from None
    if res.returncode != 0:
        msg = res.stderr.decode(errors="replace").strip().splitlines()
        raise DataChangeError(f"git {' '.join(args[:2])} failed: {msg[-1] if msg else 'unknown error'}")
    return res.stdout


def _summary(root: Path, rev: str, path: str) -> tuple[int | None, str | None]:
    data = _git(root, "show", f"{rev}:{path}")
    rows = None
    if is_tabular(path) and len(data) <= MAX_ROWS_BYTES:
        try:
            rows = len(read_table_bytes(data, Path(path).suffix))
        except DataFileError:
            rows = None
    return rows, sha256_bytes(data)


def data_changes(root: str | Path, base: str, head: str, globs: list[str]) -> list[dict[str, Any]]:
    """Status, rows and sha256 before/after for every data file that differs."""
    root = Path(root)
    if not (root / ".git").exists() and _git_toplevel(root) is None:
        raise DataChangeError(f"{root} is not a git checkout; --base-rev needs the repository's history")
    for rev in (base, head):
        try:
            _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        except DataChangeError:
            raise DataChangeError(
                f"revision {rev!r} does not exist in {root}; fetch it (actions/checkout with fetch-depth: 0)"
            ) from None
    out = _git(root, "diff", "--name-status", "-M", "-z", base, head).decode()
    fields = out.split("\0")
    changes: list[dict[str, Any]] = []
    i = 0
    while i < len(fields) - 1:
        status = fields[i]
        if status.startswith("R"):
            old, new = fields[i + 1], fields[i + 2]
            i += 3
        else:
            old = new = fields[i + 1]
            i += 2
        if not (matches(new, globs) or matches(old, globs)):
            continue
        kind = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed"}.get(status[0], "modified")
        before = _summary(root, base, old) if kind != "added" else (None, None)
        after = _summary(root, head, new) if kind != "deleted" else (None, None)
        changes.append({
            "path": new, "status": kind,
            "rows_before": before[0], "rows_after": after[0],
            "sha256_before": before[1], "sha256_after": after[1],
        })
    return changes


def _git_toplevel(root: Path) -> str | None:
    try:
        return _git(root, "rev-parse", "--show-toplevel").decode().strip() or None
    except DataChangeError:
        return None
