"""A stateful stand-in for GitHub, for tests and the demo: the one fake in the project.

`Sandbox` serves the REST endpoints mlgate uses on a loopback port, keeps their state in
memory, validates every request it receives against GitHub's own OpenAPI description (a
trimmed copy under tests/fixtures/openapi), and sends correctly signed webhooks, built on
GitHub's real example payloads, when its admin methods change state (open a PR, push,
comment, review, complete a workflow run). A request GitHub would reject is answered 422
(an unknown endpoint 404) and recorded; `assert_no_invalid_requests` makes a test fail on it.
See docs/sandbox.md.
"""

from __future__ import annotations

import argparse
import sys
import threading

from bot.sandbox.openapi import ExtraMissing
from bot.sandbox.server import Sandbox
from bot.sandbox.state import Call, SandboxError, Sink, generate_private_key, make_artifact_zip

__all__ = ["Call", "ExtraMissing", "Sandbox", "SandboxError", "Sink", "configure", "generate_private_key",
           "make_artifact_zip", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `mlgate sandbox`."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--webhook-url", help="where to send webhooks (the App's /webhook)")
    parser.add_argument("--webhook-secret", default="sandbox-secret",
                        help="the App's webhook secret; deliveries are signed with it (default: %(default)s)")
    parser.add_argument("--app-id", type=int, default=4242, help="the registered App's id (default: %(default)s)")
    parser.add_argument("--private-key-path", help="the App's private key (PEM); default: a fresh one, printed")
    parser.add_argument("--repo", default="acme/churn", help="repository to install the App on")
    parser.add_argument("--no-validate", action="store_true", help="do not check requests against the OpenAPI description")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; drive it with the HTTP admin API under /_sandbox/."""
    from pathlib import Path

    box = Sandbox(port=args.port, validate=not args.no_validate, host=args.host)
    try:
        url = box.start()
    except ExtraMissing as exc:
        print(f"mlgate sandbox: {exc}", file=sys.stderr)
        return 2
    key = Path(args.private_key_path).read_text() if args.private_key_path else None
    pem = box.register_app(webhook_url=args.webhook_url, webhook_secret=args.webhook_secret,
                           app_id=args.app_id, private_key=key)
    inst = box.create_installation(args.repo.split("/")[0], [args.repo])
    print(f"GitHub stand-in at {url} (app id {box.app_id}, installation {inst}, repo {args.repo})")
    print(f"  MLGATE_GITHUB_API_URL={url} MLGATE_APP_ID={box.app_id} MLGATE_WEBHOOK_SECRET={args.webhook_secret}")
    print(f"  admin API: POST {url}/_sandbox/<method> (see docs/sandbox.md)")
    if key is None:
        print("App private key (for MLGATE_PRIVATE_KEY):")
        print(pem)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
    return 0
