"""`mlgate demo --app`'s PR loop: the real App and jobs, the GitHub stand-in as GitHub."""

from __future__ import annotations

from pathlib import Path

from bot.demo_app import play_pr_loop

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


def test_pr_loop_shows_comment_checks_and_labels() -> None:
    view = play_pr_loop(FIXTURES / "failing.json", (FIXTURES / "mlgate.yml").read_text(),
                        {"data/train.parquet": b"x", "train.py": b"y"}, quiet=True)
    (comment,) = view["comments"]
    assert comment.startswith("<!-- mlgate:report -->") and "region = APAC" in comment
    status, conclusion, title = view["checks"]["mlgate/evaluation"]
    assert (status, conclusion) == ("completed", "failure") and title.startswith("Gate failed")
    assert "mlgate/review" in view["checks"]
    assert set(view["labels"]) == {"mlgate:data-change", "mlgate:model-change", "mlgate:regression"}
    assert view["calls"] <= 15  # both runs of the trusted pattern (bot.handlers.workflow_run's docstring)
