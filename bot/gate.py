"""The gate: a pure function from (report, policy) to verdicts.

CI and the App both call `decide`; the App passes the policy bot.policy picks (the default
branch's, or a protected release branch's), so a PR cannot loosen its own gate by editing the
config it ships.

Rules (DESIGN.md, "Statistics of the gate"; docs/statistics.md):
- one error rate for the whole gate: a candidate of equal quality fails with probability at
  most the model's `alpha`, overall metrics and segments together. Every gated question is
  "dropped by more than max_drop": with t = (improvement + max_drop) / se, it rejects when
  t < -z. One critical value z serves every test of the model: the smallest z, at least
  z_(1-alpha), with sum_i Phi(-z - max_drop_i/se_i) <= alpha. Each term is the chance that
  an *equal* candidate crosses that test's line (a Bonferroni bound over all the tests), so
  tests with a tolerance wide against their noise use almost none of alpha and leave it to
  the others; with every max_drop 0 it is plain Bonferroni over the tests.
- a metric *regressed* when its test rejects (the drop exceeds max_drop at one-sided level
  alpha or stricter); *improved* when the whole confidence interval of its improvement lies
  above 0; *unchanged* when the interval excludes a drop larger than `max_drop`; otherwise
  *inconclusive* (too wide to decide).
- segments below `min_rows` never gate; only `segment_policy.metrics` (default: the first
  gating metric) are tested per segment.
- a comparison without an interval (one row, a degenerate distribution) never gates by
  p = 0: it is *inconclusive* like an undefined metric.
- a gating metric that is undefined where it should gate (one class in the holdout, no
  positives in a gated segment, a value missing) is *inconclusive*: it fails the gate with
  the reason and needs a reviewer's approval, since it may hide any regression.

What the App knows itself is never taken from the report: whether the PR changes data or
model code comes from the App's own list of changed files (`Changes`), and a list GitHub
cut short counts as both, with review required.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bot import numbers
from bot.config import Config, ModelConfig

MetricVerdict = Literal["improved", "regressed", "unchanged", "inconclusive", "informational", "n/a"]
Outcome = Literal["pass", "fail", "neutral"]


@dataclass(frozen=True)
class MetricResult:
    name: str
    verdict: MetricVerdict
    gating: bool


@dataclass(frozen=True)
class SegmentFinding:
    column: str
    value: str
    metric: str
    rows: int
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    q_value: float | None
    regressed: bool
    gated: bool  # False when the segment is below min_rows or the metric is not in segment_policy.metrics
    too_small: bool = False  # below min_rows


@dataclass(frozen=True)
class Changes:
    """What the PR changes, from the App's own list of its changed files (never the report).

    `complete` is False when GitHub listed fewer files than the PR changes (it lists at most
    3,000): then the PR counts as both a data and a model change, and review is required.
    """

    data: bool
    model: bool
    complete: bool = True

    @property
    def data_changed(self) -> bool:
        return self.data or not self.complete

    @property
    def model_changed(self) -> bool:
        return self.model or not self.complete


@dataclass(frozen=True)
class ModelDecision:
    name: str
    metrics: list[MetricResult]
    segments: list[SegmentFinding]
    regressions: list[str] = field(default_factory=list)  # human-readable reasons
    undefined: list[str] = field(default_factory=list)  # gating metrics that could not be computed, and why
    budget: ErrorBudget | None = None  # how alpha was shared (None: not decided by decide_model)
    discovered: list[str] = field(default_factory=list)  # confirmed discovered slices that need review

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    @property
    def inconclusive(self) -> bool:
        return any(m.gating and m.verdict == "inconclusive" for m in self.metrics)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    models: list[ModelDecision]
    data_failures: int
    drifted: int
    data_changed: bool
    reasons: list[str]
    model_changed: bool = False
    files_complete: bool = True  # False: GitHub listed only part of the changed files

    @property
    def regressed(self) -> bool:
        return any(m.regressed for m in self.models)

    @property
    def inconclusive(self) -> bool:
        return any(m.inconclusive for m in self.models)

    @property
    def discovered_review(self) -> list[str]:
        """Confirmed discovered slices under `discovery.gate: review`: each needs a reviewer."""
        return [r for m in self.models for r in m.discovered]

    @property
    def undefined(self) -> list[str]:
        """Gating metrics that could not be computed: each needs a reviewer, whatever the policy says."""
        return [r for m in self.models for r in m.undefined]

    def review_required(self, required_when: list[str]) -> bool:
        """Whether the policy asks for reviewer approval for this outcome (always when a gating
        metric is undefined or the changed files are not all known)."""
        want = set(required_when)
        return bool(
            self.undefined
            or not self.files_complete
            or "always" in want
            or ("regression" in want and (self.regressed or self.data_failures > 0))
            or ("data_change" in want and self.data_changed)
            or ("inconclusive" in want and self.inconclusive)
            or bool(self.discovered_review)
        )


def worse_verb(comparison: dict[str, Any]) -> str:
    """How a metric gets worse: a score 'dropped', a loss (RMSE, log loss) 'rose'."""
    return "dropped" if comparison.get("higher_is_better", True) else "rose"


def _improvement(value: float | None, higher_is_better: bool) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if higher_is_better else -value


def metric_verdict(
    comparison: dict[str, Any], max_drop: float, informational: bool = False,
    rejected: bool | None = None,
) -> MetricVerdict:
    """Verdict for one paired comparison, by the rules in the module docstring.

    `rejected`: whether the gate's multiple test found a drop larger than max_drop. None
    (no family to test in, e.g. a report viewed alone) falls back to the interval alone.
    """
    if informational:
        return "informational"
    hib = bool(comparison["higher_is_better"])
    lo = _improvement(comparison.get("ci_low"), hib)
    hi = _improvement(comparison.get("ci_high"), hib)
    if lo is None or hi is None:
        return "n/a"
    lo, hi = min(lo, hi), max(lo, hi)
    if rejected or (rejected is None and hi < -max_drop):
        return "regressed"
    if lo > 0:
        return "improved"
    if lo >= -max_drop:
        return "unchanged"
    return "inconclusive"


def drop_p_value(comparison: dict[str, Any], max_drop: float) -> float | None:
    """One-sided p-value of H0 "the drop is at most max_drop" (normal approximation on se)."""
    hib = bool(comparison["higher_is_better"])
    imp = _improvement(comparison.get("delta"), hib)
    se = comparison.get("se")
    if imp is None or se is None or (isinstance(se, float) and math.isnan(se)):
        return None
    if se <= 0:
        # no noise measured: only a difference of exactly 0 (models agree on every row) decides
        return 1.0 if imp == 0 else None
    # standard normal CDF via erfc: exact far into the tail, where 1 + erf(x) would round to 0
    return 0.5 * math.erfc(-((imp + max_drop) / se) / math.sqrt(2))


def _normal_tail(x: float) -> float:
    """P(Z > x) for a standard normal Z, exact far into the tail (erfc)."""
    return 0.5 * math.erfc(x / math.sqrt(2))


def _normal_quantile(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


@dataclass(frozen=True)
class ErrorBudget:
    """The gate's one promise for a model: its tests and their shared critical value."""

    alpha: float
    floor: float  # z_(1-alpha): no test is looser than one-sided level alpha
    ratios: tuple[float, ...]  # max_drop / se of every test of the model
    critical: float  # z: a test rejects when (improvement + max_drop) / se < -z
    promised: float | None = None  # the model's alpha when these tests have only part of it

    def statement(self) -> str:
        return (f"an equal-quality candidate fails this gate at most {self.promised or self.alpha:.0%} of the "
                "time, overall metrics and segments together")

    def spent(self, z: float) -> float:
        """The bound on P(an equal candidate crosses any line) at critical value z."""
        return sum(_normal_tail(z + r) for r in self.ratios)

    def family_p(self, t: float) -> float:
        """The smallest alpha at which a test with statistic t would fail the gate (1: never)."""
        if -t < self.floor:
            return 1.0
        return min(1.0, self.spent(-t))


