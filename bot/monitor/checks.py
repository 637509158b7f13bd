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
from typing import Literal, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from bot.config import ModelConfig, Monitor
from bot.drift import BINS, psi
from bot.evaluation.paired import Groups, Scored, z_quantile
from bot.evaluation.segments import Partition, build_partitions
from bot.gate import metric_verdict
from bot.monitor import stats as S
from bot.monitor.ks import ks_p_value
from bot.monitor.logs import LogError

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


class Current(Protocol):
    """The answered rows of the window, wherever they live: `FrameRows` (pandas, in memory) or
    `bot.monitor.scan.SqlRows` (a DuckDB table over the log files). Both return the same count
    tables, so the statistics below are computed once, the same way, for either."""

    rows: int

    def columns(self) -> list[str]:
        """The column names of the rows."""
        ...

    def numeric(self, col: str) -> bool:
        """Whether the column holds numbers (bool counts as numeric, as pandas says)."""
        ...

    def bind_splits(self, parts: list[Partition]) -> None:
        """Align the rows' segments with the reference's partitions (one per segment spec)."""
        ...

    def bin_counts(self, col: str, inner: np.ndarray, split: int | None, groups: int) -> np.ndarray:
        """groups x (len(inner) + 1) counts: rows (non-NaN) by segment and searchsorted(inner, x, "right")."""
        ...

    def texts(self, col: str) -> list[str]:
        """The distinct non-missing values of the column as text (str(value), as pandas prints it)."""
        ...

    def category_counts(self, col: str, cats: pd.Index, split: int | None, groups: int) -> np.ndarray:
        """groups x len(cats) counts of the column's values (as text) by segment."""
        ...

    def ks(self, col: str, split: int | None, refs: dict[int, np.ndarray]) -> dict[int, float]:
        """The two-sample KS p-value of each group g in `refs` against the reference values refs[g]."""
        ...

    def labelled(self, label: str, columns: list[str]) -> pd.DataFrame:
        """The rows whose label has arrived: the label, score and `columns` (segment columns). The
        last call on these rows: an engine may free them afterwards."""
        ...


def _not_nan(x: np.ndarray) -> np.ndarray:
    return np.asarray(~np.isnan(x))


class FrameRows:
    """`Current` over a pandas frame (the numpy engine)."""

    def __init__(self, frame: pd.DataFrame, model: ModelConfig) -> None:
        self.frame = frame.reset_index(drop=True)
        self.rows = len(frame)
        self._model = model
        self._codes: list[np.ndarray] = []

    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def numeric(self, col: str) -> bool:
        return bool(pd.api.types.is_numeric_dtype(self.frame[col]))

    def bind_splits(self, parts: list[Partition]) -> None:
        self._codes = []
        for rp, cp in zip(parts, build_partitions(self.frame, self._model.segments), strict=True):
            index = {v: i for i, v in enumerate(rp.values)}
            remap = np.array([index.get(v, -1) for v in cp.values], dtype=np.int64)
            self._codes.append(remap[cp.codes])

    def _group(self, split: int | None) -> np.ndarray:
        return np.zeros(self.rows, dtype=np.int64) if split is None else self._codes[split]

    def _values(self, col: str) -> np.ndarray:
        return np.asarray(self.frame[col].to_numpy(dtype=float))

    def bin_counts(self, col: str, inner: np.ndarray, split: int | None, groups: int) -> np.ndarray:
        v = self._values(col)
        code = self._group(split)
        ok = _not_nan(v) & (code >= 0)
        nb = len(inner) + 1
        b = np.searchsorted(inner, v[ok], side="right")
        return np.bincount(code[ok] * nb + b, minlength=groups * nb).reshape(groups, nb).astype(float)

    def texts(self, col: str) -> list[str]:
        return [str(v) for v in self.frame[col].dropna().unique()]

    def category_counts(self, col: str, cats: pd.Index, split: int | None, groups: int) -> np.ndarray:
        c = _category_codes(self.frame[col], cats)
        code = self._group(split)
        ok = (c >= 0) & (code >= 0)
        k = len(cats)
        return np.bincount(code[ok] * k + c[ok], minlength=groups * k).reshape(groups, k).astype(float)

    def ks(self, col: str, split: int | None, refs: dict[int, np.ndarray]) -> dict[int, float]:
        v = self._values(col)
        code = self._group(split)
        ok = _not_nan(v)
        return {g: ks_p_value(ref, v[ok & (code == g)]) for g, ref in refs.items()}

    def labelled(self, label: str, columns: list[str]) -> pd.DataFrame:
        has_label = self.frame[label].notna().to_numpy()
        cols = [label, "score", *columns]
        return self.frame.loc[has_label, cols] if not has_label.all() else self.frame[cols]


def reference_partitions(reference: pd.DataFrame, model: ModelConfig, current: Current) -> list[Partition]:
    """The reference's partition per configured segment spec, bound to the current rows."""
    if not model.segments or current.rows == 0:
        return []
    parts = build_partitions(reference, model.segments)
    current.bind_splits(parts)
    return parts


