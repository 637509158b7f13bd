"""A whole PR through the stand-in and a real MLflow registry: regression -> accepted -> /promote -> /rollback."""

from __future__ import annotations

import json

from tests.chatops.conftest import MODEL, REPO, World


def _releases() -> dict[tuple[str, str], float]:
    from prometheus_client import REGISTRY

    from bot.metrics import metrics

    metrics()
    return {(s.labels["action"], s.labels["result"]): s.value for m in REGISTRY.collect()
            if m.name == "mlgate_releases" for s in m.samples if s.name == "mlgate_releases_total"}


def test_regression_accepted_promoted_and_rolled_back(world: World) -> None:
    counted = _releases()
    pr = world.open_pr()
    n = pr["number"]
    head = world.head(n)
    world.evaluate(n, kind="failing")
    assert world.check(head, "mlgate/evaluation")["conclusion"] == "failure"
    waiting = world.check(head, "mlgate/review")
    assert (waiting["status"], waiting["output"]["title"]) == ("in_progress", "Approval required: 0 of 1 on the head commit")

    # promoting a regressed, unreviewed candidate is refused, with the way out
    c = world.comment(n, "/promote", user="wes")
    text = world.reply(c["id"])
    assert "was refused" in text and "`mlgate/evaluation` is failure" in text
    assert "`mlgate/review` is in progress" in text
    assert "a configured reviewer must approve this commit" in text
    assert world.reactions(c["id"]) == ["eyes", "confused"]
    assert world.alias() == "1"

    # the author's own approval does not count; a reviewer's does, and accepts the regression
    world.github.review(REPO, n, user="alice")
    world.deliver()
    still = world.check(head, "mlgate/review")  # the same wording as after the evaluation
    assert (still["status"], still["output"]["title"]) == ("in_progress", waiting["output"]["title"])
    assert "alice: the author's own approval does not count" in still["output"]["summary"]
    world.github.review(REPO, n, user="rita")
    world.deliver()
    review = world.check(head, "mlgate/review")
    assert review["conclusion"] == "success" and review["output"]["title"] == "Approved by rita"
    evaluation = world.check(head, "mlgate/evaluation")
    assert evaluation["conclusion"] == "success"
    assert evaluation["output"]["title"] == "Regression accepted by rita"
    accepted = world.audit(action="accept_regression")
    assert len(accepted) == 1 and accepted[0]["actor"] == "rita" and accepted[0]["sha"] == head

    # /promote: registers the candidate, tags it, moves the alias, records a deployment
    c = world.comment(n, "/promote", user="wes")
    text = world.reply(c["id"])
    assert "🚀 **churn-classifier@production** promoted: version 1 → **version 2**" in text
    assert "| version | 1 | 2 | |" in text and "| `roc_auc` | 0.784 | 0.778 | -0.0060 |" in text, text
    assert world.reactions(c["id"]) == ["eyes", "rocket"]
    assert world.alias() == "2"
    tags = world.registry.version_tags(MODEL, "2")
    assert tags["mlgate.promoted_by"] == "wes" and tags["mlgate.sha"] == head
    assert tags["mlgate.previous_version"] == "1" and tags["mlgate.pr"] == f"{REPO}#{n}"
    history = [json.loads(v) for k, v in sorted(tags.items()) if k.startswith("mlgate.history.")]
    [row] = world.audit(action="promote", result="success")
    assert history == [{**history[0], "audit_id": row["id"], "action": "promote", "from": "1", "to": "2",
                        "actor": "wes"}]
    [dep] = world.github.deployments(REPO)
    assert dep["environment"] == "model/churn-classifier@production" and dep["ref"] == head
    assert [s["state"] for s in dep["statuses"]] == ["success"]

    # the same head cannot be promoted twice
    c2 = world.comment(n, "/promote", user="ada")
    assert "already promoted by wes" in world.reply(c2["id"])
    assert len(world.audit(action="promote", result="success")) == 1

    # /rollback goes back to the previous production version from the audit log
    c = world.comment(n, "/rollback --dry-run", user="max")
    assert "would move from version 2 to version 1" in world.reply(c["id"])
    assert world.alias() == "2"
    c = world.comment(n, "/rollback", user="max")
    text = world.reply(c["id"])
    assert "rolled back: version 2 → **version 1**" in text
    assert world.alias() == "1"
    assert world.registry.version_tags(MODEL, "1")["mlgate.rolled_back_by"] == "max"
    assert [d["environment"] for d in world.github.deployments(REPO)] == ["model/churn-classifier@production"] * 2
    rows = world.audit(result="success")
    assert [(r["action"], r["from_version"], r["to_version"]) for r in rows] == [
        ("promote", "1", "2"), ("rollback", "2", "1")]

    # /metrics counted each outcome once
    after = _releases()
    assert {k: after[k] - counted.get(k, 0) for k in after if after[k] != counted.get(k, 0)} == {
        ("promote", "refused"): 1, ("promote", "done"): 1, ("promote", "already_done"): 1,
        ("rollback", "dry_run"): 1, ("rollback", "done"): 1}


def test_a_new_push_needs_a_new_approval(world: World) -> None:
    n = world.open_pr()["number"]
    world.evaluate(n, kind="failing")
    world.github.review(REPO, n, user="rita")
    world.deliver()
    assert world.check(world.head(n), "mlgate/review")["conclusion"] == "success"
    world.github.push_to_pull_request(REPO, n, {"data/train.csv": "a,b\n3,4\n"})
    world.deliver()
    head = world.head(n)
    world.evaluate(n, kind="failing")
    world.github.review(REPO, n, user="wes", state="COMMENTED")
    world.deliver()
    review = world.check(head, "mlgate/review")
    assert (review["status"], review["conclusion"]) == ("in_progress", None)
    assert "approved an older commit" in review["output"]["summary"]
    c = world.comment(n, "/promote", user="wes")
    assert "`mlgate/review` is in progress" in world.reply(c["id"])


def test_dismissed_approval_withdraws_the_acceptance(world: World) -> None:
    n = world.open_pr()["number"]
    head = world.head(n)
    world.evaluate(n, kind="failing")
    rid = world.github.review(REPO, n, user="rita")
    world.deliver()
    assert world.check(head, "mlgate/evaluation")["conclusion"] == "success"
    approved = world.check(head, "mlgate/review")
    assert approved["conclusion"] == "success"
    world.github.dismiss_review(REPO, n, rid)
    world.deliver()
    # GitHub never reopens a completed run: the waiting check is a new run, the newest of its
    # name, so branch protection no longer sees the green one
    waiting = world.check(head, "mlgate/review")
    assert waiting["id"] != approved["id"]
    assert (waiting["status"], waiting["conclusion"]) == ("in_progress", None)
    latest = world.github.check_runs(REPO, head)  # what GitHub reports for the commit
    assert max((c for c in latest if c["name"] == "mlgate/review"), key=lambda c: c["id"])["conclusion"] is None
    assert world.check(head, "mlgate/evaluation")["conclusion"] == "failure"
    # /promote reads the same state from the store
    c = world.comment(n, "/promote", user="wes")
    assert "`mlgate/review` is in progress" in world.reply(c["id"])
