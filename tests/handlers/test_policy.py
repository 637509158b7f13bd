"""Issue #11: one root of trust for the policy, and fail closed when GitHub does not answer cleanly.

Through the GitHub stand-in (real SQLite store, and real MLflow for the release commands).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.plan import EVALUATION, NO_CONFIG_TITLE, REVIEW, UNDECIDED_TITLE
from tests.chatops.conftest import BASE_CONFIG, MODEL, World, make_world, mlflow_template  # noqa: F401
from tests.handlers.conftest import CONFIG, REPO, Hub

RELEASE_TEAM = "commands:\n  promote: ['@acme/ml-release']\n  rollback: ['@acme/ml-release']\n"
MAIN = BASE_CONFIG + RELEASE_TEAM + "release_branches: ['release/*']\n"
# what a writer outside the release team puts on a branch they created
SELF_LISTED = BASE_CONFIG + "commands:\n  promote: [wes]\n  rollback: [wes]\n"


@pytest.fixture
def world(github: Any, tmp_path: Path, mlflow_template: Path) -> Iterator[World]:  # noqa: F811
    w = make_world(github, tmp_path, mlflow_template, config=MAIN)
    v2 = w.registry.register(w.candidate(), MODEL)
    w.production(v2)  # production is version 2; version 1 is what a rollback would restore
    yield w


def _pr_into(world: World, base: str, author: str = "wes") -> int:
    pr = world.github.open_pull_request(REPO, {"src/model.py": "x = 1\n"}, author=author, base=base)
    world.deliver()
    return int(pr["number"])


# ---------------------------------------------------------------- attack 1: the base branch is the author's


def test_a_writer_cannot_roll_back_production_through_a_branch_they_created(world: World) -> None:
    world.github.push(REPO, "wes-policy", {".github/mlgate.yml": SELF_LISTED}, author="wes")
    n = _pr_into(world, "wes-policy")
    c = world.comment(n, "/rollback --to 1", user="wes")
    assert world.alias() == "2"  # production did not move
    reply = world.reply(c["id"])
    assert "was not run" in reply and "commands.rollback" in reply
    assert world.audit(action="rollback", result="success") == []


def test_release_commands_are_refused_on_a_pr_into_an_unlisted_branch_with_the_reason(world: World) -> None:
    world.github.push(REPO, "feature", {"README.md": "x\n"})
    n = _pr_into(world, "feature")
    c = world.comment(n, "/rollback --to 1", user="rel")  # on the release team: allowed, but not here
    assert world.alias() == "2"
    reply = world.reply(c["id"])
    assert "`feature` is neither the default branch `main` nor a release branch" in reply
    assert "release_branches" in reply


def test_a_protected_release_branch_uses_its_own_config(world: World) -> None:
    # the release branch names its own release owner; protected, so its config counts
    own = BASE_CONFIG + "commands:\n  rollback: [max]\n"
    world.github.push(REPO, "release/1.x", {".github/mlgate.yml": own})
    world.github.protect_branch(REPO, "release/1.x")
    n = _pr_into(world, "release/1.x")
    c = world.comment(n, "/rollback --to 1 --dry-run", user="max")
    assert "was not run" not in world.reply(c["id"])
    denied = world.comment(n, "/rollback --to 1 --dry-run", user="rel")  # main's list does not apply there
    assert "commands.rollback" in world.reply(denied["id"])


def test_an_unprotected_release_branch_gets_the_default_policy_and_no_releases(world: World) -> None:
    world.github.push(REPO, "release/2.x", {".github/mlgate.yml": SELF_LISTED}, author="wes")
    n = _pr_into(world, "release/2.x")
    c = world.comment(n, "/rollback --to 1", user="wes")
    assert world.alias() == "2"
    assert "commands.rollback" in world.reply(c["id"])  # judged by main's list, which does not name wes
    r = world.comment(n, "/rollback --to 1", user="rel")
    assert world.alias() == "2"
    assert "`release/2.x` is not protected" in world.reply(r["id"])


# ---------------------------------------------------------------- the gate of a PR into another branch


def test_a_pr_into_a_branch_with_a_loose_config_is_gated_by_the_default_branch(hub: Hub) -> None:
    loose = "version: 1\npaths: {data: [], model: []}\nmodels:\n  - name: m\n    task: binary\n" \
            "    holdout: h.parquet\n    label: y\n"
    hub.github.push(REPO, "loose", {".github/mlgate.yml": loose})
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"}, base="loose")
    hub.one()
    checks = hub.checks(pr["head"]["sha"])
    assert checks[EVALUATION]["status"] == "queued"  # main's paths: a data change, not "no ML changes"
    (comment,) = hub.comments(pr["number"])
    assert "/promote and /rollback are not available" in comment["body"]


def test_a_pr_that_edits_the_config_is_told_its_change_applies_after_merge(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {".github/mlgate.yml": CONFIG + "# tweak\n", "train.py": "x\n"})
    hub.one()
    (comment,) = hub.comments(pr["number"])
    assert "changes .github/mlgate.yml" in comment["body"] and "once it is merged there" in comment["body"]


# ---------------------------------------------------------------- attack 3: fail closed


def _undecided(hub: Hub, sha: str, names: tuple[str, ...] = (EVALUATION, REVIEW)) -> dict[str, Any]:
    checks = hub.checks(sha)
    for name in names:
        assert (checks[name]["status"], checks[name]["conclusion"]) == ("completed", "failure"), checks[name]
        assert checks[name]["output"]["title"] == UNDECIDED_TITLE
    summary = str(checks[names[0]]["output"]["summary"])
    assert "re-run this check" in summary
    return checks


def test_a_404_for_the_repository_is_not_a_missing_config(hub: Hub) -> None:
    # the installation lost access (or GitHub hiccups): every read of the repository answers 404
    hub.github.inject_fault("GET", r"^/repos/acme/churn/(branches|contents)/", "404", times=50)
    pr = hub.github.open_pull_request(REPO, {"src/model.py": "x\n"})
    hub.run()
    checks = _undecided(hub, pr["head"]["sha"])
    assert "404" in checks[EVALUATION]["output"]["summary"]
    assert NO_CONFIG_TITLE not in {c["output"]["title"] for c in checks.values()}


def test_a_5xx_reading_the_config_says_mlgate_could_not_decide(hub: Hub) -> None:
    hub.cold()
    hub.github.inject_fault("GET", r"^/repos/acme/churn/contents/", "502", times=500)
    pr = hub.github.open_pull_request(REPO, {"src/model.py": "x\n"})
    out = hub.run()
    assert out[-1].error is not None  # transient: the queue keeps retrying
    checks = _undecided(hub, pr["head"]["sha"])
    assert "502" in checks[EVALUATION]["output"]["summary"]
    assert "retries by itself" in checks[EVALUATION]["output"]["summary"]


def test_a_5xx_listing_the_files_says_mlgate_could_not_decide(hub: Hub) -> None:
    hub.github.inject_fault("GET", r"/pulls/\d+/files", "503", times=500)
    pr = hub.github.open_pull_request(REPO, {"src/model.py": "x\n"})
    hub.run()
    checks = _undecided(hub, pr["head"]["sha"])
    assert "listing the files" in checks[EVALUATION]["output"]["summary"]


def test_a_missing_config_on_the_default_branch_is_the_one_neutral_case(hub: Hub) -> None:
    hub.github.push(REPO, "main", {}, delete=(".github/mlgate.yml",))
    hub.github.push(REPO, "other", {".github/mlgate.yml": CONFIG})  # another branch's copy does not count
    pr = hub.github.open_pull_request(REPO, {"src/model.py": "x\n"}, base="other")
    hub.one()
    checks = hub.checks(pr["head"]["sha"])
    assert {(c["conclusion"], c["output"]["title"]) for c in checks.values()} == {("neutral", NO_CONFIG_TITLE)}


def test_a_5xx_reading_the_reviews_leaves_the_review_check_undecided(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"src/model.py": "x\n"})
    hub.one()
    n, head = pr["number"], pr["head"]["sha"]
    hub.github.set_permission(REPO, "rita", "write")
    hub.github.inject_fault("GET", r"/pulls/\d+/reviews", "500", times=500)
    hub.github.review(REPO, n, user="rita")
    hub.run()
    _undecided(hub, head, (REVIEW,))


def test_promotion_on_merge_only_for_prs_into_a_branch_that_releases(github: Any, tmp_path: Path,
                                                                      mlflow_template: Path) -> None:  # noqa: F811
    world = make_world(github, tmp_path, mlflow_template, config=MAIN + "promote:\n  on_merge: true\n")
    world.github.push(REPO, "feature", {"README.md": "x\n"})  # branched from main: the same config, on_merge too
    numbers = []
    for base in ("feature", "main"):
        pr = world.github.open_pull_request(REPO, {"train.py": f"BASE = {base!r}\n"}, base=base, author="alice")
        world.deliver()
        n = int(pr["number"])
        world.evaluate(n, kind="passing")
        assert world.check(world.head(n), "mlgate/review")["conclusion"] == "success"
        numbers.append(n)
    world.github.merge(REPO, numbers[0], user="rel")
    world.deliver()
    assert world.alias() == "1" and world.audit(action="promote") == []  # into `feature`: nothing released
    world.github.merge(REPO, numbers[1], user="rel")
    world.deliver()
    assert world.alias() == "2"  # the same flow into the default branch promotes
