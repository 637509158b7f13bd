"""Champion against challenger on logged traffic: the canary's verdict per metric and segment.

Shadow traffic (the challenger scored the same requests as the champion) is compared row by
row with the gate's paired statistics. A traffic split (each request answered by one of
them) is compared as two independent samples. Verdicts are the gate's (bot.gate.metric_verdict):
a challenger is `regressed` only when the whole interval lies below -max_drop (a `5%` max_drop
is 5% of the champion's live value, as the gate takes it of the baseline's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot.config import Config, ModelConfig
from bot.evaluation.paired import Groups, Stat
from bot.evaluation.segments import build_partitions
from bot.gate import metric_verdict
from bot.monitor import stats as S
from bot.monitor.checks import _spec_columns, labels_of, tolerance_for
from bot.monitor.logs import Window, join_labels, read_logs
from bot.monitor.run import VersionSource
from bot.monitor.templates import template

SHADOW_OVERLAP = 0.5  # share of the challenger's requests the champion also scored to call it shadow traffic


@dataclass(frozen=True)
class ComparisonRow:
    metric: str
    segment: str
    rows: int
    champion: float | None
    challenger: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str
    gates: bool


@dataclass
class LiveComparison:
    model: str
    champion: str
    challenger: str
    mode: str  # "shadow" (paired) | "split" (two-sample)
    window: str
    champion_rows: int
    challenger_rows: int
    rows: list[ComparisonRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def worse(self) -> bool:
        return any(r.gates and r.verdict == "regressed" for r in self.rows)

    @property
    def undecided(self) -> bool:
        overall = [r for r in self.rows if r.gates and r.segment == "all"]
        return bool(self.problems) or not overall or any(r.verdict in ("n/a", "inconclusive") for r in overall)


def _version(registry: VersionSource, model: str, ref: str) -> str | None:
    return ref if ref.isdigit() else registry.alias_version(model, ref)


def compare_live(config: Config, model: ModelConfig, *, root: Path, registry: VersionSource,
                 until: datetime | None = None, challenger: str | None = None) -> LiveComparison:
    """Compare the production version with the challenger on the window's labelled traffic."""
    cfg = config.monitor
    window = Window.ending(until or datetime.now(UTC), cfg.window_days)
    alias = challenger or cfg.challenger
    champ_v = _version(registry, model.name, model.baseline)
    chall_v = _version(registry, model.name, alias)
    out = LiveComparison(model.name, champ_v or "?", chall_v or "?", "split", window.label(), 0, 0)
    if champ_v is None or chall_v is None:
        missing = model.baseline if champ_v is None else alias
        out.problems.append(f"the alias {missing} of {model.name} does not exist; start a canary with "
                            "/promote --canary N% first")
        return out
    seg_cols = sorted({c for s in model.segments for c in _spec_columns(s)})
    frame = read_logs(root / cfg.logs, window, model=model.name, features=seg_cols, label=model.label)
    if cfg.labels:
        frame = join_labels(frame, root / cfg.labels, model.label)
    if model.label not in frame.columns:
        out.problems.append("the log has no label column, so live quality cannot be compared")
        return out
    frame = frame[frame[model.label].notna()]
    champ = frame[frame["version"].isin([champ_v, model.baseline])]
    chall = frame[frame["version"].isin([chall_v, alias])]
    out.champion_rows, out.challenger_rows = len(champ), len(chall)
    if min(len(champ), len(chall)) < cfg.min_rows:
        out.problems.append(f"too few labelled predictions to compare ({len(champ):,} champion, {len(chall):,} "
                            f"challenger; monitor.min_rows is {cfg.min_rows})")
        return out
    names = list(model.metrics) or model.gating_metrics
    shared = np.isin(chall["request_id"].to_numpy(), champ["request_id"].to_numpy())
    where = str(root / cfg.logs)
    if shared.mean() >= SHADOW_OVERLAP:
        out.mode = "shadow"
        both = champ.merge(chall[["request_id", "score"]], on="request_id", suffixes=("", "_challenger"))
        both = both.reset_index(drop=True)
        y = labels_of(both, model.task, model.label, where)
        for column, groups in _partitions(both, model):
            table = S.paired(model.task, y, both["score"].to_numpy(np.float64),
                             both["score_challenger"].to_numpy(np.float64), groups, names, model.confidence)
            for g in range(groups.count):
                for stat in table[g]:
                    out.rows.append(_row(model, cfg.min_rows, column, groups.keys[g], stat))
        return out
    champ = champ[~champ["request_id"].isin(chall["request_id"])]  # a request answered twice is not a split
    both = pd.concat([champ, chall], ignore_index=True)
    is_chall = np.arange(len(both)) >= len(champ)
    y = labels_of(both, model.task, model.label, where)
    score = both["score"].to_numpy(np.float64)
    for column, groups in _partitions(both, model):
        arms = []
        for mask in (~is_chall, is_chall):
            sub = Groups(groups.codes[mask], groups.count, groups.keys)
            arms.append(S.one_model(model.task, y[mask], score[mask], sub, names))
        sizes = np.bincount(groups.codes, minlength=groups.count)
        for g in range(groups.count):
            for m in names:
                stat = S.two_sample(m, arms[0][m][g], arms[1][m][g], int(sizes[g]), model.confidence)
                out.rows.append(_row(model, cfg.min_rows, column, groups.keys[g], stat))
    return out


def _partitions(frame: pd.DataFrame, model: ModelConfig) -> list[tuple[str, Groups]]:
    out = [("all", Groups(np.zeros(len(frame), dtype=np.int64), 1, ["all"]))]
    for part in build_partitions(frame.reset_index(drop=True), model.segments):
        out.append((part.column, Groups(part.codes, len(part.values), part.values)))
    return out


def _row(model: ModelConfig, min_rows: int, column: str, key: str, stat: Stat) -> ComparisonRow:
    policy = model.metrics.get(stat.name)
    informational = bool(policy and policy.informational)
    verdict = metric_verdict(stat.to_dict(), tolerance_for(model, column, stat.name, stat.baseline),
                             informational=informational)
    segment = "all" if column == "all" else f"{column}={key}"
    return ComparisonRow(stat.name, segment, stat.rows, stat.baseline, stat.candidate, stat.delta,
                         stat.ci_low, stat.ci_high, verdict, not informational and stat.rows >= min_rows)


def render_comparison(result: LiveComparison) -> str:
    """The comparison as Markdown (the CLI prints it; a PR comment could carry it)."""
    return template("compare.md.j2").render(
        c=result, overall=[r for r in result.rows if r.segment == "all"],
        segments=[r for r in result.rows if r.segment != "all"]).strip() + "\n"