def feature_drift(reference: pd.DataFrame, current: Current, features: list[str], parts: list[Partition],
                  cfg: Monitor) -> list[DriftRow]:
    """Every feature overall and in every segment: PSI over bins fixed by the whole reference
    (so each segment costs one count table, not another pass), KS or chi-square per segment,
    all on every row."""
    out = []
    for col in features:
        r = reference[col]
        numeric = (pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r) and current.numeric(col))
        cats = pd.Index([])
        if numeric:
            rv = r.to_numpy(dtype=float)
            rok = _not_nan(rv)
            if not rok.any():
                continue
            inner = _inner_edges(rv[rok])
            nb = len(inner) + 1
            rbin = np.where(rok, np.searchsorted(inner, rv, side="right"), -1)
            a_all = current.bin_counts(col, inner, None, 1)
            if a_all.sum() == 0:
                continue
        else:
            cats = pd.Index(sorted(set(map(str, r.dropna().unique())) | set(current.texts(col))))
            if len(cats) == 0:
                continue
            nb = len(cats)
            rbin = _category_codes(r, cats)
            a_all = current.category_counts(col, cats, None, 1)
        groups: list[tuple[int | None, np.ndarray, list[str]]] = [(None, np.zeros(len(rbin), dtype=np.int64), ["all"])]
        groups += [(i, part.codes, [f"{part.column}={v}" for v in part.values]) for i, part in enumerate(parts)]
        for split, rcode, names in groups:
            G = len(names)
            rk = (rbin >= 0) & (rcode >= 0)
            e = np.bincount(rcode[rk] * nb + rbin[rk], minlength=G * nb).reshape(G, nb).astype(float)
            if split is None:
                a = a_all
            elif numeric:
                a = current.bin_counts(col, inner, split, G)
            else:
                a = current.category_counts(col, cats, split, G)
            judged = [g for g in range(G) if (n_ref := int(e[g].sum())) and (n_cur := int(a[g].sum()))
                      and (names[g] == "all" or min(n_ref, n_cur) >= cfg.min_rows)]
            pvalues: dict[int, float] = {}
            if numeric and judged:
                rv_ok = rv[rk]
                pvalues = current.ks(col, split, {g: rv_ok[rcode[rk] == g] for g in judged})
            for g in judged:
                value = psi(e[g], a[g])
                p: float | None
                if numeric:
                    p = pvalues[g]
                else:
                    keep = (e[g] + a[g]) > 0
                    p = float(stats.chi2_contingency(np.vstack([e[g][keep], a[g][keep]]))[1]) \
                        if keep.sum() >= 2 else None
                drifted = bool(value > cfg.drift["psi"] or (p is not None and p < cfg.drift["p_value"]))
                out.append(DriftRow(col, names[g], "numeric" if numeric else "categorical", value, p,
                                    int(a[g].sum()), drifted))
    return out


def prediction_drift(previous: np.ndarray, current: Current) -> tuple[float, float]:
    """PSI over the previous window's score deciles, and the KS p-value, of the current scores."""
    inner = _inner_edges(previous)
    e = np.bincount(np.searchsorted(inner, previous, side="right"), minlength=len(inner) + 1).astype(float)
    a = current.bin_counts("score", inner, None, 1)[0]
    return psi(e, a), current.ks("score", None, {0: previous})[0]


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
    model: ModelConfig, cfg: Monitor, *, current: pd.DataFrame | Current, reference: pd.DataFrame,
    previous_scores: np.ndarray | None, version: str | None, figures: dict[str, float], window: str,
    where: str,
) -> ModelHealth:
    """Everything one run says about one model's window of traffic.

    `current` is the window's logged rows as a frame (rows of other versions are dropped
    here), or a `Current` that holds only the production version's rows already.
    """
    if model.task not in S.SUPPORTED_TASKS:
        raise LogError(f"{model.name}: monitoring supports binary and regression models; "
                       f"{model.task} is not supported yet")
    if isinstance(current, pd.DataFrame):
        answered = current
        if version:
            mine = current["version"].isin(_names_for(version, model.baseline)).to_numpy()
            if not mine.all():
                answered = current[mine]
        rows: Current = FrameRows(answered, model)
    else:
        rows = current
    health = ModelHealth(model.name, version, window, rows.rows, 0)
    if rows.rows == 0:
        health.flag("unknown", f"no logged predictions of {model.name}"
                    + (f" version {version}" if version else "") + f" in {window}")
        return health
    names = set(rows.columns())
    features = [c for c in reference.columns if c != model.label and c in names]
    health.drift = feature_drift(reference, rows, features, reference_partitions(reference, model, rows), cfg)
    drifted = [d for d in health.drift if d.drifted]
    if drifted:
        health.flag("alert", f"input drift in {len(drifted)} feature/segment pair(s): "
                    + ", ".join(sorted({d.feature for d in drifted})))
    if previous_scores is not None and len(previous_scores) >= cfg.min_rows:
        value, p = prediction_drift(previous_scores, rows)
        row = DriftRow("score", "all", "numeric", value, p, rows.rows,
                       bool(value > cfg.drift["psi"] or p < cfg.drift["p_value"]))
        health.prediction.append(row)
        if row.drifted:
            health.flag("alert", f"prediction drift against the previous window (PSI {value:.3f})")
    else:
        health.notes.append("prediction drift not measured: the previous window has too few predictions")
    _live_quality(model, cfg, rows, figures, health, where)
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


def _live_quality(model: ModelConfig, cfg: Monitor, current: Current, figures: dict[str, float],
                  health: ModelHealth, where: str) -> None:
    names_in = current.columns()
    if model.label not in names_in:
        health.notes.append("live quality not measured: the log has no label column")
        return
    segment_columns = [c for c in names_in if any(c in _spec_columns(s) for s in model.segments)]
    labelled = current.labelled(model.label, segment_columns)
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
