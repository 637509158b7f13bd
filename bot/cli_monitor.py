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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import Config, ModelConfig
    from bot.monitor.canary import CommentPort
    from bot.monitor.run import VersionSource
    from bot.monitor.state import Posted
    from bot.store import Store

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


AUTO_ENGINE_BYTES = 1024**3  # a window of log files larger than this goes to duckdb (when installed)


def configure_monitor(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--engine", choices=("auto", "numpy", "duckdb"), default="auto",
                        help="where the window's rows are aggregated: numpy (in memory), duckdb (out of core); "
                             "auto: duckdb for a glob or over 1 GB of log files in the window, when installed "
                             "(default: %(default)s)")
    parser.add_argument("--engine-memory", metavar="SIZE", default=None,
                        help="memory limit of the duckdb engine, e.g. 2GB (it spills to disk above it)")
    parser.add_argument("--dry-run", action="store_true", help="say what would change on GitHub; change nothing")
    parser.add_argument("--no-issues", action="store_true",
                        help="only print the result (no GitHub token needed; no canary comment either)")
    parser.add_argument("--database-url", default=None,
                        help="the App's store, to record each model's state for the dashboard and /promote "
                             "(default: $MLGATE_DATABASE_URL; nothing is recorded without one)")
    parser.add_argument("--repo", default=None, help="owner/name the runs are recorded under "
                        "(default: $GITHUB_REPOSITORY)")


def configure_compare_live(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--model", default=None, help="model name (default: the config's first model)")
    parser.add_argument("--challenger", default=None, help="challenger alias or version (default: monitor.challenger)")


def _registry(uri: str | None) -> Any:
    from bot.mlflow import Registry, RegistryError

    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return None
    try:
        return Registry(uri, existing=True)  # a missing SQLite file is refused, not created
    except RegistryError as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _load(args: argparse.Namespace) -> Any:
    try:
        return load_config(Path(args.root) / args.config)
    except ConfigError as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        return None


def run_monitor(args: argparse.Namespace) -> int:
    """0: every model within bounds; 1: a threshold crossed or something undecided; 2: bad input."""
    from bot.evaluation.engines import EngineUnavailable
    from bot.github_client import DEFAULT_API, GitHubClient, GitHubError
    from bot.monitor.issues import sync_issue
    from bot.monitor.logs import LogError
    from bot.monitor.run import run_monitor as run

    config = _load(args)
    if config is None:
        return 2
    repo_name = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    try:
        store = _store(args.database_url or os.environ.get("MLGATE_DATABASE_URL"), repo_name)
    except _Unusable:
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
    registry = _registry(args.tracking_uri)
    try:
        engine = monitor_engine(args.engine, config, Path(args.root), args.until)
        results = run(config, root=Path(args.root), registry=registry, until=args.until, engine=engine,
                      memory=args.engine_memory)
    except (LogError, EngineUnavailable) as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        return 2
    web = (os.environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    outcomes, canaries = [], []
    for health, model in zip(results, config.models, strict=True):
        line = f"{health.model}: {health.state} ({health.window}, {health.rows:,} predictions)"
        print(line + "".join(f"\n  - {r}" for r in health.reasons))
        outcome = None
        try:
            if gh is not None:
                outcome = sync_issue(gh, health, config.monitor, dry_run=args.dry_run)
                outcomes.append(outcome)
                what = f"would be {outcome.action}" if args.dry_run else outcome.action
                print(f"  issue: {what}" + (f" (#{outcome.number})" if outcome.number else "")
                      + (f"; retrain: {outcome.retrain}" if outcome.retrain else ""))
            posted = _canary(args, config, model, registry, gh, repo_name)
        except GitHubError as exc:
            print(f"mlgate: could not update GitHub for {health.model}: {exc}", file=sys.stderr)
            return 2
        except LogError as exc:
            print(f"mlgate: {exc}", file=sys.stderr)
            return 2
        if posted is not None:
            canaries.append(posted)
        if store is not None and not args.dry_run:
            from bot.monitor.state import record

            record(store, repo_name, health, outcome, posted, web=web)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "models": [asdict(h) for h in results], "issues": [asdict(o) for o in outcomes],
            "canaries": [{"canary": asdict(p.canary), "comparison": asdict(p.result), "comment_id": p.comment_id,
                          "note": p.note} for p in canaries]}, indent=1, default=str))
    return 0 if all(h.state == "ok" for h in results) else 1


