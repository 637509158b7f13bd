"""GitHub-native gates end to end (issue #16): real gunicorn and `mlgate worker` processes,
the stand-in as GitHub.

- `mlgate setup` (the App manifest flow): the local page is driven with requests (GitHub's
  confirmation is the stand-in's form), the code is exchanged, the credentials are written
  0600, and gunicorn plus a worker started from the written files serve a PR.
- A merge queue of two PRs, one red: the group's checks fail naming the red PR; the queue of
  two green PRs passes.
- A deployment to an environment mlgate protects: rejected before the review, approved after the
  review and /promote, both answers in the audit log.
- A draft (neutral) turned ready (evaluated), then moved to a release branch whose policy asks
  for a review of every change.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import requests

from bot.plan import EVALUATION, NO_ML_TITLE, REVIEW
from tests.chatops.conftest import make_world, mlflow_template  # noqa: F401
from tests.processes import app_processes, free_port, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REPO = "acme/churn"
BIN = Path(sys.executable).parent


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action, self.fields = "", {}  # type: tuple[str, dict[str, str]]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action") or ""
        if tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_setup_creates_the_app_and_the_processes_start_with_its_credentials(github: Any, tmp_path: Path) -> None:
    port, web_port = free_port(), free_port()
    out = tmp_path / "app"
    web = f"http://127.0.0.1:{web_port}"
    old_secret, old_app = github.webhook_secret, github.app_id
    setup = subprocess.Popen([str(BIN / "mlgate"), "setup", "--github-url", github.base_url, "--api-url",
                              github.base_url, "--webhook-url", f"{web}/webhook", "--out", str(out), "--port",
                              str(port), "--org", "acme"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for("the setup page", lambda: _up(f"http://127.0.0.1:{port}/"), timeout=60)
        form = _Form()
        form.feed(requests.get(f"http://127.0.0.1:{port}/", timeout=10).text)
        assert form.action.startswith(f"{github.base_url}/organizations/acme/settings/apps/new?state=")
        # a forged callback (wrong state) is refused and creates nothing
        forged = requests.get(f"http://127.0.0.1:{port}/callback", params={"code": "abc", "state": "x"}, timeout=10)
        assert forged.status_code == 400
        # the user confirms on GitHub; GitHub redirects back to the setup page's callback
        done = requests.post(form.action, data=form.fields, timeout=30)
        assert done.status_code == 200 and "was created" in done.text, done.text
        printed = setup.communicate(timeout=30)[0].decode()
    finally:
        if setup.poll() is None:
            stop(setup)
    assert setup.returncode == 0, printed
    assert github.app_id != old_app and github.webhook_secret != old_secret  # a new App
    for name in ("private-key.pem", "webhook-secret", "mlgate.env"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert github.webhook_secret not in printed and "PRIVATE KEY" not in printed
    assert "gunicorn 'bot.app:create_app()'" in printed and "mlgate worker" in printed
    written = dict(line.split("=", 1) for line in (out / "mlgate.env").read_text().splitlines())
    assert written["MLGATE_APP_ID"] == str(github.app_id)
    assert written["MLGATE_WEBHOOK_SECRET"] == github.webhook_secret
    assert github.webhook_url == f"{web}/webhook"  # the manifest's hook URL

    # the processes start from the written settings alone (plus where to keep their data)
    (tmp_path / "prom").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")}
    env.update(written, MLGATE_DATA_DIR=str(tmp_path), PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"),
               MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("web", "worker")]  # noqa: SIM115
    procs = [subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{web_port}", "bot.app:create_app()"],
                              cwd=ROOT, env=env, stdout=logs[0], stderr=subprocess.STDOUT),
             subprocess.Popen([str(BIN / "mlgate"), "worker", "--workers", "1"], cwd=ROOT, env=env, stdout=logs[1],
                              stderr=subprocess.STDOUT)]
    try:
        wait_for("gunicorn", lambda: _up(f"{web}/healthz"))
        github.push(REPO, "main", {".github/mlgate.yml": (FIXTURES / "reports" / "mlgate.yml").read_text()})
        pr = github.open_pull_request(REPO, {"README.md": "docs only\n"})  # signed with the new secret
        head = str(pr["head"]["sha"])

        def neutral() -> bool:
            runs = {r["name"]: r for r in github.check_runs(REPO, head)}
            return all(runs.get(n, {}).get("conclusion") == "neutral" for n in (EVALUATION, REVIEW))

        wait_for("the worker to set the checks with the new App's key", neutral, timeout=120)
        assert github.check_runs(REPO, head, EVALUATION)[-1]["output"]["title"] == NO_ML_TITLE
    finally:
        for p in procs:
            stop(p)
        for f in logs:
            f.close()


def _pr(github: Any, files: dict[str, str | bytes], report: str) -> tuple[int, str]:
    pr = github.open_pull_request(REPO, files)
    github.complete_trusted_evaluation(REPO, int(pr["number"]), (FIXTURES / "reports" / report).read_bytes())
    return int(pr["number"]), str(pr["head"]["sha"])


def _finished(github: Any, sha: str, names: tuple[str, ...] = (EVALUATION, REVIEW)) -> bool:
    runs = {r["name"]: r for r in sorted(github.check_runs(REPO, sha), key=lambda r: r["id"])}
    return all(runs.get(n, {}).get("status") == "completed" for n in names)


def test_merge_queues_through_the_processes(github: Any, tmp_path: Path) -> None:
    github.push(REPO, "main", {".github/mlgate.yml": (FIXTURES / "reports" / "mlgate.yml").read_text()})
    with app_processes(github, tmp_path, worker_threads=2):
        green, green_head = _pr(github, {"train.py": "x = 1\n"}, "passing.json")
        red, red_head = _pr(github, {"src/model.py": "y = 1\n"}, "failing.json")
        other, other_head = _pr(github, {"src/other.py": "z = 1\n"}, "passing.json")
        for sha in (green_head, red_head, other_head):  # the red PR's review waits for an approval
            wait_for(f"the evaluation of {sha[:7]}", lambda s=sha: _finished(github, s, (EVALUATION,)), timeout=180)
        wait_for("the green PRs' reviews", lambda: all(_finished(github, s) for s in (green_head, other_head)),
                 timeout=180)

        (bad,) = github.merge_queue(REPO, [green, red], batch=True)
        wait_for("the red group's checks", lambda: _finished(github, bad), timeout=180)
        evaluation = github.check_runs(REPO, bad, EVALUATION)[-1]
        assert evaluation["conclusion"] == "failure"
        assert f"#{red}: mlgate/evaluation is failure" in evaluation["output"]["summary"]

        (good,) = github.merge_queue(REPO, [green, other], batch=True)
        wait_for("the green group's checks", lambda: _finished(github, good), timeout=180)
        assert {n: github.check_runs(REPO, good, n)[-1]["conclusion"] for n in (EVALUATION, REVIEW)} == {
            EVALUATION: "success", REVIEW: "success"}


def test_a_protected_deployment_through_the_processes(github: Any, tmp_path: Path, mlflow_template: Path) -> None:  # noqa: F811
    """Rejected before the review, approved after the review and /promote, each answer audited; the
    worker answers through the run's callback, with the store and MLflow the in-process world shares."""
    world = make_world(github, tmp_path, mlflow_template)  # same store and MLflow files as the processes

    def answer(sha: str) -> dict[str, Any]:
        run = github.request_deployment(REPO, sha, environment="production")
        wait_for("mlgate's answer", lambda: github.protection_answer(REPO, run)["state"] != "waiting", timeout=180)
        return dict(github.protection_answer(REPO, run))

    with app_processes(github, tmp_path, worker_threads=2):
        pr = world.open_pr()
        n = int(pr["number"])
        head = world.head(n)
        world.evaluate(n, kind="failing")
        wait_for("the evaluation", lambda: (world.check(head, EVALUATION) or {}).get("conclusion") == "failure",
                 timeout=180)
        before = answer(head)
        assert before["state"] == "rejected" and f"#{n}: mlgate/review is not finished" in before["comment"]

        github.review(REPO, n, user="rita")
        wait_for("the approval", lambda: (world.check(head, REVIEW) or {}).get("conclusion") == "success",
                 timeout=180)
        github.comment(REPO, n, "/promote", user="wes")
        wait_for("the promotion", lambda: bool(world.audit(action="promote", result="success")), timeout=180)
        after = answer(head)
        assert after["state"] == "approved", after
    rows = world.audit(action="deployment_review")
    assert [(r["result"], r["sha"], r["pr"]) for r in rows] == [("rejected", head, n), ("approved", head, n)]
    assert rows[-1]["to_version"] == world.alias() == "2"


