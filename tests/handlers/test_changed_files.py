"""Issue #11: what a PR changes is the App's own view (its list of the PR's files), never the
report's; a list GitHub cut short counts as a data and a model change. Artifact rejection
reasons are shown inert."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

from bot.github_client import GitHubClient
from bot.plan import EVALUATION, LABEL_DATA, LABEL_MODEL, NO_ML_TITLE, REVIEW
from tests.handlers.conftest import PASSING, REPO, Hub
from tests.handlers.test_workflow_run import _evaluated, _single_workflow_mode

HOSTILE_NAME = '<img src=x onerror=alert(1)>[click](https://evil.example)'


def test_the_stand_in_lists_at_most_3000_files_and_counts_them_all(hub: Hub) -> None:
    files = {f"docs/page{i:04d}.md": "x\n" for i in range(3001)}
    pr = hub.github.open_pull_request(REPO, files)
    client = GitHubClient.from_token(hub.github.create_token(REPO), REPO, hub.github.base_url)
    assert len(client.changed_files(pr["number"])) == 3000
    assert client.pull(pr["number"]).changed_files == 3001


def test_a_model_change_behind_file_3000_is_not_no_ml_changes(hub: Hub) -> None:
    # 3,000 documentation pages list first; src/model.py is file 3,001, which GitHub does not list
    files: dict[str, str | bytes] = {f"docs/page{i:04d}.md": "x\n" for i in range(3000)}
    files["src/model.py"] = "x = 1\n"
    pr = hub.github.open_pull_request(REPO, files)
    hub.one()
    n, head = pr["number"], pr["head"]["sha"]
    check = hub.checks(head)[EVALUATION]
    assert check["output"]["title"] != NO_ML_TITLE and check["status"] == "queued"
    assert sorted(hub.github.labels(REPO, n)) == sorted([LABEL_DATA, LABEL_MODEL])
    (comment,) = hub.comments(n)
    assert "GitHub lists only 3,000 of this pull request's 3,001 changed files" in comment["body"]
    # the evaluation then asks for a reviewer, whatever the report says
    _evaluated(hub, n, PASSING)
    hub.one()
    review = hub.checks(head)[REVIEW]
    assert (review["status"], review["conclusion"]) == ("in_progress", None)
    assert "GitHub listed only part of the changed files" in review["output"]["summary"]


def test_a_report_that_says_no_data_changed_does_not_skip_the_data_review(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"data/train.csv": "a\n1\n"})
    hub.one()
    n, head = pr["number"], pr["head"]["sha"]
    assert LABEL_DATA in hub.github.labels(REPO, n)
    report = json.loads(PASSING)
    assert report["data"]["changes"] == []  # the report claims no data changed
    _evaluated(hub, n, PASSING)
    hub.one()
    checks = hub.checks(head)
    assert checks[EVALUATION]["conclusion"] == "success"
    assert (checks[REVIEW]["status"], checks[REVIEW]["conclusion"]) == ("in_progress", None)
    assert "the pull request changes data" in checks[REVIEW]["output"]["summary"]


def test_an_artifact_rejection_reason_is_inert_in_the_check_summary(hub: Hub) -> None:
    _single_workflow_mode(hub)  # the PR's own run uploads the artifact, so its rejection is on the PR
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    hub.one()
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        link = zipfile.ZipInfo(HOSTILE_NAME)
        link.external_attr = 0o120777 << 16  # a symbolic link: rejected, and its name quoted
        zf.writestr(link, "/etc/passwd")
    hub.github.complete_workflow_run(REPO, pr["number"], artifact=buf.getvalue())
    hub.one()
    check = hub.checks(pr["head"]["sha"])[EVALUATION]
    summary = check["output"]["summary"]
    assert check["conclusion"] == "failure" and "symbolic link" in summary, summary
    assert "<img" not in summary and "&lt;img" in summary
    assert "](https://evil" not in summary  # no live link