def error_budget(alpha: float, ratios: list[float]) -> ErrorBudget:
    """The smallest critical value >= z_(1-alpha) whose Bonferroni bound at equal quality is <= alpha."""
    floor = _normal_quantile(1 - alpha)
    budget = ErrorBudget(alpha, floor, tuple(ratios), floor)
    if budget.spent(floor) <= alpha:
        return budget
    lo, hi = floor, 40.0
    for _ in range(100):  # bisection: spent() decreases in z
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if budget.spent(mid) <= alpha else (mid, hi)
    return ErrorBudget(alpha, floor, tuple(ratios), hi)


def drop_statistic(comparison: dict[str, Any], max_drop: float) -> tuple[float, float] | None:
    """(t, max_drop/se) of the test "dropped by more than max_drop"; None without a usable se."""
    hib = bool(comparison["higher_is_better"])
    imp = _improvement(comparison.get("delta"), hib)
    se = comparison.get("se")
    if imp is None or not isinstance(se, int | float) or math.isnan(se) or se <= 0:
        return None
    return (imp + max_drop) / se, max_drop / se


def model_budget(report_model: dict[str, Any], policy: ModelConfig) -> ErrorBudget:
    """The error budget of one model's gated tests (overall gating metrics, gated segments)."""
    ratios: list[float] = []
    by_name = {m["name"]: m for m in report_model.get("metrics", [])}
    for name in policy.gating_metrics:
        comp = by_name.get(name)
        st = drop_statistic(comp, policy.metrics[name].tolerance(comp.get("baseline"))) if comp is not None else None
        if st is not None:
            ratios.append(st[1])
    sp = policy.segment_policy
    seg_metrics = set(policy.segment_metrics)
    for seg in report_model.get("segments", []):
        if seg["rows"] < sp.min_rows:
            continue
        for comp in seg.get("metrics", []):
            st = drop_statistic(comp, sp.tolerance(comp.get("baseline"))) if comp["name"] in seg_metrics else None
            if st is not None:
                ratios.append(st[1])
    if _discovery_fails(policy):
        # confirmed discovered slices fail the gate too: they and these tests get alpha/2 each
        return replace(error_budget(policy.alpha / 2, ratios), promised=policy.alpha)
    return error_budget(policy.alpha, ratios)


