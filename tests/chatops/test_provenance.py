"""Provenance before promotion: /promote and promotion on merge register only a candidate that the
registry shows the trusted evaluation logged for this repository, head commit, model and run.

The attacks measured on the old code: a PR's own workflow uploaded a report naming
`s3://attacker-bucket/evil-model` and a release owner's /promote made it production; a variant
named another model version as the candidate and /promote moved production to it. Real MLflow
registry, the shared GitHub stand-in, the real handlers (tests/chatops/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.chatops.conftest import BASE_CONFIG, MODEL, REPO, World, make_world

REFUSED = "🛑 `/promote` was refused:"


def _open(world: World) -> int:
    """A PR that changes model code only (no data change, so a passing evaluation needs no review)."""
    return int(world.open_pr(files={"train.py": "FEATURES = ['region', 'plan']\n"})["number"])


def _green(world: World, **evaluate: Any) -> int:
    """A PR whose (passing) evaluation made both gates green on its head."""
    n = _open(world)
    world.evaluate(n, kind="passing", **evaluate)
    head = world.head(n)
    assert world.check(head, "mlgate/evaluation")["conclusion"] == "success"
    assert world.check(head, "mlgate/review")["conclusion"] == "success"
    return n


def _refused(world: World, n: int, why: str) -> tuple[dict[str, Any], str]:
    versions = [v.version for v in world.registry.list_versions(MODEL)]
    c = world.comment(n, "/promote", user="wes")
    reply = world.reply(c["id"])
    assert reply.startswith(REFUSED) and why in reply, reply
    assert "Nothing was registered" in reply
    assert world.alias() == "1"  # production did not move
    assert [v.version for v in world.registry.list_versions(MODEL)] == versions  # nothing registered
    assert world.reactions(c["id"])[-1] == "confused"
    [row] = world.audit(action="promote")
    detail = json.loads(row["detail"])
    assert (row["result"], row["actor"], row["sha"], detail["provenance"]) == ("refused", "wes", world.head(n),
                                                                               "unverified")
    assert why in detail["reason"]
    return detail, reply


def test_a_report_naming_a_foreign_uri_is_refused_and_audited(world: World) -> None:
    n = _green(world, candidate="s3://attacker-bucket/evil-model")
    detail, reply = _refused(world, n, "the report names a bare s3: URI as the candidate, not a model that "
                                       "mlgate's trusted evaluation logged in this registry")
    assert detail["candidate_uri"] == "s3://attacker-bucket/evil-model"
    assert "attacker-bucket" not in reply  # the reply never repeats the report's text
    assert "To make it pass: comment /evaluate so that the trusted evaluation" in reply


def test_a_local_path_is_refused(world: World, tmp_path: Path) -> None:
    n = _green(world, candidate=str(tmp_path / "model"))
    _refused(world, n, "the report names a local path as the candidate")


def test_another_model_version_is_refused(world: World) -> None:
    # version 2 exists in the registry, registered by someone but never reviewed here
    v2 = world.registry.register(world.candidate(), MODEL)
    other = world.registry.register(world.candidate(), "fraud-detector")
    for uri in (f"models:/{MODEL}/{v2}", f"models:/fraud-detector/{other}"):
        n = _green(world, candidate=uri)
        c = world.comment(n, "/promote", user="wes")
        assert world.reply(c["id"]).startswith(REFUSED), world.reply(c["id"])
        assert "a registered model version as the candidate" in world.reply(c["id"])
    assert world.alias() == "1"
    assert [r["result"] for r in world.audit(action="promote")] == ["refused", "refused"]


def test_a_run_of_the_trusted_evaluation_of_another_repository_is_refused(world: World) -> None:
    n = _open(world)
    head = world.head(n)
    foreign = world.trusted_candidate(n, head, **{"mlgate.repository": "mallory/churn"})
    world.tag_candidate(foreign, {"mlgate.trusted_run_id": "1", "mlgate.triggering_run_id": "2"})
    world.evaluate(n, kind="passing", candidate=foreign)
    _refused(world, n, "the candidate was logged for another repository, not acme/churn")


def test_a_candidate_built_from_another_commit_is_refused(world: World) -> None:
    n = _open(world)
    old_head = world.head(n)
    stale = world.trusted_candidate(n, old_head)
    world.tag_candidate(stale, {"mlgate.trusted_run_id": "1", "mlgate.triggering_run_id": "2"})
    world.github.push_to_pull_request(REPO, n, {"train.py": "FEATURES = ['plan']\n"})
    world.deliver()
    world.evaluate(n, kind="passing", candidate=stale)  # a report for the new head naming the old candidate
    _refused(world, n, f"the candidate was built from another commit, not the head commit {world.head(n)[:7]}")


def test_a_candidate_logged_by_another_run_or_for_another_model_is_refused(world: World) -> None:
    n = _green(world, run_tags={"mlgate.trusted_run_id": "1"})
    _refused(world, n, "the candidate was not logged by the evaluation run that wrote this report")
    m = _open(world)
    other = world.trusted_candidate(m, world.head(m), **{"mlgate.model": "fraud-detector"})
    world.evaluate(m, kind="passing", candidate=other)
    c = world.comment(m, "/promote", user="wes")
    assert "the candidate was logged for another model, not churn-classifier" in world.reply(c["id"])
    assert world.alias() == "1"


def test_the_trusted_candidate_is_promoted(world: World) -> None:
    n = _green(world)
    c = world.comment(n, "/promote", user="wes")
    assert "promoted: version 1 → **version 2**" in world.reply(c["id"]), world.reply(c["id"])
    assert world.alias() == "2"
    info = world.registry.get_version(MODEL, "2")
    [report] = [e for e in [world.store.latest_evaluation(REPO, n, world.head(n))] if e]
    uri = report["report"]["models"][0]["candidate"]["uri"]
    assert info.tags["mlgate.source_uri"] == uri and uri.startswith("models:/m-")
    assert world.registry.candidate_provenance(uri)["mlgate.head_sha"] == world.head(n)


def test_a_dry_run_says_so_and_writes_no_audit_row(world: World) -> None:
    n = _green(world, candidate="s3://attacker-bucket/evil-model")
    c = world.comment(n, "/promote --dry-run", user="wes")
    assert "was refused: the report names a bare s3: URI" in world.reply(c["id"])
    assert world.audit(action="promote") == []


@pytest.fixture
def untrusted_mode(github: Any, tmp_path: Path, mlflow_template: Path) -> World:
    config = BASE_CONFIG + "evaluation:\n  trust: pull_request\n  workflow: .github/workflows/mlgate.yml\n"
    return make_world(github, tmp_path, mlflow_template, config)


def test_pull_request_mode_never_promotes_a_candidate_from_a_pr(untrusted_mode: World) -> None:
    world = untrusted_mode
    n = _open(world)
    # the PR's own workflow holds the registry credentials here: it can write every provenance tag
    forged = world.trusted_candidate(n, world.head(n), **{"mlgate.trusted_run_id": "1",
                                                          "mlgate.triggering_run_id": "1"})
    from bot.sandbox.server import make_artifact_zip
    from tests.chatops.conftest import FIXTURES

    report = json.loads((FIXTURES / "passing.json").read_text())
    report["run"].update({"pr": n, "head_sha": world.head(n)})
    report["environment"]["code_sha"] = world.head(n)
    report["provenance"] = {"trusted_run_id": 1, "triggering_run_id": 1, "head_sha": world.head(n),
                            "repository": REPO, "pr": n}
    report["models"][0]["candidate"] = {"uri": forged, "version": None}
    world.github.complete_workflow_run(REPO, n, artifact=make_artifact_zip(
        {"mlgate-report.json": json.dumps(report).encode()}))
    world.deliver()
    assert world.check(world.head(n), "mlgate/evaluation")["conclusion"] == "success"
    _, reply = _refused(world, n, "evaluates in the pull request's own workflow (`evaluation.trust: pull_request`)")
    assert "switch to the trusted evaluation (`evaluation.trust: workflow_run`" in reply


@pytest.fixture
def on_merge(github: Any, tmp_path: Path, mlflow_template: Path) -> World:
    return make_world(github, tmp_path, mlflow_template, BASE_CONFIG + "promote:\n  on_merge: true\n")


def test_promotion_on_merge_checks_provenance_too(on_merge: World) -> None:
    world = on_merge
    n = _green(world, candidate="s3://attacker-bucket/evil-model")
    world.github.merge(REPO, n, user="wes")
    world.deliver()
    assert world.alias() == "1"
    [row] = world.audit(action="promote")
    assert row["result"] == "refused" and json.loads(row["detail"])["via"] == "merge"
    [comment] = [c["body"] for c in world.github.comments(REPO, n) if "mlgate:merge-promotion" in c["body"]]
    assert comment.startswith("🛑 The promotion was refused: the report names a bare s3: URI")
