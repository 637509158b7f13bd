"""Issue #11, attack 5 through the App: an undefined gating metric fails the evaluation with the
reason, always asks for a review, and an approval accepts it."""

from __future__ import annotations

import json

from bot.plan import EVALUATION, REVIEW
from tests.handlers.conftest import PASSING, REPO, Hub
from tests.handlers.test_workflow_run import _evaluated


def _undefined_report() -> bytes:
    report = json.loads(PASSING)
    for model in report["models"]:
        for m in model["metrics"]:
            if m["name"] in ("roc_auc", "f1"):  # what the engine reports on an all-negative holdout
                m.update(baseline=None, candidate=None, delta=None, ci_low=None, ci_high=None, se=None,
                         p_value=None)
    return json.dumps(report).encode()


def test_an_undefined_gating_metric_fails_until_a_reviewer_accepts_it(hub: Hub) -> None:
    hub.github.push(REPO, "main", {".github/mlgate.yml": hub.github.file(REPO, ".github/mlgate.yml").decode()
                                   .replace("required_when: [regression, data_change]", "required_when: []")})
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    hub.one()
    n, head = pr["number"], pr["head"]["sha"]
    _evaluated(hub, n, _undefined_report())
    hub.one()
    checks = hub.checks(head)
    assert checks[EVALUATION]["conclusion"] == "failure"
    assert checks[EVALUATION]["output"]["title"].startswith("Gate failed")
    assert "roc\\_auc is undefined" in checks[EVALUATION]["output"]["summary"]
    # required_when is empty, yet a person must look
    assert (checks[REVIEW]["status"], checks[REVIEW]["conclusion"]) == ("in_progress", None)
    assert "undefined on the holdout" in checks[REVIEW]["output"]["summary"]
    hub.github.add_team_member("acme", "ml-reviewers", "rita")
    hub.github.review(REPO, n, user="rita")
    hub.one()
    checks = hub.checks(head)
    assert checks[REVIEW]["conclusion"] == "success"
    assert checks[EVALUATION]["conclusion"] == "success"  # accepted on purpose, by a reviewer
