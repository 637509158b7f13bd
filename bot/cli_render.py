"""`mlgate render REPORT`: re-render any report as a comment, check summary, HTML or text.

The verdicts are recomputed from the report's numbers with the policy given by `--config`
(for example the base branch's `.github/mlgate.yml`), or else with the policy the report
embeds, so the same report can be re-judged without re-running the evaluation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import report as report_io

if TYPE_CHECKING:
    from bot.gate import Decision

FORMATS = ("comment", "summary", "html", "terminal")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", help="an mlgate-report.json")
    parser.add_argument("--config", metavar="PATH",
                        help="policy to judge the report by (default: the policy embedded in the report)")
    parser.add_argument("--format", choices=FORMATS, default="terminal", help="what to render (default: terminal)")
    parser.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    parser.add_argument("--report-url", metavar="URL", help="link to the full report (comment format)")


def _fail(message: str) -> int:
    print(f"mlgate: error: {' '.join(str(message).split())[:500]}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Load and validate the report, decide with the chosen policy, render, write. 2 on bad input."""
    from pydantic import ValidationError

    from bot.config import Config, ConfigError, load_config
    from bot.gate import decide

    try:
        report = report_io.load(args.report)
    except report_io.ReportError as exc:
        return _fail(str(exc))
    try:
        if args.config:
            config = load_config(args.config)
        else:
            config = Config.judging_report(report.get("policy"))
    except ConfigError as exc:
        lines = str(exc).splitlines() or ["invalid config"]
        return _fail(lines[0] + (f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
        return _fail(f"the report's embedded policy is not a valid config ({where}: {first.get('msg')}); pass --config")

    decision = decide(report, config)
    text = _render(args.format, report, decision, args.report_url)
    if args.out:
        try:
            report_io.write_atomic(Path(args.out), text)
        except OSError as exc:
            return _fail(f"cannot write {args.out}: {exc.strerror}")
    else:
        sys.stdout.write(text)
    return 0


def _render(fmt: str, report: dict[str, Any], decision: Decision, report_url: str | None) -> str:
    from bot import render

    if fmt == "comment":
        return render.render_comment(report, decision, report_url=report_url)
    if fmt == "summary":
        title, body = render.render_check_summary(report, decision)
        return f"# {title}\n\n{body}"
    if fmt == "html":
        return render.render_html(report, decision)
    return render.render_terminal(report, decision)
