"""`mlgate demo --app`: the PR's life through the real App, with the GitHub stand-in as GitHub.

It starts the stand-in, the App (the real Flask app and the real job code, in this
process), opens the PR, completes its evaluation workflow with the demo's report as the
artifact, and prints what the PR would show: the checks, the labels and the sticky comment.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.store import Store

REPO = "acme/churn"
REVIEWER = "carol"  # in @acme/ml-reviewers: her approval accepts a regression
RELEASE_OWNER = "bob"  # in @acme/ml-release: may run /promote and /rollback


class LocalApp:
    """The App in this process: the real Flask app behind its webhook door, its queue captured in
    a list, and the worker's job (`bot.worker.run_delivery`, through `bot.dispatch`) run on what
    it queued. The demo's App, and the tests' App harness."""

    def __init__(self, settings: Settings, store: Store) -> None:
        from bot.app import create_app
        from bot.queue import huey_for

        self.settings, self.store = settings, store
        store.migrate()  # a process migrates at start (idempotent, under the store's lock)
        self.queued: list[str] = []
        self.app = create_app(settings, store=store, queue=(huey_for(settings.queue_url), self.queued.append))
        self.client = self.app.test_client()

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        """The webhook sink: a signed delivery posted to the door; its HTTP status."""
        return int(self.client.post("/webhook", data=body, headers=headers).status_code)

    def work(self) -> list[str]:
        """Run the queued deliveries in order until none is left (a job may queue more); their outcomes."""
        from bot.worker import run_delivery

        outcomes = []
        while self.queued:
            outcomes.append(run_delivery(self.queued.pop(0), settings=self.settings, store=self.store))
        return outcomes


def play_pr_loop(report_path: Path, config_text: str, files: dict[str, str | bytes], *, quiet: bool = False,
                 serve_until: threading.Event | None = None, tracking_uri: str | None = None) -> dict[str, Any]:
    """Run the loop; returns what the PR shows (comment, checks, labels, API calls).

    With `serve_until`, it then serves the App and its dashboard over HTTP beside the stand-in,
    prints the URLs to open, and works the App's queue until the event is set or Ctrl-C.
    `tracking_uri` is the MLflow store the App reads (production's version, /promote); the main
    branch requires both mlgate checks, as docs/quickstart.md's branch protection step sets up.
    """
    from bot.demo_steps import step
    from bot.sandbox import Sandbox
    from bot.settings import Settings
    from bot.store import Store

    with ExitStack() as stack:
        with step("starting the GitHub stand-in and the App", quiet):
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="mlgate-app-demo-"))
            github = stack.enter_context(Sandbox())
            stack.enter_context(_quiet_requests())
            key = github.register_app(webhook_secret="demo-secret")
            github.create_installation("acme", [REPO])
            github.add_team_member("acme", "ml-reviewers", REVIEWER)
            github.add_team_member("acme", "ml-release", RELEASE_OWNER)
            settings = Settings(webhook_secret="demo-secret", app_id=int(github.app_id or 0), private_key=key,
                                github_api_url=github.base_url, database_url=f"sqlite:///{tmp}/mlgate.db",
                                queue_url=f"sqlite:///{tmp}/queue.db", tracking_uri=tracking_uri,
                                dashboard_token=secrets.token_urlsafe(16) if serve_until else None,
                                dashboard_plain_http=True)  # loopback only
            app = LocalApp(settings, Store(settings.database_url))
            github.set_webhook(sink=app.receive)
            work = app.work

        github.push(REPO, "main", {".github/mlgate.yml": config_text})
        github.require_checks(REPO, "main", ["mlgate/evaluation", "mlgate/review"])
        with step("opening the PR on the GitHub stand-in; the App gets a signed pull_request webhook", quiet):
            pr = github.open_pull_request(REPO, files, title="Retrain with contract length")
            work()
        with step("the PR's own workflow builds the candidate without secrets; then the default branch's "
                  "evaluation workflow, started by workflow_run, uploads mlgate-report (the App checks both runs)",
                  quiet):
            github.reset_calls()
            github.complete_trusted_evaluation(REPO, pr["number"], report_path.read_bytes())
            work()
        github.assert_no_invalid_requests()
        calls = [c for c in github.calls if "/access_tokens" not in c[1]]
        comment = github.comments(REPO, pr["number"])
        view = {
            "pr": pr["number"],
            "comments": [c["body"] for c in comment],
            "checks": {c["name"]: (c["status"], c["conclusion"], c["output"]["title"])
                       for c in github.check_runs(REPO, pr["head"]["sha"])},
            "labels": github.labels(REPO, pr["number"]),
            "calls": len(calls),
        }
        if serve_until is not None:
            if not quiet:
                print_pr(view)
            _serve(app.app, github.base_url, settings.dashboard_token or "", github.create_token(REPO, read_only=True),
                   pr, work, serve_until)
        return view


@contextmanager
def _quiet_requests() -> Iterator[None]:
    """werkzeug logs every request the stand-in answers; the demo prints what they amount to instead."""
    log = logging.getLogger("werkzeug")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def _serve(app: Any, github_url: str, token: str, read_token: str, pr: dict[str, Any], work: Any,
           stop: threading.Event) -> None:
    """Serve the App on a free loopback port; print where to look; work its queue until `stop` or Ctrl-C."""
    from werkzeug.serving import make_server

    from bot.render.text import environment

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="mlgate-demo-app", daemon=True)
    thread.start()
    print(environment().get_template("demo/serving.txt.j2").render(
        app=f"http://127.0.0.1:{server.server_port}", github=github_url, token=token, read_token=read_token,
        repo=REPO, pr=pr["number"], head=pr["head"]["sha"], reviewer=REVIEWER, release_owner=RELEASE_OWNER),
        end="", flush=True)
    try:
        while not stop.wait(0.5):
            work()  # deliveries from comments, reviews and merges made through the stand-in's admin API
    except KeyboardInterrupt:
        print("\nmlgate demo: stopped", flush=True)
    finally:
        server.shutdown()
        thread.join()


def print_pr(view: dict[str, Any]) -> None:
    rule = "-" * 72
    print(f"{rule}\nWhat PR #{view['pr']} shows on GitHub (the App, through the GitHub stand-in):\n{rule}")
    for name, (status, conclusion, title) in sorted(view["checks"].items()):
        print(f"check {name:<18} {conclusion or status:<11} {title}")
    print(f"labels: {', '.join(view['labels']) or '(none)'}")
    print(f"sticky comments: {len(view['comments'])} (GitHub API calls for the two workflow_run events: {view['calls']})")
    print(rule)
