"""A stateful stand-in for GitHub, for tests and the demo: the one fake in the project.

`Sandbox` serves the REST endpoints mlgate uses on a loopback port, keeps their state in
memory, validates every request it receives against GitHub's own OpenAPI description (a
trimmed copy under tests/fixtures/openapi), and sends correctly signed webhooks when its
admin methods change state (open a PR, push, comment, review, complete a workflow run).
A request GitHub would reject is answered 422 and recorded; `assert_no_invalid_requests`
makes a test fail on it.
"""

from __future__ import annotations

import argparse
import time

from bot.sandbox.server import Sandbox, SandboxError

__all__ = ["Sandbox", "SandboxError", "configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--webhook-url", help="where to send webhooks (the App's /webhook)")
    parser.add_argument("--webhook-secret", default="sandbox-secret")


def run(args: argparse.Namespace) -> int:
    box = Sandbox(port=args.port)
    url = box.start()
    key = box.register_app(webhook_url=args.webhook_url, webhook_secret=args.webhook_secret)
    inst = box.create_installation("acme", ["acme/churn"])
    print(f"GitHub stand-in at {url} (app id {box.app_id}, installation {inst})")
    print("App private key (for MLGATE_PRIVATE_KEY):")
    print(key)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        box.stop()
    return 0
