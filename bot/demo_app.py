"""`mlgate demo --app`: the PR's life through the real App, with the GitHub stand-in as GitHub.

It starts the stand-in, the App (the real Flask app and the real job code, in this
process), opens the PR, completes its evaluation workflow with the demo's report as the
artifact, and prints what the PR would show: the checks, the labels and the sticky comment.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

REPO = "acme/churn"


def play_pr_loop(report_path: Path, config_text: str, files: dict[str, str | bytes], *, quiet: bool = False) -> dict[str, Any]:
    """Run the loop; returns what the PR shows (comment, checks, labels, API calls)."""
    from bot.app import create_app
    from bot.queue import huey_for
    from bot.sandbox import Sandbox
    from bot.settings import Settings
    from bot.store import Store
    from bot.worker import run_delivery

    def say(msg: str) -> None:
        if not quiet:
            print(f"==> {msg}", flush=True)

    with tempfile.TemporaryDirectory(prefix="mlgate-app-demo-") as tmp, Sandbox() as github:
        key = github.register_app(webhook_secret="demo-secret")
        github.create_installation("acme", [REPO])
        settings = Settings(webhook_secret="demo-secret", app_id=int(github.app_id or 0), private_key=key,
                            github_api_url=github.base_url, database_url=f"sqlite:///{tmp}/mlgate.db",
                            queue_url=f"sqlite:///{tmp}/queue.db")
        store = Store(settings.database_url)
        queued: list[str] = []
        app = create_app(settings, store=store, queue=(huey_for(settings.queue_url), queued.append))
        client = app.test_client()
        github.set_webhook(sink=lambda headers, body: client.post("/webhook", data=body, headers=headers).status_code)

        def work() -> None:
            while queued:
                run_delivery(queued.pop(0), settings=settings, store=store)

        github.push(REPO, "main", {".github/mlgate.yml": config_text})
        say("opening the PR on the GitHub stand-in; the App gets a signed pull_request webhook")
        pr = github.open_pull_request(REPO, files, title="Retrain with contract length")
        work()
        say("the PR's own workflow builds the candidate without secrets; then the default branch's "
            "evaluation workflow, started by workflow_run, uploads mlgate-report (the App checks both runs)")
        github.reset_calls()
        github.complete_trusted_evaluation(REPO, pr["number"], report_path.read_bytes())
        work()
        github.assert_no_invalid_requests()
        calls = [c for c in github.calls if "/access_tokens" not in c[1]]
        comment = github.comments(REPO, pr["number"])
        return {
            "pr": pr["number"],
            "comments": [c["body"] for c in comment],
            "checks": {c["name"]: (c["status"], c["conclusion"], c["output"]["title"])
                       for c in github.check_runs(REPO, pr["head"]["sha"])},
            "labels": github.labels(REPO, pr["number"]),
            "calls": len(calls),
        }


def print_pr(view: dict[str, Any]) -> None:
    rule = "-" * 72
    print(f"{rule}\nWhat PR #{view['pr']} shows on GitHub (the App, through the GitHub stand-in):\n{rule}")
    for name, (status, conclusion, title) in sorted(view["checks"].items()):
        print(f"check {name:<18} {conclusion or status:<11} {title}")
    print(f"labels: {', '.join(view['labels']) or '(none)'}")
    print(f"sticky comments: {len(view['comments'])} (GitHub API calls for the two workflow_run events: {view['calls']})")
    print(rule)
