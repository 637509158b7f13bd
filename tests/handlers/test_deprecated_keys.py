"""#10: keys that load but do nothing since intervals became analytic (`segment_policy.fdr`,
`resamples`) were accepted silently by the App. Its comment now notes each one the applied
policy sets, naming the key, as `mlgate evaluate` and the Action (an annotation) do."""

from __future__ import annotations

from tests.handlers.conftest import CONFIG, PASSING, REPO, Hub
from tests.handlers.test_workflow_run import _evaluated, _open


def _body(hub: Hub, config: str) -> str:
    hub.github.push(REPO, "main", {".github/mlgate.yml": config})
    n, _ = _open(hub)
    _evaluated(hub, n, PASSING)
    hub.one()
    (comment,) = hub.comments(n)
    return str(comment["body"])


def test_the_comment_notes_each_deprecated_key_the_policy_sets(hub: Hub) -> None:
    assert "resamples: " in CONFIG and "fdr: " in CONFIG  # the fixture policy sets both
    body = _body(hub, CONFIG)
    assert ("> **Note:** .github/mlgate.yml: models\\[0\\].segment\\_policy.fdr (churn-classifier) is deprecated "
            "and has no effect since intervals became analytic") in body.replace("\\(", "(").replace("\\)", ")")
    assert ("> **Note:** .github/mlgate.yml: models\\[0\\].resamples (churn-classifier) is deprecated and has no "
            "effect since intervals became analytic; remove the key") in body.replace("\\(", "(").replace("\\)", ")")


def test_a_policy_without_them_gets_no_such_note(hub: Hub) -> None:
    lines = [line for line in CONFIG.splitlines() if "resamples:" not in line]
    config = "\n".join(lines).replace(", fdr: 0.05", "").replace("fdr: 0.05, ", "") + "\n"
    assert "fdr" not in config and "resamples" not in config, config
    assert "is deprecated" not in _body(hub, config)
