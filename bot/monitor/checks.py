"""One monitor run for one model: input and prediction drift, and live quality.

Drift uses bot/drift.py's statistics (PSI over the reference's deciles or categories, KS or
chi-square), per feature, overall and per configured segment. Live quality compares the
production version's labelled traffic with the figures it was promoted on (the
`mlgate.metric.*` tags /promote writes), with the gate's intervals and verdicts. A model's
state is `alert` (a threshold crossed), `unknown` (something that gates could not be
decided: never reported as fine) or `ok`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from bot.config import ModelConfig, Monitor
from bot.drift import BINS, psi
from bot.evaluation.paired import Groups, z_quantile
from bot.evaluation.segments import build_partitions
from bot.gate import metric_verdict
from bot.monitor import stats as S
from bot.monitor.logs import LogError

KS_SAMPLE = 1_000_000  # KS on at most this many rows per side (seeded sample); PSI uses every row
State = Literal["ok", "alert", "unknown"]


@dataclass(frozen=True)
class DriftRow:
    feature: str
    segment: str  # "all" or "column=value"
    kind: str
    psi: float
    p_value: float | None
    rows: int
    drifted: bool


@dataclass(frozen=True)
class LiveRow:
    metric: str
    segment: str
    rows: int
    evaluated: float | None  # the figure the version was promoted on (None: unknown)
    live: float | None
    live_low: float | None  # the live value's interval, same confidence as the gate
    live_high: float | None
    delta: float | None  # live - evaluated; its interval is the live interval shifted
    verdict: str
    gates: bool


@dataclass
class ModelHealth:
    model: str
    version: str | None
    window: str
    rows: int
    labelled: int
    state: State = "ok"
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drift: list[DriftRow] = field(default_factory=list)
    prediction: list[DriftRow] = field(default_factory=list)
    live: list[LiveRow] = field(default_factory=list)

    def flag(self, state: State, reason: str) -> None:
        if state == "alert" or self.state == "ok":
            self.state = state
        self.reasons.append(reason)


def _sample(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    return x if len(x) <= KS_SAMPLE else rng.choice(x, KS_SAMPLE, replace=False)


def _drift_numeric(ref: np.ndarray, cur: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """bot.drift's numeric drift: PSI over the reference's deciles on every row; the KS p-value
    on a seeded sample of at most KS_SAMPLE rows per side (at millions of rows it is ~0 anyway)."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)))
    if len(edges) < 2:
        edges = np.array([ref.min() - 0.5, ref.min() + 0.5])
    inner = edges[1:-1]
    e = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(edges) - 1)
    a = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(edges) - 1)
    ks = stats.ks_2samp(_sample(rng, ref), _sample(rng, cur))
    return psi(e.astype(float), a.astype(float)), float(ks.pvalue)


def _drift_categorical(ref: pd.Series, cur: pd.Series) -> tuple[float, float | None]:
    r = ref.value_counts()
    c = cur.value_counts()
    r.index, c.index = r.index.astype(str), c.index.astype(str)
    cats = sorted(set(r.index) | set(c.index))
    e = r.reindex(cats, fill_value=0).to_numpy(dtype=float)
    a = c.reindex(cats, fill_value=0).to_numpy(dtype=float)
    keep = (e + a) > 0
    e, a = e[keep], a[keep]
    p = None
    if len(e) >= 2:
        p = float(stats.chi2_contingency(np.vstack([e, a]))[1])
    return psi(e, a), p


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, features: list[str], segment: str,
                  cfg: Monitor, rng: np.random.Generator) -> list[DriftRow]:
    out = []
    for col in features:
        ref, cur = reference[col].dropna(), current[col].dropna()
        if len(ref) == 0 or len(cur) == 0:
            continue
        numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
        p: float | None
        if numeric and pd.api.types.is_numeric_dtype(cur):
            value, p = _drift_numeric(ref.to_numpy(dtype=float), cur.to_numpy(dtype=float), rng)
            kind = "numeric"
        else:
            value, p = _drift_categorical(ref, cur)
            kind = "categorical"
        drifted = bool(value > cfg.drift["psi"] or (p is not None and p < cfg.drift["p_value"]))
        out.append(DriftRow(col, segment, kind, value, p, len(cur), drifted))
    return out


def _segments(frame: pd.DataFrame, model: ModelConfig) -> list[tuple[str, pd.Series]]:
    """(segment name "column=value", row mask) for every configured segment of `frame`."""
    out: list[tuple[str, pd.Series]] = []
    if len(frame) == 0:
        return out
    for part in build_partitions(frame, model.segments):
        for code, value in enumerate(part.values):
            out.append((f"{part.column}={value}", pd.Series(part.codes == code, index=frame.index)))
    return out