def _discovery_fails(policy: ModelConfig) -> bool:
    return policy.discovery is not None and policy.discovery.gate == "fail"


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


NO_INTERVAL = "without a confidence interval on these rows (too few rows, or no variation to measure noise from)"


def undefined_reason(comparison: dict[str, Any], has_baseline: bool) -> str | None:
    """Why a comparison cannot gate, or None when it can: a model's value is undefined on the
    rows (one class only, no positive labels). Without a baseline model nothing is compared."""
    if _missing(comparison.get("candidate")) or (has_baseline and _missing(comparison.get("baseline"))):
        return "undefined on these rows (only one class, or no positive labels)"
    return None


def decide_model(report_model: dict[str, Any], policy: ModelConfig) -> ModelDecision:
    """Apply one model's policy to its part of a report, with one error rate for all its tests."""
    reasons: list[str] = []
    undefined: list[str] = []
    name_ = report_model["name"]
    has_baseline = report_model.get("baseline") is not None
    by_name = {m["name"]: m for m in report_model.get("metrics", [])}

    sp = policy.segment_policy
    seg_metrics = set(policy.segment_metrics)
    findings: list[SegmentFinding] = []
    tested: list[tuple[int, float, dict[str, Any]]] = []
    gating = set(policy.gating_metrics)
    for seg in report_model.get("segments", []):
        for comp in seg.get("metrics", []):
            if comp["name"] not in gating:
                continue
            gated = seg["rows"] >= sp.min_rows and comp["name"] in seg_metrics
            where = f"{comp['name']} on {seg['column']}={seg['value']} ({seg['rows']:,} rows)"
            why = undefined_reason(comp, has_baseline) if gated else None
            seg_drop = sp.tolerance(comp.get("baseline"))
            st = drop_statistic(comp, seg_drop) if gated and why is None else None
            if gated and why is None and st is None and has_baseline and drop_p_value(comp, seg_drop) is None:
                why = NO_INTERVAL
            if why is not None:
                undefined.append(f"{name_}: {where} is {why}; a reviewer must approve")
            findings.append(
                SegmentFinding(
                    column=seg["column"],
                    value=seg["value"],
                    metric=comp["name"],
                    rows=seg["rows"],
                    delta=comp.get("delta"),
                    ci_low=comp.get("ci_low"),
                    ci_high=comp.get("ci_high"),
                    q_value=None,
                    regressed=False,
                    gated=gated,
                    too_small=seg["rows"] < sp.min_rows,
                )
            )
            if st is not None:
                tested.append((len(findings) - 1, st[0], comp))
    budget = model_budget(report_model, policy)

    metrics: list[MetricResult] = []
    rejected: dict[str, bool] = {}
    for name, pol in policy.metrics.items():
        comp = by_name.get(name)
        if comp is None or pol.informational or undefined_reason(comp, has_baseline) is not None:
            continue
        st = drop_statistic(comp, pol.tolerance(comp.get("baseline")))
        if st is not None:
            rejected[name] = st[0] < -budget.critical
        elif drop_p_value(comp, pol.tolerance(comp.get("baseline"))) == 1.0:
            rejected[name] = False  # the models agree on every row: no drop at all
    for name, pol in policy.metrics.items():
        comp = by_name.get(name)
        if comp is None:
            if not pol.informational:
                reasons.append(f"{name_}: metric {name} is missing from the report")
            metrics.append(MetricResult(name, "n/a", not pol.informational))
            continue
        why = None if pol.informational else undefined_reason(comp, has_baseline)
        if why is None and not pol.informational and has_baseline and name not in rejected:
            why = NO_INTERVAL
        if why is not None:
            metrics.append(MetricResult(name, "inconclusive", True))
            undefined.append(f"{name_}: {name} is {why}; a reviewer must approve")
            continue
        verdict = metric_verdict(comp, pol.tolerance(comp.get("baseline")), pol.informational,
                                 rejected.get(name, False) if has_baseline else None)
        metrics.append(MetricResult(name, verdict, not pol.informational))
        if verdict == "regressed":
            reasons.append(
                f"{name_}: {name} {worse_verb(comp)} by more than {pol.tolerance_text(comp.get('baseline'))} "
                f"({_fmt(comp, 'baseline')} → {_fmt(comp, 'candidate')})"
            )

    for i, t, seg_comp in tested:
        f = findings[i]
        q = budget.family_p(t)
        regressed = t < -budget.critical
        findings[i] = SegmentFinding(**{**f.__dict__, "q_value": q, "regressed": regressed})
        if regressed:
            reasons.append(
                f"{name_}: {f.metric} on {f.column}={f.value} {worse_verb(seg_comp)} by more than "
                f"{sp.tolerance_text(seg_comp.get('baseline'))} ({f.rows:,} rows, q{numbers.p_equals(q)})"
            )
    hib = {c["name"]: bool(c["higher_is_better"]) for seg in report_model.get("segments", []) for c in seg["metrics"]}

    def worst_first(f: SegmentFinding) -> tuple[bool, float]:
        imp = _improvement(f.delta, hib.get(f.metric, True))
        return (not f.regressed, imp if imp is not None else 0.0)

    findings.sort(key=worst_first)
    return ModelDecision(name_, metrics, findings, reasons, undefined, budget)


