"""Operator commands: `mlgate promote`, `mlgate rollback`, `mlgate status`, `mlgate audit`.

They run the same use cases as /promote and /rollback (bot.promotion): the same per-model
lock, tags, audit rows and history tags, so a release from a terminal is as traceable as
one from a PR. `mlgate promote --repo R --pr N` applies the PR gates from the store; with
`--candidate URI` or `--version N` the operator takes responsibility, and the audit row
says it came from the CLI. No GitHub token is needed, so no GitHub deployment is recorded.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import os
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

AUDIT_FIELDS = ["id", "at", "time", "actor", "action", "result", "repo", "model", "from_version", "to_version",
                "pr", "sha", "delivery_id", "detail", "alias"]  # alias: added by migration 0007, so last


def _common(parser: argparse.ArgumentParser, *, registry: bool = True) -> None:
    from bot.settings import database_url_from_env

    parser.add_argument("--database-url", default=database_url_from_env(),
                        help="the App's store (default: $MLGATE_DATABASE_URL, else mlgate.db in $MLGATE_DATA_DIR)")
    if registry:
        parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                            help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")


def _version_arg(text: str) -> str:
    """`3` or `v3`, as the chat commands take it."""
    v = text.removeprefix("v").removeprefix("V")
    if not v.isdigit() or int(v) < 1:
        raise argparse.ArgumentTypeError(f"takes a model version number such as 3 (or v3), got {text!r}")
    return str(int(v))


def _share_arg(text: str) -> float:
    from bot.commands import parse_share

    share = parse_share(text)
    if share is None:
        raise argparse.ArgumentTypeError(f"takes a share of traffic such as 10% (more than 0, less than 100), "
                                         f"got {text!r}")
    return share


def _alias_arg(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,254}", text) or re.fullmatch(r"[vV]\d+", text) \
            or text.lower() == "latest":
        raise argparse.ArgumentTypeError(f"takes an alias name (letters, digits, _ and -, not a version like v1 "
                                         f"or latest), got {text!r}")
    return text


def _release_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name")
    parser.add_argument("--alias", type=_alias_arg, default="production",
                        help="registry alias to move (default: production)")
    parser.add_argument("--dry-run", action="store_true", help="check everything, change nothing, show the plan")
    parser.add_argument("--actor", default=None, help="who is doing this, for the audit log (default: $USER)")
    parser.add_argument("--metric", action="append", default=[], help="key metric for the table (repeatable)")
    _common(parser)


def configure_promote(parser: argparse.ArgumentParser) -> None:
    _release_args(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--candidate", help="model URI to register and promote (runs:/, models:/, a path)")
    what.add_argument("--version", type=_version_arg, help="an existing version to promote (3 or v3)")
    what.add_argument("--pr", type=int, help="promote this PR's candidate; needs --repo; the PR gates apply")
    parser.add_argument("--repo", help="owner/name of the PR's repository (with --pr)")
    parser.add_argument("--canary", type=_share_arg, default=None, metavar="N%",
                        help="a canary: point the challenger alias (--alias, default challenger) at it with this "
                             "share of traffic; production does not move")


def configure_rollback(parser: argparse.ArgumentParser) -> None:
    _release_args(parser)
    parser.add_argument("--to", dest="version", type=_version_arg, default=None,
                        help="version to move the alias to (default: the previous one, from the audit log)")
    parser.add_argument("--pr", type=int, help="the PR this rollback answers (with --repo): its head is the "
                                               "GitHub Deployment's ref, as /rollback in that PR does")
    parser.add_argument("--repo", help="owner/name of the PR's repository (with --pr)")
    parser.add_argument("--canary", action="store_const", const=0.0, default=None,
                        help="stop the canary: clear the challenger alias (--alias, default challenger)")


def configure_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="*", help="model names (default: every model in the audit log)")
    parser.add_argument("--alias", type=_alias_arg, default="production",
                        help="the registry alias to show (default: %(default)s)")
    from bot.cli import int_at_least

    parser.add_argument("--limit", type=int_at_least(0), default=5, help="recent releases to show per model")
    _common(parser)


def configure_audit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="only this model's records")
    parser.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default: %(default)s)")
    parser.add_argument("--output", "-o", help="write here instead of stdout")
    _common(parser, registry=False)


def _store(url: str) -> Any:
    from bot.store import StoreError, open_existing

    try:
        return open_existing(url)
    except StoreError as exc:  # which store, and how to point at the right one: a usage error
        print(f"mlgate: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _registry(uri: str | None) -> Any:
    from bot.mlflow import Registry, RegistryError

    if not uri:  # MLflow would quietly start an empty local store here
        print("mlgate: no model registry given: set MLFLOW_TRACKING_URI or pass --tracking-uri (the one the App "
              "uses)", file=sys.stderr)
        raise SystemExit(2)
    try:
        return Registry(uri, existing=True)  # nor a missing SQLite file: a store is never created here
    except RegistryError as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _unknown_model(reg: Any, name: str) -> str | None:
    """Why `name` cannot be released: it is not a registered model. None also when MLflow
    cannot say: then the use case reports (and audits) that failure, as /promote does."""
    from bot.mlflow import ModelNotFound, RegistryError

    try:
        reg.require_model(name)
    except ModelNotFound as exc:
        return str(exc)
    except RegistryError:
        return None
    return None


def _release(args: argparse.Namespace, action: str) -> Any:
    from bot import promotion

    actor = args.actor or getpass.getuser()
    delivery = f"cli-{uuid.uuid4()}"
    repo = getattr(args, "repo", None)
    pr = getattr(args, "pr", None)
    if pr is not None and not repo:
        print(f"mlgate {action}: --pr needs --repo OWNER/NAME", file=sys.stderr)
        raise SystemExit(2)
    canary = getattr(args, "canary", None)
    alias = "challenger" if canary is not None and args.alias == "production" else args.alias
    return promotion.Release(
        action="promote" if action == "promote" else "rollback", model=args.model, alias=alias, actor=actor,
        delivery_id=delivery, repo=repo, pr=pr, candidate_uri=getattr(args, "candidate", None),
        version=args.version, dry_run=args.dry_run, via="cli", metrics=tuple(args.metric), canary=canary)


def _run_release(args: argparse.Namespace, action: str) -> int:
    from bot import promotion
    from bot.chatops import render_outcome
    from bot.mlflow import RegistryError

    store = _store(args.database_url)
    release = _release(args, action)
    if release.pr is not None:
        from dataclasses import replace

        head = store.pr_head(release.repo, release.pr)
        if head is None:
            print(f"mlgate: the store knows no PR {release.repo}#{release.pr}", file=sys.stderr)
            return 2
        release = replace(release, head_sha=head)

    reg = _registry(args.tracking_uri)
    if action == "rollback" or release.version is not None:  # these need the model to exist already
        unknown = _unknown_model(reg, release.model)
        if unknown:
            print(f"mlgate {action}: {unknown}", file=sys.stderr)
            return 2

    def registry() -> Any:
        return reg

    github = _github(store, release) if release.head_sha and not release.dry_run else None
    try:
        use_case = promotion.promote if action == "promote" else promotion.rollback
        out = use_case(store, registry, github, release)
    except (RegistryError, promotion.ReleaseError) as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        return 1
    from bot.render import markdown_to_terminal

    print(markdown_to_terminal(render_outcome(out, "")), end="")
    return 0 if out.ok else 1


def _github(store: Any, release: Any) -> Any:
    """The App's GitHub client for the PR's repository, to record the Deployment as /promote does.

    Needs the App's id and key (MLGATE_APP_ID, MLGATE_PRIVATE_KEY[_PATH]) and an installation the
    store knows for the repository; without them the release still happens, with a note.
    """
    from bot.github_client import GitHubClient
    from bot.settings import AppCredentials, SettingsError

    try:
        creds = AppCredentials.from_env()
    except SettingsError as exc:
        print(f"mlgate: no GitHub deployment will be recorded: {exc}", file=sys.stderr)
        return None
    installation = store.installation_for(release.repo)
    if installation is None:
        print(f"mlgate: no GitHub deployment will be recorded: the store knows no App installation for "
              f"{release.repo}", file=sys.stderr)
        return None
    try:
        return GitHubClient.for_installation(creds, installation, release.repo)
    except Exception as exc:  # GitHub unreachable or the key refused: the release itself does not need it
        from bot.logging_setup import describe

        print(f"mlgate: no GitHub deployment will be recorded: {describe(exc)}", file=sys.stderr)
        return None


def run_promote(args: argparse.Namespace) -> int:
    return _run_release(args, "promote")


def run_rollback(args: argparse.Namespace) -> int:
    return _run_release(args, "rollback")


def run_status(args: argparse.Namespace) -> int:
    store = _store(args.database_url)
    models = args.models or sorted({r["model"] for r in store.audit_records() if r["model"]})
    if not models:
        print("no models in the audit log yet; name one: mlgate status MODEL")
        return 0
    from bot.mlflow import RegistryError

    try:
        reg = _registry(args.tracking_uri)
    except RegistryError as exc:
        print(f"mlgate: the model registry cannot be opened: {exc}", file=sys.stderr)
        return 1
    code = 0
    for name in models:
        try:
            version = reg.alias_version(name, args.alias)
            unknown = _unknown_model(reg, name) if version is None and args.models else None
        except RegistryError as exc:
            print(f"{name}@{args.alias}: the registry failed: {exc}", file=sys.stderr)
            code = 1
            continue
        if unknown:
            print(f"mlgate status: {unknown}", file=sys.stderr)
            code = 2
            continue
        print(f"{name}@{args.alias}: version {version or 'none'}")
        history = store.releases(name, args.alias, limit=max(args.limit, 1))  # newest first
        audit_version = history[0].to_version if history else None
        if history and audit_version != version:
            print(f"  warning: the audit log says version {audit_version}; the alias was moved outside mlgate")
            code = 1
        for row in history[:args.limit]:
            where = f" PR {row.repo}#{row.pr}" if row.pr else ""
            print(f"  {_time(row.at)}  {row.action:<8} {row.from_version or '-'} -> {row.to_version}"
                  f"  by {row.actor}{where}")
    return code


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def audit_rows(store: Any, model: str | None) -> list[dict[str, Any]]:
    """The audit log as export rows (time added in UTC ISO 8601)."""
    rows = []
    for r in store.audit_records(model=model):
        row = {k: r.get(k) for k in AUDIT_FIELDS if k != "time"}
        row["time"] = datetime.fromtimestamp(r["at"], UTC).isoformat(timespec="seconds")
        rows.append(row)
    return rows


def run_audit(args: argparse.Namespace) -> int:
    import io

    from bot.report import write_atomic

    store = _store(args.database_url)
    rows = audit_rows(store, args.model)
    buf = io.StringIO(newline="")
    if args.format == "json":
        json.dump(rows, buf, indent=2)
        buf.write("\n")
    else:
        writer = csv.DictWriter(buf, fieldnames=AUDIT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    if not args.output:
        sys.stdout.write(buf.getvalue())
        return 0
    try:
        write_atomic(args.output, buf.getvalue())  # complete or not at all
    except OSError as exc:
        print(f"mlgate audit: cannot write {args.output}: {exc.strerror or exc}; give a file path in a "
              "directory you can write", file=sys.stderr)
        return 2
    print(f"mlgate audit: wrote {len(rows)} records to {args.output}", file=sys.stderr)
    return 0