def labels_of(frame: pd.DataFrame, task: str, label: str, where: str) -> np.ndarray:
    """The label column as the gate's arrays want it, or a one-line LogError."""
    y = frame[label]
    if task == "binary":
        values = pd.to_numeric(y, errors="coerce") if not pd.api.types.is_bool_dtype(y) else y.astype(int)
        arr = values.to_numpy(dtype=np.float64)
        if not np.isin(arr, (0.0, 1.0)).all():
            raise LogError(f"{where}: the label {label} must be 0 or 1 for a binary model")
        return arr.astype(np.int64)
    arr = pd.to_numeric(y, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(arr).all():
        raise LogError(f"{where}: the label {label} must be numeric for a regression model")
    return arr


def check_model(
    model: ModelConfig, cfg: Monitor, *, current: pd.DataFrame, reference: pd.DataFrame,
    previous_scores: np.ndarray | None, version: str | None, figures: dict[str, float], window: str,
    where: str, seed: int = 0,
) -> ModelHealth:
    """Everything one run says about one model's window of traffic."""
    if model.task not in S.SUPPORTED_TASKS:
        raise LogError(f"{model.name}: monitoring supports binary and regression models; "
                       f"{model.task} is not supported yet")
    rng = np.random.default_rng(seed)
    answered = current[current["version"].isin(_names_for(version, model.baseline))] if version else current
    health = ModelHealth(model.name, version, window, len(answered), 0)
    if len(answered) == 0:
        health.flag("unknown", f"no logged predictions of {model.name}"
                    + (f" version {version}" if version else "") + f" in {window}")
        return health
    features = [c for c in reference.columns if c != model.label and c in answered.columns]
    health.drift = feature_drift(reference, answered, features, "all", cfg, rng)
    ref_segments = dict(_segments(reference, model))
    for name, mask in _segments(answered, model):
        ref_mask = ref_segments.get(name)
        if ref_mask is None or int(mask.sum()) < cfg.min_rows or int(ref_mask.sum()) < cfg.min_rows:
            continue
        health.drift += feature_drift(reference[ref_mask], answered[mask], features, name, cfg, rng)
    drifted = [d for d in health.drift if d.drifted]
    if drifted:
        health.flag("alert", f"input drift in {len(drifted)} feature/segment pair(s): "
                    + ", ".join(sorted({d.feature for d in drifted})))
    scores = answered["score"].to_numpy(dtype=np.float64)
    if previous_scores is not None and len(previous_scores) >= cfg.min_rows:
        value, p = _drift_numeric(previous_scores, scores, rng)
        row = DriftRow("score", "all", "numeric", value, p, len(scores),
                       bool(value > cfg.drift["psi"] or p < cfg.drift["p_value"]))
        health.prediction.append(row)
        if row.drifted:
            health.flag("alert", f"prediction drift against the previous window (PSI {value:.3f})")
    else:
        health.notes.append("prediction drift not measured: the previous window has too few predictions")
    _live_quality(model, cfg, answered, figures, health, where)
    return health


def _names_for(version: str | None, alias: str) -> list[str]:
    return [v for v in (version, alias) if v]


def _live_quality(model: ModelConfig, cfg: Monitor, answered: pd.DataFrame, figures: dict[str, float],
                  health: ModelHealth, where: str) -> None:
    if model.label not in answered.columns:
        health.notes.append("live quality not measured: the log has no label column")
        return
    labelled = answered[answered[model.label].notna()]
    health.labelled = len(labelled)
    if len(labelled) < cfg.min_rows:
        health.notes.append(f"live quality not measured: {len(labelled):,} labelled rows (fewer than "
                            f"monitor.min_rows, {cfg.min_rows})")
        return
    y = labels_of(labelled, model.task, model.label, where)
    scores = labelled["score"].to_numpy(dtype=np.float64)
    names = list(model.metrics) or model.gating_metrics
    partitions: list[tuple[str, Groups]] = [("all", Groups(np.zeros(len(y), dtype=np.int64), 1, ["all"]))]
    for part in build_partitions(labelled.reset_index(drop=True), model.segments):
        partitions.append((part.column, Groups(part.codes, len(part.values), part.values)))
    for column, groups in partitions:
        values = S.one_model(model.task, y, scores, groups, names)
        for g in range(groups.count):
            segment = "all" if column == "all" else f"{column}={groups.keys[g]}"
            rows = int(groups.sizes[g])
            for m in names:
                policy = model.metrics.get(m)
                max_drop = model.segment_policy.max_drop if column != "all" else (policy.max_drop if policy else 0.0)
                informational = bool(policy and policy.informational)
                gates = not informational and rows >= cfg.min_rows
                # a segment is judged only against its own figure (tag mlgate.metric.<m>[<segment>])
                figure = figures.get(m) if column == "all" else figures.get(f"{m}[{segment}]")
                stat = S.against_figure(m, figure, values[m][g], rows, model.confidence)
                verdict = metric_verdict(stat.to_dict(), max_drop, informational=informational)
                value, se = values[m][g]
                z = z_quantile(model.confidence)
                low, high = (value - z * se, value + z * se) if value is not None and se is not None else (None, None)
                health.live.append(LiveRow(m, segment, rows, stat.baseline, value, low, high, stat.delta,
                                           verdict, gates))
                if not gates or (column != "all" and figure is None):
                    continue
                if verdict == "regressed":
                    health.flag("alert", f"live {m} {'in ' + segment if column != 'all' else ''} is "
                                f"significantly below its evaluation-time figure".replace("  ", " "))
                elif figures.get(m) is None and column == "all":
                    health.flag("unknown", f"no evaluation-time figure for {m} on version {health.version} "
                                "(tag mlgate.metric." + m + "), so its live value cannot be judged")
                elif verdict in ("n/a", "inconclusive") and column == "all":
                    health.notes.append(f"live {m}: {verdict} (the interval cannot decide yet)")
