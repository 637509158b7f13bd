"""#14 item 2: a release reply's before/after table writes each metric in bot.numbers' format,
as the comment does: roc_auc 0.784 in both (the reply wrote 0.7842), rmse sized by its values."""

from __future__ import annotations

from bot import chatops
from bot.numbers import metric_format
from bot.promotion import MetricRow, Outcome, Release

HEAD = "0123456789abcdef0123456789abcdef01234567"


def _reply(*rows: MetricRow) -> str:
    release = Release("promote", "churn", "production", "wes", "d-1", "acme/churn", 7, HEAD)
    return chatops.render_outcome(Outcome("dry_run", release, from_version="1", rows=list(rows)), "/promote")


def test_the_reply_writes_each_metric_as_the_comment_does() -> None:
    text = _reply(MetricRow("roc_auc", 0.78421, 0.79023), MetricRow("rmse", 15234.7, 15012.25),
                  MetricRow("log_loss", 0.41234, None))
    assert "| `roc_auc` | 0.784 | 0.790 | +0.0060 |" in text
    assert "| `rmse` | 15,235 | 15,012 | -222 |" in text
    assert "| `log_loss` | 0.4123 | – | – |" in text
    fmt = metric_format("roc_auc", 0.78421)
    assert fmt.value(0.78421) == "0.784" and fmt.delta(0.79023 - 0.78421) == "+0.0060"
