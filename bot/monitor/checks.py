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
from bot.evaluation.paired import Groups, Scored, z_quantile
from bot.evaluation.segments import build_partitions
from bot.gate import metric_verdict
from bot.monitor import stats as S
from bot.monitor.logs import LogError

KS_SAMPLE = 250_000  # KS on at most this many rows per side (seeded sample); PSI uses every row
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
    """Every k-th row from a seeded offset: a view, no copy and no permutation of millions of rows."""
    if len(x) <= KS_SAMPLE:
        return x
    step = len(x) // KS_SAMPLE
    return x[int(rng.integers(step))::step][:KS_SAMPLE]


def _drift_numeric(ref: np.ndarray, cur: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """bot.drift's numeric drift: PSI over the reference's deciles on every row; the KS p-value
    on a seeded sample of at most KS_SAMPLE rows per side (at millions of rows it is ~0 anyway)."""
    inner = _inner_edges(ref)
    nb = len(inner) + 1
    e = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=nb)
    a = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=nb)
    ks = stats.ks_2samp(_sample(rng, ref), _sample(rng, cur))
    return psi(e.astype(float), a.astype(float)), float(ks.pvalue)


def _inner_edges(ref: np.ndarray) -> np.ndarray:
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)))
    if len(edges) < 2:
        edges = np.array([ref.min() - 0.5, ref.min() + 0.5])
    return edges[1:-1]


def _category_codes(col: pd.Series, cats: pd.Index) -> np.ndarray:
    """The position of each row's value (as text) in `cats`; -1 for a missing value. Factorizing
    first keeps it to one string per distinct value, not one per row (millions of rows)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    lut = np.append(cats.get_indexer(pd.Index([str(u) for u in uniques])), -1)
    return np.asarray(lut[codes])


@dataclass(frozen=True)
class _Split:
    """Segment codes of the reference and current rows, aligned by segment name (-1: none)."""

    names: list[str]
    ref: np.ndarray
    cur: np.ndarray


def _splits(reference: pd.DataFrame, current: pd.DataFrame, model: ModelConfig) -> list[_Split]:
    """One split per configured segment spec; a segment missing from the reference gets no code."""
    if not model.segments or len(current) == 0:
        return []
    out = []
    for rp, cp in zip(build_partitions(reference, model.segments), build_partitions(current, model.segments),
                      strict=True):
        index = {v: i for i, v in enumerate(rp.values)}
        remap = np.array([index.get(v, -1) for v in cp.values], dtype=np.int64)
        out.append(_Split([f"{rp.column}={v}" for v in rp.values], rp.codes, remap[cp.codes]))
    return out


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, features: list[str], splits: list[_Split],
                  cfg: Monitor, rng: np.random.Generator) -> list[DriftRow]:
    """Every feature overall and in every segment: PSI over bins fixed by the whole reference
    (so each segment costs one bincount, not another pass), KS or chi-square per segment."""
    out = []
    for col in features:
        r, c = reference[col], current[col]
        numeric = (pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r)
                   and pd.api.types.is_numeric_dtype(c))
        if numeric:
            rv, cv = r.to_numpy(dtype=float), c.to_numpy(dtype=float)
            rok, cok = ~np.isnan(rv), ~np.isnan(cv)
            if not rok.any() or not cok.any():
                continue
            inner = _inner_edges(rv[rok])
            nb = len(inner) + 1
            rbin = np.where(rok, np.searchsorted(inner, rv, side="right"), -1)
            cbin = np.where(cok, np.searchsorted(inner, cv, side="right"), -1)
        else:
            cats = pd.Index(sorted(set(map(str, r.dropna().unique())) | set(map(str, c.dropna().unique()))))
            if len(cats) == 0:
                continue
            nb = len(cats)
            rbin, cbin = _category_codes(r, cats), _category_codes(c, cats)
            rv, cv = rbin.astype(float), cbin.astype(float)
        groups = [("all", np.zeros(len(rbin), dtype=np.int64), np.zeros(len(cbin), dtype=np.int64), ["all"])]
        groups += [("seg", sp.ref, sp.cur, sp.names) for sp in splits]
        for _, rcode, ccode, names in groups:
            G = len(names)
            rk, ck = (rbin >= 0) & (rcode >= 0), (cbin >= 0) & (ccode >= 0)
            e = np.bincount(rcode[rk] * nb + rbin[rk], minlength=G * nb).reshape(G, nb).astype(float)
            a = np.bincount(ccode[ck] * nb + cbin[ck], minlength=G * nb).reshape(G, nb).astype(float)
            for g in range(G):
                n_ref, n_cur = int(e[g].sum()), int(a[g].sum())
                if n_cur == 0 or n_ref == 0 or (names[g] != "all" and min(n_ref, n_cur) < cfg.min_rows):
                    continue
                value = psi(e[g], a[g])
                p: float | None
                if numeric:
                    rsel = rv[rk & (rcode == g)] if names[g] != "all" else rv[rk]
                    csel = cv[ck & (ccode == g)] if names[g] != "all" else cv[ck]
                    p = float(stats.ks_2samp(_sample(rng, rsel), _sample(rng, csel)).pvalue)
                else:
                    keep = (e[g] + a[g]) > 0
                    p = float(stats.chi2_contingency(np.vstack([e[g][keep], a[g][keep]]))[1]) \
                        if keep.sum() >= 2 else None
                drifted = bool(value > cfg.drift["psi"] or (p is not None and p < cfg.drift["p_value"]))
                out.append(DriftRow(col, names[g], "numeric" if numeric else "categorical", value, p, n_cur,
                                    drifted))
    return out


def labels_of(frame: pd.DataFrame, task: str, label: str, where: str) -> np.ndarray:
    """The label column as the gate's arrays want it, or a one-line LogError."""
    y = frame[label]
    if task == "binary":
        values = pd.to_numeric(y, errors="coerce") if not pd.api.types.is_bool_dtype(y) else y.astype(int)
        arr: np.ndarray = values.to_numpy(dtype=np.float64)
        if not np.isin(arr, (0.0, 1.0)).all():
            raise LogError(f"{where}: the label {label} must be 0 or 1 for a binary model")
        return arr.astype(np.int64)
    arr = np.asarray(pd.to_numeric(y, errors="coerce").to_numpy(dtype=np.float64))
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
    answered = current
    if version:
        mine = current["version"].isin(_names_for(version, model.baseline)).to_numpy()
        if not mine.all():
            answered = current[mine]
    health = ModelHealth(model.name, version, window, len(answered), 0)
    if len(answered) == 0:
        health.flag("unknown", f"no logged predictions of {model.name}"
                    + (f" version {version}" if version else "") + f" in {window}")
        return health
    features = [c for c in reference.columns if c != model.label and c in answered.columns]
    answered = answered.reset_index(drop=True)
    health.drift = feature_drift(reference, answered, features, _splits(reference, answered, model), cfg, rng)
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


