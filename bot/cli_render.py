"""`mlgate render REPORT`: re-render any report as a comment, check summary, HTML or text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot import report as report_io
from bot.config import Config, ConfigError, load_config

FORMATS = ("comment", "summary", "html", "terminal")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", help="an mlgate-report.json")
    parser.add_argument("--config", help="policy to judge the report by (default: the policy in the report)")
    parser.add_argument("--format", choices=FORMATS, default="terminal")
    parser.add_argument("--out", help="write here instead of standard output")
    parser.add_argument("--report-url", help="link to the full report (comment format)")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from bot import render
    from bot.gate import decide

    try:
        report = report_io.load(args.report)
        config = load_config(args.config) if args.config else Config.model_validate(report["policy"])
    except report_io.ReportError as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"mlgate: config error: {exc}", file=sys.stderr)
        return 2
    except ValidationError:
        print("mlgate: error: the report's embedded policy is not a valid config; pass --config", file=sys.stderr)
        return 2
    decision = decide(report, config)
    if args.format == "comment":
        text = render.render_comment(report, decision, report_url=args.report_url)
    elif args.format == "summary":
        title, body = render.render_check_summary(report, decision)
        text = f"# {title}\n\n{body}"
    elif args.format == "html":
        text = render.render_html(report, decision)
    else:
        text = render.render_terminal(report, decision)
    if args.out:
        report_io.write_atomic(Path(args.out), text)
    else:
        sys.stdout.write(text)
    return 0
