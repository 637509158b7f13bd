"""`mlgate monitor` and `mlgate compare-live`: production traffic, read on a schedule.

Both read the logged-traffic contract (docs/monitoring.md) and the registry. `monitor`
keeps one GitHub issue per model through the workflow's token (GITHUB_TOKEN and
GITHUB_REPOSITORY, as the Action's token mode), or only prints with --dry-run/--no-issues.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import ConfigError, load_config


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=".github/mlgate.yml", help="repository config (default: %(default)s)")
    parser.add_argument("--root", default=".", help="repository checkout the config's paths are relative to")
    parser.add_argument("--until", type=_when, default=None,
                        help="end of the window, ISO 8601 UTC (default: now)")
    parser.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the result as JSON to this file")


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-30T00:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def configure_monitor(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--dry-run", action="store_true", help="say what would change on GitHub; change nothing")
    parser.add_argument("--no-issues", action="store_true", help="only print the result (no GitHub token needed)")


def configure_compare_live(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--model", default=None, help="model name (default: the config's first model)")
    parser.add_argument("--challenger", default=None, help="challenger alias or version (default: monitor.challenger)")


def _registry(uri: str | None) -> Any:
    from bot.mlflow import Registry

    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    return Registry(uri) if uri else None


def _load(args: argparse.Namespace) -> Any:
    try:
        return load_config(Path(args.root) / args.config)
    except ConfigError as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        return None


def run_monitor(args: argparse.Namespace) -> int:
    """0: every model within bounds; 1: a threshold crossed or something undecided; 2: bad input."""
    from bot.github_client import DEFAULT_API, GitHubClient, GitHubError
    from bot.monitor.issues import sync_issue
    from bot.monitor.logs import LogError
    from bot.monitor.run import run_monitor as run

    config = _load(args)
    if config is None:
        return 2
    gh = None
    if not args.no_issues:
        token, repo = os.environ.get("GITHUB_TOKEN", ""), os.environ.get("GITHUB_REPOSITORY", "")
        if not token or not repo:
            print("mlgate: GITHUB_TOKEN and GITHUB_REPOSITORY must be set to keep the monitor issues "
                  "(in a workflow: env: {GITHUB_TOKEN: ${{ github.token }}} with permissions: {issues: write}); "
                  "or pass --no-issues", file=sys.stderr)
            return 2
        gh = GitHubClient.from_token(token, repo, os.environ.get("GITHUB_API_URL") or DEFAULT_API)
    try:
        results = run(config, root=Path(args.root), registry=_registry(args.tracking_uri), until=args.until)
    except LogError as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        return 2
    outcomes = []
    for health in results:
        line = f"{health.model}: {health.state} ({health.window}, {health.rows:,} predictions)"
        print(line + "".join(f"\n  - {r}" for r in health.reasons))
        if gh is not None:
            try:
                outcome = sync_issue(gh, health, config.monitor, dry_run=args.dry_run)
            except GitHubError as exc:
                print(f"mlgate: could not update the monitor issue of {health.model}: {exc}", file=sys.stderr)
                return 2
            outcomes.append(outcome)
            what = f"would be {outcome.action}" if args.dry_run else outcome.action
            print(f"  issue: {what}" + (f" (#{outcome.number})" if outcome.number else "")
                  + (f"; retrain: {outcome.retrain}" if outcome.retrain else ""))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"models": [asdict(h) for h in results],
                                                   "issues": [asdict(o) for o in outcomes]}, indent=1, default=str))
    return 0 if all(h.state == "ok" for h in results) else 1


def run_compare_live(args: argparse.Namespace) -> int:
    """0: a verdict was reached for every gated metric; 1: the challenger is worse or undecided."""
    from bot.monitor.compare import compare_live, render_comparison
    from bot.monitor.logs import LogError

    config = _load(args)
    if config is None:
        return 2
    model = next((m for m in config.models if m.name == args.model), None) if args.model else config.models[0]
    if model is None:
        print(f"mlgate: no model {args.model!r} in {args.config}", file=sys.stderr)
        return 2
    registry = _registry(args.tracking_uri)
    if registry is None:
        print("mlgate: no model registry given: set MLFLOW_TRACKING_URI or pass --tracking-uri", file=sys.stderr)
        return 2
    try:
        result = compare_live(config, model, root=Path(args.root), registry=registry, until=args.until,
                              challenger=args.challenger)
    except LogError as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        return 2
    print(render_comparison(result), end="")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(asdict(result), indent=1, default=str))
    return 1 if result.worse or result.undecided else 0


configure = configure_monitor
run = run_monitor