def _spec_columns(spec: object) -> list[str]:
    """The columns a segment spec reads (a name, {column, bins} or {cross: [a, b]})."""
    if isinstance(spec, str):
        return [spec]
    cross = getattr(spec, "cross", None)
    if cross:
        return [str(c) for c in cross]
    column = getattr(spec, "column", None)
    return [str(column)] if column else []


def tolerance_for(model: ModelConfig, column: str, metric: str, baseline: float | None) -> float:
    """The tolerated drop in the metric's units, as the gate reads it: `max_drop: 5%` is 5% of
    |baseline| (the evaluation-time figure, or the champion's live value); overall metrics use
    their own policy, segments the segment policy."""
    if column != "all":
        return model.segment_policy.tolerance(baseline)
    policy = model.metrics.get(metric)
    return policy.tolerance(baseline) if policy else 0.0


def _names_for(version: str | None, alias: str) -> list[str]:
    return [v for v in (version, alias) if v]


def _live_quality(model: ModelConfig, cfg: Monitor, answered: pd.DataFrame, figures: dict[str, float],
                  health: ModelHealth, where: str) -> None:
    if model.label not in answered.columns:
        health.notes.append("live quality not measured: the log has no label column")
        return
    segment_columns = [c for c in answered.columns if any(c in _spec_columns(s) for s in model.segments)]
    has_label = answered[model.label].notna().to_numpy()
    labelled = answered.loc[has_label, [model.label, "score", *segment_columns]] if not has_label.all() \
        else answered[[model.label, "score", *segment_columns]]
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
    scored = Scored(model.task, y, scores, None)
    for column, groups in partitions:
        values = S.one_model(model.task, y, scores, groups, names, scored)
        for g in range(groups.count):
            segment = "all" if column == "all" else f"{column}={groups.keys[g]}"
            rows = int(groups.sizes[g])
            for m in names:
                policy = model.metrics.get(m)
                informational = bool(policy and policy.informational)
                gates = not informational and rows >= cfg.min_rows
                # a segment is judged only against its own figure (tag mlgate.metric.<m>[<segment>])
                figure = figures.get(m) if column == "all" else figures.get(f"{m}[{segment}]")
                stat = S.against_figure(m, figure, values[m][g], rows, model.confidence)
                verdict = metric_verdict(stat.to_dict(), tolerance_for(model, column, m, figure),
                                         informational=informational)
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