def test_a_draft_turned_ready_and_a_base_change_through_the_processes(github: Any, tmp_path: Path) -> None:
    config = (FIXTURES / "reports" / "mlgate.yml").read_text()
    github.push(REPO, "main", {".github/mlgate.yml": config + "release_branches: ['release/*']\n"})
    github.push(REPO, "release/2", {".github/mlgate.yml": config.replace(
        "required_when: [regression, data_change]", "required_when: [always]")})
    github.protect_branch(REPO, "release/2")

    def newest(sha: str, name: str) -> dict[str, Any]:
        runs = sorted(github.check_runs(REPO, sha, name), key=lambda r: r["id"])
        return runs[-1] if runs else {}

    with app_processes(github, tmp_path, worker_threads=2):
        draft = github.open_pull_request(REPO, {"train.py": "x = 1\n"}, draft=True)
        n, head = int(draft["number"]), str(draft["head"]["sha"])
        wait_for("the draft's neutral checks", lambda: newest(head, EVALUATION).get("conclusion") == "neutral",
                 timeout=180)
        assert newest(head, EVALUATION)["output"]["title"] == "Draft, not evaluated yet"
        github.ready_for_review(REPO, n)
        wait_for("the evaluation to be queued", lambda: newest(head, EVALUATION).get("status") == "queued",
                 timeout=180)
        github.complete_trusted_evaluation(REPO, n, (FIXTURES / "reports" / "passing.json").read_bytes())
        wait_for("both checks green", lambda: (newest(head, EVALUATION).get("conclusion"),
                                               newest(head, REVIEW).get("conclusion")) == ("success", "success"),
                 timeout=180)

        github.change_base(REPO, n, "release/2")  # its policy asks for a review of every change
        wait_for("the review to wait for an approval", lambda: newest(head, REVIEW).get("status") == "in_progress",
                 timeout=180)
        assert newest(head, REVIEW)["conclusion"] is None
