"""Benchmark: what a hostile PR comment costs the chat-ops parser, against an anchor, same run.

    .venv/bin/python tests/benchmarks/bench_commands.py [--repeat 20]

Every case is a comment of 65,536 characters (GitHub's limit) and goes through
`bot.commands.parse_comment`, the one parse a worker does per comment, and, for reference,
through the line scan (`command_lines`) of the parser at an earlier commit (`--old REV`,
default 92943aa, loaded from git; one run, only where it finishes in about `--old-budget`). The anchor is markdown-it-py's full parse of one
plain paragraph of the same size. The figure is the median wall time of `--repeat` calls and
its ratio to the anchor's. The target: every case under 50 ms. tests/chatops/test_commands.py
checks the answers for the same shapes (no timing there).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from markdown_it import MarkdownIt  # noqa: E402

from bot.commands import MAX_BODY, parse_comment  # noqa: E402

N = MAX_BODY


def fill(unit: str, before: str = "", after: str = "") -> str:
    body = before + unit * ((N - len(before) - len(after)) // len(unit) + 1)
    return body[: N - len(after)] + after


def cases() -> dict[str, str]:
    return {
        "plain paragraph (anchor: markdown-it parse)": fill("lorem ipsum "),
        "plain paragraph": fill("lorem ipsum "),
        "backticks and newlines": fill("`\n"),
        "backticks and newlines, /status first": fill("`\n", before="/status\n\n"),
        "backticks and newlines, /status last": fill("`\n", after="\n/status"),
        "nested quotes, then /status": fill(">", after="\n\n/status"),
        "nested quote lines": fill("> > > > > > > > > > a\n", after="/rollback"),
        "<!-- without end": fill("/rollback\n", before="<!--\n"),
        "inline <!-- without end": fill("<!--", before="x\n/status\n"),
        "65k /status lines": fill("/status\n"),
        "65k /a lines (21,846 lines)": fill("/a\n"),
        "deeply nested list": "".join(" " * (2 * i) + "- /rollback\n" for i in range(300))[:N],
        "nested lists (40 levels, 3,000 lines)": fill("".join("  " * i + "- a\n" for i in range(40))),
        "![ brackets after /status": fill("![", before="x\n/status\n"),
        "[ brackets, /status in 256-character paragraphs": fill("[" * 248 + "\n/status\n\n"),
        "/a <b> lines": fill("/a <b>" + "![" * 100 + "\n"),
        "spaces": fill(" "),
        "indented lines": fill(" " * 60 + "x\n"),
        # raw HTML read as the HTML tokenizer reads it (bot/html_scan.py), and math
        "HTML block of tags with attributes, then /status": fill("<div a=b c='d' e=\"f\">", after="\n\n/status"),
        "<details> paragraphs": fill("x <details> </details>\n", before="hi\n", after="\n\n/status"),
        "/status <details> paragraphs": fill("/status <details>\n\n"),
        "$ lines with /status": fill("$\n/status\n"),
    }


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def old_parser(rev: str) -> ModuleType | None:
    """The parser as it was at `rev` (it rendered replies, so it loads bot.render's templates)."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:bot/commands.py"], check=True,
                             capture_output=True, text=True).stdout
    except subprocess.CalledProcessError:
        return None
    path = Path(tempfile.mkdtemp()) / "commands_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("commands_old", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["commands_old"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--old", default="92943aa", help="git revision of the parser to compare with")
    ap.add_argument("--old-budget", type=float, default=2.0, help="seconds one old parse may take before it is skipped")
    args = ap.parse_args()
    old = old_parser(args.old)
    md = MarkdownIt("commonmark")
    rows = []
    anchor = 0.0
    for name, body in cases().items():
        assert len(body) == N, (name, len(body))
        if name.startswith("plain paragraph (anchor"):
            anchor = median_ms(lambda body=body: md.parse(body), args.repeat)
            rows.append((name, anchor, None, "-"))
            continue
        result = parse_comment(body)
        ms = median_ms(lambda body=body: parse_comment(body), args.repeat)
        found = "none" if result is None else f"{type(result).__name__.lower()} /{result.name}"
        old_ms: float | None = None
        if old is not None:
            start = time.perf_counter()
            list(old.command_lines(body[: N // 8]))  # a first look at an eighth of it
            if (time.perf_counter() - start) * 64 < args.old_budget:  # quadratic: 64 times that for all of it
                old_ms = median_ms(lambda body=body: list(old.command_lines(body)), 1)
        rows.append((name, ms, old_ms, found))
    print(f"comment size {N:,} characters; median of {args.repeat}; anchor {anchor:.2f} ms\n")
    print(f"| case | parse | / anchor | old parser ({args.old}) | result |")
    print("|---|---:|---:|---:|---|")
    for name, ms, old_ms, found in rows:
        ratio = f"{ms / anchor:.1f}×" if anchor else "-"
        old_cell = "-" if old_ms is None and name.startswith("plain paragraph (anchor") else (
            f"{old_ms:.1f} ms" if old_ms is not None else f"> {args.old_budget:.0f} s (skipped)")
        print(f"| {name} | {ms:.2f} ms | {ratio} | {old_cell} | {found} |")
    worst = max(ms for name, ms, _, _ in rows if not name.startswith("plain paragraph (anchor"))
    print(f"\nworst case {worst:.2f} ms: target < 50 ms {'met' if worst < 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