def monitor_engine(choice: str, config: Config, root: Path, until: datetime | None) -> str:
    """The engine for this run: the flag, or (auto) duckdb for a glob or a large window, when installed.

    As `mlgate evaluate` chooses (bot.cli_evaluate._engine_for), with a lower threshold: the
    numpy path peaks at about 180 bytes a logged row (10M rows, 441 MB of Parquet: 1.8 GB), and
    below that size it spends less CPU than duckdb (docs/benchmarks.md).
    """
    from bot.evaluation.engines import EngineUnavailable
    from bot.monitor.logs import LogError, Window, is_glob, log_files

    try:
        import duckdb  # noqa: F401
        have = True
    except ImportError:
        have = False
    if choice == "duckdb" and not have:
        raise EngineUnavailable("the duckdb engine needs the duckdb package: pip install 'mlgate[duckdb]'")
    if choice != "auto":
        return choice
    if not have:
        return "numpy"
    logs = root / config.monitor.logs
    if is_glob(config.monitor.logs):
        return "duckdb"
    window = Window.ending(until or datetime.now(UTC), config.monitor.window_days)
    try:
        size = sum(f.stat().st_size for f in log_files(logs, window))
    except (LogError, OSError):
        return "numpy"  # the run itself says what is wrong with the logs
    return "duckdb" if size > AUTO_ENGINE_BYTES else "numpy"


class _Unusable(Exception):
    """The store cannot be recorded into (already said on standard error)."""


def _store(url: str | None, repo: str) -> Store | None:
    """The App's store to record into (never created here); None without a URL."""
    if not url:
        return None
    from bot.store import StoreError, open_existing

    if not repo:
        print("mlgate: recording into the store needs the repository: pass --repo or set GITHUB_REPOSITORY",
              file=sys.stderr)
        raise _Unusable
    try:
        return open_existing(url)
    except StoreError as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        raise _Unusable from None


def _canary(args: argparse.Namespace, config: Config, model: ModelConfig, registry: VersionSource | None,
            gh: CommentPort | None, repo: str) -> Posted | None:
    """A running canary of `model`: compared live and, with a token for its PR's repository, posted there."""
    from bot.mlflow import RegistryError
    from bot.monitor.canary import post_comparison, running_canary
    from bot.monitor.compare import compare_live
    from bot.monitor.state import Posted

    if registry is None:
        return None
    try:
        canary = running_canary(registry, model.name, config.monitor.challenger)
    except RegistryError as exc:
        print(f"  canary: cannot read the {config.monitor.challenger} alias ({str(exc).splitlines()[0][:200]})")
        return None
    if canary is None:
        return None
    result = compare_live(config, model, root=Path(args.root), registry=registry, until=args.until,
                          challenger=canary.version)
    where = f"{canary.repo}#{canary.pr}" if canary.pr else None
    note = None
    if where is None:
        note = "the challenger version has no mlgate.pr tag (not started by /promote --canary on a PR)"
    elif canary.repo != repo:
        note = f"the canary was started on {where}, not in {repo or 'this repository'}"
    elif gh is None:
        note = "--no-issues: not posted"
    elif args.dry_run:
        note = f"dry run: would be posted on {where}"
    comment = None
    if note is None and gh is not None:
        comment = post_comparison(gh, canary, result)
    print(f"  canary: version {canary.version} against {result.champion}, {result.mode} traffic: "
          + ("worse" if result.worse else "undecided" if result.undecided else "not worse")
          + (f"; posted on {where}" if comment else f"; {note}"))
    return Posted(canary, result, comment, note)


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
