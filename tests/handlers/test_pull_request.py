"""pull_request opened/synchronize/reopened/ready_for_review through the stand-in."""

from __future__ import annotations

from bot.plan import (
    CONFIG_CHANGED_NOTE,
    EVALUATION,
    INVALID_CONFIG_TITLE,
    NO_CONFIG_TITLE,
    NO_ML_TITLE,
    PENDING_TITLE,
    REVIEW,
)
from bot.render import MARKER
from tests.handlers.conftest import REPO, Hub


def test_ml_pr_gets_a_queued_check_labels_and_one_pending_comment(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"data/train.csv": "a\n1\n", "train.py": "x = 1\n"})
    out = hub.one()
    n, head = pr["number"], pr["head"]["sha"]
    checks = hub.checks(head)
    assert set(checks) == {EVALUATION}
    assert checks[EVALUATION]["status"] == "queued" and checks[EVALUATION]["output"]["title"] == PENDING_TITLE
    assert hub.github.labels(REPO, n) == ["mlgate:data-change", "mlgate:model-change"]
    (comment,) = hub.comments(n)
    assert comment["body"].startswith(MARKER) and "evaluation pending" in comment["body"]
    assert comment["user"]["type"] == "Bot"
    # default branch, config, files, check, labels, comment listing + create (the first time only)
    assert len(out.calls) <= 7, out.calls
    assert hub.store.pr_head(REPO, n) == head


