"""The App end to end in one process: webhook -> store -> job -> GitHub stand-in."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bot.plan import EVALUATION, NO_ML_TITLE, REVIEW
from bot.render import MARKER
from bot.sandbox.server import make_artifact_zip
from tests.app.conftest import CONFIG, FIXTURES, AppHarness

REPORT = (FIXTURES / "reports" / "failing.json").read_bytes()
PASSING = (FIXTURES / "reports" / "passing.json").read_bytes()


def _checks(github: Any, sha: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in github.check_runs("acme/churn", sha)}


def test_pr_story_comment_checks_labels_and_call_budgets(app_harness: AppHarness) -> None:
    gh = app_harness.github
    pr = gh.open_pull_request("acme/churn", {"data/train.parquet": b"x", "train.py": "print(1)\n"})
    assert app_harness.responses == [202]
    gh.reset_calls()
    assert app_harness.drain() == ["done"]
    n, head = pr["number"], pr["head"]["sha"]
    assert _checks(gh, head)[EVALUATION]["status"] == "queued"
    assert gh.labels("acme/churn", n) == ["mlgate:data-change", "mlgate:model-change"]
    (pending,) = gh.comments("acme/churn", n)
    assert pending["body"].startswith(MARKER) and "evaluation pending" in pending["body"]

    gh.reset_calls()
    gh.complete_trusted_evaluation("acme/churn", n, REPORT)  # the PR's build run, then the trusted evaluation
    app_harness.drain()
    calls = [c for c in gh.calls if "/access_tokens" not in c[1]]
    # the build run: the PR, the default branch, its artifact list; the evaluation: both runs, the
    # artifact (list, zip), the PR, the default branch, the PR's files, comment, check, label,
    # reviews, review check (bot.handlers.workflow_run's docstring)
    assert len(calls) <= 15, calls
    (comment,) = gh.comments("acme/churn", n)
    assert comment["id"] == pending["id"]
    assert "the gate failed" in comment["body"] and "region = APAC" in comment["body"]
    assert "https://mlgate.example.com/reports/" in comment["body"]
    checks = _checks(gh, head)
    assert (checks[EVALUATION]["status"], checks[EVALUATION]["conclusion"]) == ("completed", "failure")
    assert checks[EVALUATION]["output"]["title"].startswith("Gate failed")
    assert checks[REVIEW]["status"] == "in_progress"
    assert "mlgate:regression" in gh.labels("acme/churn", n)

    # a new push: the same comment goes back to pending, the new SHA gets its own check
    gh.reset_calls()
    new_head = gh.push_to_pull_request("acme/churn", n, {"data/train.parquet": b"y"})
    app_harness.drain()
    calls = [c for c in gh.calls if "/access_tokens" not in c[1]]
    assert len(calls) <= 5, calls
    (comment,) = gh.comments("acme/churn", n)
    assert "evaluation pending" in comment["body"]
    assert _checks(gh, new_head)[EVALUATION]["status"] == "queued"

    # the old head's report arrives late: ignored, nothing overwritten
    gh.complete_trusted_evaluation("acme/churn", n, REPORT, head_sha=head)
    app_harness.drain()
    assert "evaluation pending" in gh.comments("acme/churn", n)[0]["body"]


def test_redelivery_has_no_second_effect(app_harness: AppHarness) -> None:
    gh = app_harness.github
    pr = gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    app_harness.drain()
    gh.redeliver()
    assert app_harness.responses[-1] == 200 and app_harness.queued == []
    assert len(gh.comments("acme/churn", pr["number"])) == 1


def test_passing_report_passes_and_needs_no_review_without_data_change(app_harness: AppHarness) -> None:
    gh = app_harness.github
    pr = gh.open_pull_request("acme/churn", {"train.py": "x"})
    app_harness.drain()
    gh.complete_trusted_evaluation("acme/churn", pr["number"], PASSING)
    app_harness.drain()
    checks = _checks(gh, pr["head"]["sha"])
    assert checks[EVALUATION]["conclusion"] == "success"
    assert (checks[REVIEW]["status"], checks[REVIEW]["conclusion"]) == ("completed", "success")
    assert "mlgate:regression" not in gh.labels("acme/churn", pr["number"])


def test_non_ml_pr_gets_neutral_checks(app_harness: AppHarness) -> None:
    gh = app_harness.github
    pr = gh.open_pull_request("acme/churn", {"README.md": "docs"})
    app_harness.drain()
    checks = _checks(gh, pr["head"]["sha"])
    assert {c["conclusion"] for c in checks.values()} == {"neutral"} and set(checks) == {EVALUATION, REVIEW}
    assert checks[EVALUATION]["output"]["title"] == NO_ML_TITLE
    assert gh.comments("acme/churn", pr["number"]) == []


def test_invalid_base_config_fails_with_line(app_harness: AppHarness) -> None:
    gh = app_harness.github
    gh.push("acme/churn", "main", {".github/mlgate.yml": "version: 1\nmodels:\n  - name: m\n    task: ranking\n"})
    pr = gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    app_harness.drain()
    check = _checks(gh, pr["head"]["sha"])[EVALUATION]
    assert check["conclusion"] == "failure"
    assert ".github/mlgate.yml:4:" in check["output"]["summary"]


def test_pr_changing_the_config_gets_a_note_and_base_policy(app_harness: AppHarness) -> None:
    gh = app_harness.github
    pr = gh.open_pull_request("acme/churn", {".github/mlgate.yml": "version: 1\nmodels: []\n", "data/a.csv": "a"})
    app_harness.drain()
    (comment,) = gh.comments("acme/churn", pr["number"])
    assert "the policy on main applies, and the change takes effect once it is merged there" in comment["body"]


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mlgate-report.json", b"{" + b" " * 15_000_000 + b"}")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("artifact", "needle"),
    [
        (b"not a zip", "not a zip file"),
        (make_artifact_zip({"../../etc/passwd": b"x", "mlgate-report.json": REPORT}), "unsafe file name"),
        (make_artifact_zip({"mlgate-report.json": b'{"schema_version": 2}'}), "report is invalid"),
        (make_artifact_zip({"other.json": b"{}"}), "no mlgate-report.json"),
        (make_artifact_zip({f"f{i}": b"x" for i in range(20)}), "at most 10 are read"),
        (_zip_bomb(), "zip bomb"),
        (None, "uploaded no"),
    ],
)
def test_hostile_or_missing_artifacts_fail_the_check_with_the_reason(
    app_harness: AppHarness, artifact: bytes | None, needle: str
) -> None:
    gh = app_harness.github
    # the single-workflow mode: the PR's own run uploads the report, which is as hostile as it gets
    gh.push("acme/churn", "main", {".github/mlgate.yml": CONFIG + (
        "evaluation: {trust: pull_request, workflow: .github/workflows/mlgate.yml}\n")})
    pr = gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    app_harness.drain()
    gh.complete_workflow_run("acme/churn", pr["number"], artifact=artifact)
    app_harness.drain()
    check = _checks(gh, pr["head"]["sha"])[EVALUATION]
    assert check["conclusion"] == "failure"
    assert needle in check["output"]["summary"]
    assert app_harness.store.latest_evaluation("acme/churn", pr["number"]) is None


def _sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_status_codes(app_harness: AppHarness) -> None:
    c = app_harness.client
    secret = app_harness.settings.webhook_secret
    body = json.dumps({"zen": "hi", "hook_id": 1}).encode()
    base = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1", "Content-Type": "application/json"}
    assert c.post("/webhook", data=body, headers=base).status_code == 401
    assert c.post("/webhook", data=body, headers={**base, "X-Hub-Signature-256": "sha256=00"}).status_code == 401
    assert c.post("/webhook", data=body, headers={**base, "X-Hub-Signature-256": _sign(body, secret)}).status_code == 200
    bad = b'{"action": "opened"'
    assert c.post("/webhook", data=bad, headers={**base, "X-GitHub-Event": "pull_request",
                                                  "X-Hub-Signature-256": _sign(bad, secret)}).status_code == 400
    no_event = {k: v for k, v in base.items() if k != "X-GitHub-Event"}
    assert c.post("/webhook", data=body, headers={**no_event, "X-Hub-Signature-256": _sign(body, secret)}).status_code == 400
    assert c.post("/webhook", data=body, headers={**base, "Content-Type": "text/plain",
                                                   "X-Hub-Signature-256": _sign(body, secret)}).status_code == 400
    assert app_harness.store.recent_deliveries() == []  # nothing stored for any of these
    assert c.get("/healthz").status_code == 200
    assert b"mlgate_webhook_deliveries_total" in c.get("/metrics").data


def test_unknown_events_are_stored_and_ignored(app_harness: AppHarness) -> None:
    body = json.dumps({"action": "created", "repository": {"full_name": "acme/churn"}}).encode()
    headers = {"X-GitHub-Event": "star", "X-GitHub-Delivery": "d-star", "Content-Type": "application/json",
               "X-Hub-Signature-256": _sign(body, app_harness.settings.webhook_secret)}
    assert app_harness.client.post("/webhook", data=body, headers=headers).status_code == 202
    assert app_harness.drain() == ["ignored"]


def test_settings_fail_closed(github_app_key: str) -> None:
    from bot.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="MLGATE_WEBHOOK_SECRET"):
        Settings.from_env({"MLGATE_APP_ID": "1", "MLGATE_PRIVATE_KEY": github_app_key})
    with pytest.raises(SettingsError, match="MLGATE_PRIVATE_KEY or MLGATE_PRIVATE_KEY_PATH"):
        Settings.from_env({"MLGATE_APP_ID": "1", "MLGATE_WEBHOOK_SECRET": "s"})
    s = Settings.from_env({"MLGATE_APP_ID": "1", "MLGATE_WEBHOOK_SECRET": "s3cret", "MLGATE_PRIVATE_KEY": github_app_key})
    assert "s3cret" not in repr(s) and "BEGIN" not in repr(s)


def test_a_private_key_that_looks_like_pem_but_cannot_be_read_stops_the_start(github_app_key: str) -> None:
    from bot.settings import Settings, SettingsError

    garbled = github_app_key.replace(github_app_key.splitlines()[5], "not base64 at all!!")
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"MLGATE_APP_ID": "1", "MLGATE_WEBHOOK_SECRET": "s", "MLGATE_PRIVATE_KEY": garbled})
    assert "the App private key cannot be read" in str(err.value)
    assert "not base64" not in str(err.value) and github_app_key.splitlines()[6] not in str(err.value)


@pytest.mark.parametrize(("url", "says"), [
    ("redis://127.0.0.1:notaport/0", "MLGATE_QUEUE_URL=redis://127.0.0.1:notaport/0 cannot be used"),
    ("redis://127.0.0.1:6379/notadb", "cannot be used: give it as sqlite:///PATH or redis://"),
    ("amqp://broker/x", "MLGATE_QUEUE_URL must be sqlite:///PATH or redis://"),
    ("redis:/:SeCrEt99@127.0.0.1/0", "got (not a URL; value hidden)"),
])
def test_a_queue_url_that_cannot_work_stops_the_start_before_anything_is_created(
        github_app_key: str, tmp_path: Path, url: str, says: str) -> None:
    from bot.settings import Settings, SettingsError

    with pytest.raises(SettingsError) as err:
        Settings.from_env({"MLGATE_APP_ID": "1", "MLGATE_WEBHOOK_SECRET": "s", "MLGATE_PRIVATE_KEY": github_app_key,
                           "MLGATE_QUEUE_URL": url, "MLGATE_DATA_DIR": str(tmp_path)})
    assert says in str(err.value) and "SeCrEt99" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_path_of_fixture_reports_exists() -> None:
    assert Path(FIXTURES / "reports" / "failing.json").exists()
