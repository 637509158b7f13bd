"""#10: a release refusal is a reason code with its facts (bot.policy.Refusal), remembered as
such in the living comment's state, and worded only by templates/replies/_release_refusal.md.j2.

Before, bot.policy handed the handlers English text, which bot.plan escaped a second time for
the state block: a PR into an unlisted branch read "\\`loose\\` is neither ..." with visible
backslashes, and the state remembered words nothing could decide on."""

from __future__ import annotations

import json

import pytest

from bot import plan as p
from bot.policy import Refusal, Refused
from tests.handlers.conftest import REPO, Hub


def test_a_refusal_is_remembered_as_its_code_and_facts() -> None:
    why = Refusal(Refused.NOT_RELEASE_BRANCH, base="wes-`x`", default="main")
    state = p.PRState(head_sha="a" * 40, phase="pending", releases_refused=why)
    data = json.loads(state.to_json())
    assert data["releases_refused"] == {"code": "not_release_branch", "base": "wes-`x`", "default": "main",
                                        "cause": "", "config_path": ".github/mlgate.yml"}
    back = p.PRState.from_json(state.to_json())
    assert back == state and back is not None and back.releases_refused is not None
    assert back.releases_refused.code is Refused.NOT_RELEASE_BRANCH


@pytest.mark.parametrize("remembered", ["release/1.x is not protected", {"code": "gone", "base": "", "default": "",
                                                                        "cause": "", "config_path": ""}])
def test_a_refusal_remembered_as_words_or_an_unknown_code_is_a_state_this_mlgate_cannot_read(
        remembered: object) -> None:
    data = json.loads(p.PRState(head_sha="a" * 40, phase="pending").to_json())
    data["releases_refused"] = remembered
    assert p.PRState.from_json(json.dumps(data)) is None  # planned afresh, never shown as it was


def test_the_state_block_words_the_code_once_with_its_facts_in_code_spans(hub: Hub) -> None:
    loose = "version: 1\npaths: {data: [], model: []}\nmodels:\n  - name: m\n    task: binary\n" \
            "    holdout: h.parquet\n    label: y\n"
    hub.github.push(REPO, "loose", {".github/mlgate.yml": loose})
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"}, base="loose")
    hub.one()
    (comment,) = hub.comments(pr["number"])
    assert ("/promote and /rollback are not available for this pull request: `loose` is neither the default "
            "branch `main` nor a release branch listed in `release_branches`") in comment["body"]
    assert "\\`" not in comment["body"]
    row = hub.store.pr_state(REPO, pr["number"])
    assert row is not None
    assert json.loads(row[0])["releases_refused"]["code"] == "not_release_branch"