def test_synchronize_edits_the_same_comment_within_five_calls(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    hub.one()
    n = pr["number"]
    (first,) = hub.comments(n)
    hub.cold()  # a worker that has not seen the base config yet: the worst case
    new_head = hub.github.push_to_pull_request(REPO, n, {"data/train.csv": "a\n2\n"})
    out = hub.one()
    assert len(out.calls) <= 6, out.calls  # the default branch's head is read on every event
    assert [c["id"] for c in hub.comments(n)] == [first["id"]]
    assert hub.checks(new_head)[EVALUATION]["status"] == "queued"
    # the data change was new: one label added, the model label left alone
    assert hub.github.labels(REPO, n) == ["mlgate:model-change", "mlgate:data-change"]
    assert [c for c in out.calls if "/labels" in c[1]] == [("POST", f"/repos/{REPO}/issues/{n}/labels", 200)]

    # same kinds again, warm worker: no label call and no config read
    newer = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 3\n"})
    out = hub.one()
    assert [c[0] + " " + c[1].split("?")[0] for c in out.calls] == [
        f"GET /repos/{REPO}/branches/main", f"GET /repos/{REPO}/pulls/{n}/files", f"POST /repos/{REPO}/check-runs",
        f"PATCH /repos/{REPO}/issues/comments/{first['id']}"]
    assert hub.checks(newer)[EVALUATION]["status"] == "queued"


def test_redelivery_has_no_second_comment_or_check(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    hub.github.redeliver()
    hub.github.redeliver()
    hub.run()
    assert len(hub.comments(pr["number"])) == 1
    assert len(hub.github.check_runs(REPO, pr["head"]["sha"])) == 1


def test_non_ml_pr_gets_neutral_checks_and_nothing_else(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"README.md": "docs\n"})
    out = hub.one()
    checks = hub.checks(pr["head"]["sha"])
    assert set(checks) == {EVALUATION, REVIEW}
    assert {(c["status"], c["conclusion"], c["output"]["title"]) for c in checks.values()} == {
        ("completed", "neutral", NO_ML_TITLE)}
    assert hub.comments(pr["number"]) == [] and hub.github.labels(REPO, pr["number"]) == []
    assert len(out.calls) <= 5, out.calls


def test_missing_config_is_neutral_and_says_so(hub: Hub) -> None:
    hub.github.push(REPO, "main", {}, delete=(".github/mlgate.yml",))
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    checks = hub.checks(pr["head"]["sha"])
    assert {c["conclusion"] for c in checks.values()} == {"neutral"} and set(checks) == {EVALUATION, REVIEW}
    assert checks[EVALUATION]["output"]["title"] == NO_CONFIG_TITLE
    assert "no `.github/mlgate.yml`" in checks[EVALUATION]["output"]["summary"]


def test_invalid_base_config_fails_the_check_with_file_line_and_reason(hub: Hub) -> None:
    hub.github.push(REPO, "main", {".github/mlgate.yml": "version: 1\nmodels:\n  - name: m\n    task: ranking\n"})
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    check = hub.checks(pr["head"]["sha"])[EVALUATION]
    assert (check["conclusion"], check["output"]["title"]) == ("failure", INVALID_CONFIG_TITLE)
    assert ".github/mlgate.yml:4:" in check["output"]["summary"]
    assert "ranking" in check["output"]["summary"]


def test_a_pr_cannot_loosen_its_own_gate(hub: Hub) -> None:
    # the PR's own config would ignore everything; the base branch's policy still applies
    loose = "version: 1\npaths: {data: [], model: []}\nmodels:\n  - name: m\n    task: binary\n" \
            "    holdout: h.parquet\n    label: y\n"
    pr = hub.github.open_pull_request(REPO, {".github/mlgate.yml": loose, "data/a.csv": "a\n"})
    hub.one()
    assert hub.checks(pr["head"]["sha"])[EVALUATION]["status"] == "queued"
    (comment,) = hub.comments(pr["number"])
    assert CONFIG_CHANGED_NOTE.split(";")[0] in comment["body"]


def test_labels_follow_the_classification_and_leave_other_labels_alone(hub: Hub) -> None:
    from bot.github_client import GitHubClient

    pr = hub.github.open_pull_request(REPO, {"train.py": "x\n"})
    hub.one()
    n = pr["number"]
    # someone labels it a data change (and adds a label of their own); it is not one
    person = GitHubClient.from_token(hub.github.create_token(REPO), REPO, hub.github.base_url)
    person.add_labels(n, ["mlgate:data-change", "needs-docs"])
    hub.github.push_to_pull_request(REPO, n, {"src/model.py": "y\n"})
    out = hub.one()
    assert hub.github.labels(REPO, n) == ["mlgate:model-change", "needs-docs"]
    assert [c[:2] for c in out.calls if "/labels" in c[1]] == [
        ("DELETE", f"/repos/{REPO}/issues/{n}/labels/mlgate:data-change")]


def test_a_human_comment_quoting_the_marker_is_never_edited(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"}, author="mallory")
    hub.run()  # the bot's pending comment
    n = pr["number"]
    bot_comment = hub.comments(n)[0]
    hub.github.comment(REPO, n, f"{MARKER}\nI quote your marker", user="mallory")
    hub.run()
    hub.store.set_comment_id(REPO, n, 999_999)  # a remembered id that no longer exists
    hub.github.push_to_pull_request(REPO, n, {"data/a.csv": "b\n"})
    hub.one()
    bodies = {c["id"]: c["body"] for c in hub.comments(n)}
    assert len(bodies) == 2 and bodies[bot_comment["id"]].startswith(MARKER)
    assert "I quote your marker" in next(b for i, b in bodies.items() if i != bot_comment["id"])
    assert hub.store.comment_id(REPO, n) == bot_comment["id"]


def test_502_three_times_on_the_comment_then_success_posts_one_comment(hub: Hub) -> None:
    hub.github.inject_fault("POST", r"/issues/\d+/comments$", "502", times=3)
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    out = hub.one()
    assert out.attempts == 4  # three jobs gave the comment back to the queue; the fourth posted it
    (comment,) = hub.comments(pr["number"])
    assert comment["body"].startswith(MARKER)
    assert len(hub.github.check_runs(REPO, pr["head"]["sha"])) == 1  # the retried jobs edited it
    assert hub.github.count_calls("POST", "/comments") == 4


def test_reopened_and_ready_for_review_are_handled_like_a_push(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x\n"}, draft=True)
    hub.one()
    payload = {"action": "ready_for_review", "number": pr["number"], "pull_request": {**pr, "draft": False}}
    hub.github.send_webhook("pull_request", payload, REPO, "alice")
    hub.one()
    payload = {"action": "reopened", "number": pr["number"], "pull_request": {**pr, "draft": False}}
    hub.github.send_webhook("pull_request", payload, REPO, "alice")
    hub.one()
    assert len(hub.comments(pr["number"])) == 1
    # the draft's neutral checks were replaced once it was ready (skip_drafts), never duplicated
    checks = hub.checks(pr["head"]["sha"])
    assert checks[EVALUATION]["status"] == "queued" and checks[REVIEW]["status"] == "in_progress"
    assert len(hub.github.check_runs(REPO, pr["head"]["sha"])) == 4