def discovered_slices(report_model: dict[str, Any], policy: ModelConfig) -> list[str]:
    """The report's discovered slices that the policy confirms (q-value at most the model's alpha),
    in words; none when the policy has no `discovery` block or its gate is `off`."""
    if policy.discovery is None or policy.discovery.gate == "off":
        return []
    out: list[str] = []
    for s in report_model.get("discovered_slices", []):
        q, delta = s.get("q_value"), s["loss"].get("delta")
        level = policy.alpha / 2 if _discovery_fails(policy) else policy.alpha  # see model_budget
        if isinstance(q, int | float) and q <= level and isinstance(delta, int | float) and delta > 0:
            out.append(f"{report_model['name']}: mlgate found the candidate worse on {s['text']} "
                       f"({s['rows']:,} rows, {s['loss']['name']} "
                       f"{numbers.metric_format(s['loss']['name'], delta).delta(delta)}, q{numbers.p_equals(q)})")
    return out


def with_discovered_slices(md: ModelDecision, report_model: dict[str, Any], policy: ModelConfig) -> ModelDecision:
    """`discovery.gate: fail` makes a confirmed slice a regression; `review` asks for a reviewer."""
    found = discovered_slices(report_model, policy)
    if not found or policy.discovery is None:
        return md
    if policy.discovery.gate == "fail":
        return replace(md, regressions=[*md.regressions, *found])
    return replace(md, discovered=found)


def decide(report: dict[str, Any], config: Config, changes: Changes | None = None) -> Decision:
    """The whole gate for a validated report under `config` (the policy that applies).

    `changes` is the App's own view of what the PR changes; the App always passes it. Without
    it (the CLI, which computed the report's `data.changes` itself) the report's list is used.
    """
    models: list[ModelDecision] = []
    reasons: list[str] = []
    seen = set()
    for rm in report.get("models", []):
        seen.add(rm["name"])
        try:
            policy = config.model(rm["name"])
        except KeyError:
            reasons.append(f"{rm['name']}: not in the base branch's config; not gated")
            continue
        md = with_discovered_slices(decide_model(rm, policy), rm, policy)
        models.append(md)
        reasons.extend(md.regressions)
        reasons.extend(md.undefined)
    missing_model = False  # a configured model the report has no result for: decided here, never from the words
    for m in config.models:
        if m.name not in seen:
            missing_model = True
            reasons.append(f"{m.name}: configured but missing from the report")
    data = report.get("data", {})
    failures = sum(1 for c in data.get("checks", []) if not c["passed"])
    drifted = sum(1 for d in data.get("drift", []) if d["drifted"])
    if failures:
        reasons.append(f"{failures} data check(s) failed")
    if changes is not None and not changes.complete:
        reasons.append("GitHub listed only part of this pull request's changed files, so it counts as a data "
                       "and model change and a reviewer must approve")
    undefined = any(m.undefined for m in models)
    outcome: Outcome = "fail" if (any(m.regressed for m in models) or failures or missing_model
                                  or undefined) else "pass"
    return Decision(
        outcome=outcome,
        models=models,
        data_failures=failures,
        drifted=drifted,
        data_changed=changes.data_changed if changes is not None else bool(data.get("changes")),
        reasons=reasons,
        model_changed=changes.model_changed if changes is not None else False,
        files_complete=changes.complete if changes is not None else True,
    )


def _fmt(comp: dict[str, Any], key: str) -> str:
    """A metric's value as every table writes it (bot/numbers.py: the metric's decimals)."""
    v = comp.get(key)
    return "n/a" if v is None else numbers.metric_format(comp["name"], comp.get("baseline"), comp.get("candidate")).value(v)
