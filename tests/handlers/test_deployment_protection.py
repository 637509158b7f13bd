"""deployment_protection_rule (issue #16): mlgate as an environment's custom protection rule,
answering through the run's callback; through the stand-in and a real MLflow registry.

Before: the event had no handler, so a job targeting the protected environment waited until
GitHub timed it out, whatever mlgate knew."""

from __future__ import annotations

import json

from bot.handlers.deployment_protection import callback_run
from tests.chatops.conftest import REPO, World, mlflow_template, world  # noqa: F401


def _deploy(world: World, sha: str) -> dict[str, object]:  # noqa: F811
    run = world.github.request_deployment(REPO, sha, environment="production")
    world.deliver()
    return world.github.protection_answer(REPO, run)


def test_rejected_before_review_approved_after_review_and_promote(world: World) -> None:  # noqa: F811
    pr = world.open_pr()
    n = pr["number"]
    head = world.head(n)
    world.evaluate(n, kind="failing")

    before = _deploy(world, head)
    assert before["state"] == "rejected"
    assert f"#{n}: mlgate/evaluation is failure" in str(before["comment"])
    assert f"#{n}: mlgate/review is not finished" in str(before["comment"])

    world.github.review(REPO, n, user="rita")
    world.deliver()
    unpromoted = _deploy(world, head)
    assert unpromoted["state"] == "rejected" and "no model was promoted" in str(unpromoted["comment"])

    c = world.comment(n, "/promote", user="wes")
    assert "promoted" in world.reply(c["id"]) and world.alias() == "2"
    after = _deploy(world, head)
    assert after["state"] == "approved", after
    assert "churn-classifier version 2 was promoted from it by wes" in str(after["comment"])

    rows = world.audit(action="deployment_review")
    assert [r["result"] for r in rows] == ["rejected", "rejected", "approved"]
    assert rows[-1]["sha"] == head and rows[-1]["pr"] == n and rows[-1]["to_version"] == "2"
    assert json.loads(rows[-1]["detail"])["environment"] == "production"
    # mirrored on the model version like a promotion
    tags = world.registry.version_tags("churn-classifier", "2")
    mirrored = [json.loads(v) for k, v in tags.items() if k.startswith("mlgate.history.")]
    assert any(m["action"] == "deployment_review" and m["result"] == "approved" and m["audit_id"] == rows[-1]["id"]
               for m in mirrored), mirrored

    # a rollback means this commit's model is no longer what production serves
    c = world.comment(n, "/rollback", user="max")
    assert world.alias() == "1"
    assert _deploy(world, head)["state"] == "rejected"


def test_a_commit_mlgate_never_gated_is_rejected(world: World) -> None:  # noqa: F811
    sha = world.github.push(REPO, "main", {"README.md": "hi\n"})
    answer = _deploy(world, sha)
    assert answer["state"] == "rejected" and "not the head of a pull request" in str(answer["comment"])
    assert [r["result"] for r in world.audit(action="deployment_review")] == ["rejected"]


def test_the_callback_must_name_this_repositorys_run() -> None:
    url = "https://api.github.com/repos/acme/churn/actions/runs/77/deployment_protection_rule"
    assert callback_run(url, "acme/churn") == 77
    assert callback_run(url, "other/repo") is None
    assert callback_run("https://evil.example/x", "acme/churn") is None


def test_a_job_that_keeps_failing_rejects_with_the_reason(world: World) -> None:  # noqa: F811
    from bot.dispatch import report_failure as on_job_failed

    sha = world.github.push(REPO, "main", {"README.md": "hi\n"})
    run = world.github.request_deployment(REPO, sha)
    [event] = world.take()
    on_job_failed(world.context(event), RuntimeError("the store was down"))
    answer = world.github.protection_answer(REPO, run)
    assert answer["state"] == "rejected" and "mlgate could not decide: the store was down" in str(answer["comment"])
