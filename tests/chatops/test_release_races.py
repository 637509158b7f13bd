"""Issue #11, second pass: /promote and /rollback against a state that changed between events.

Real MLflow registry, the shared GitHub stand-in, the real handlers (tests/chatops/conftest.py).
These attacks were already blocked when they were tried; the tests keep them blocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chatops.conftest import BASE_CONFIG, MODEL, REPO, World, make_world

OWN = BASE_CONFIG + "commands:\n  rollback: [max]\n"  # a release branch naming its own release owner


@pytest.fixture
def release_world(github: Any, tmp_path: Path, mlflow_template: Path) -> Iterator[World]:
    w = make_world(github, tmp_path, mlflow_template,
                   config=BASE_CONFIG + "commands:\n  rollback: ['@acme/ml-release']\nrelease_branches: ['release/*']\n")
    w.production(w.registry.register(w.candidate(), MODEL))  # production is version 2
    yield w


def test_a_release_branch_unprotected_after_it_was_trusted_is_trusted_no_more(release_world: World) -> None:
    w = release_world
    w.github.push(REPO, "release/1.x", {".github/mlgate.yml": OWN})
    w.github.protect_branch(REPO, "release/1.x")
    pr = w.github.open_pull_request(REPO, {"src/model.py": "x = 1\n"}, author="wes", base="release/1.x")
    w.deliver()
    n = int(pr["number"])
    ok = w.comment(n, "/rollback --to 1 --dry-run", user="max")
    assert "was not run" not in w.reply(ok["id"])
    w.github.protect_branch(REPO, "release/1.x", protected=False)  # between two comments
    c = w.comment(n, "/rollback --to 1", user="max")
    assert w.alias() == "2"
    reply = w.reply(c["id"])
    assert "commands.rollback" in reply or "is not protected" in reply, reply
    assert w.audit(action="rollback", result="success") == []


def test_a_push_after_the_evaluation_leaves_nothing_to_promote(world: World) -> None:
    n = int(world.open_pr(files={"train.py": "FEATURES = ['region', 'plan']\n"})["number"])
    world.evaluate(n, kind="passing")
    old = world.head(n)
    assert world.check(old, "mlgate/evaluation")["conclusion"] == "success"
    world.github.push_to_pull_request(REPO, n, {"train.py": "FEATURES = ['plan']\n"})
    world.deliver()
    c = world.comment(n, "/promote", user="wes")  # the old head's green checks do not count for the new head
    assert "was refused" in world.reply(c["id"])
    assert world.alias() == "1"
    assert [v.version for v in world.registry.list_versions(MODEL)] == ["1"]


# ---------------------------------------------------------------- one registry, many repositories


def test_another_repository_may_not_move_a_model_bound_to_this_one(world: World) -> None:
    # one App installation on several repositories of an organisation, one registry: whoever controls
    # another repository's config could list themself in commands.promote/rollback and move this
    # model's production alias (old code: promoted). The model's registry tag says who releases it.
    n = int(world.open_pr(files={"train.py": "FEATURES = ['region', 'plan']\n"})["number"])
    world.evaluate(n, kind="passing")
    world.registry.client.set_registered_model_tag(MODEL, "mlgate.repository", "acme/other")
    c = world.comment(n, "/promote", user="wes")
    reply = world.reply(c["id"])
    assert "was refused" in reply and "released from another repository" in reply, reply
    r = world.comment(n, "/rollback --to 1", user="max")
    assert "released from another repository" in world.reply(r["id"])
    assert world.alias() == "1"
    assert [v.version for v in world.registry.list_versions(MODEL)] == ["1"]
    assert {row["result"] for row in world.audit(action="promote")} == {"refused"}


def test_the_first_promotion_of_a_prs_candidate_binds_the_model_to_its_repository(world: World) -> None:
    assert world.registry.model_repository(MODEL) is None
    n = int(world.open_pr(files={"train.py": "FEATURES = ['region', 'plan']\n"})["number"])
    world.evaluate(n, kind="passing")
    c = world.comment(n, "/promote", user="wes")
    assert "promoted" in world.reply(c["id"])
    assert world.registry.model_repository(MODEL) == REPO
