"""The gate's statistics are honest: standard errors agree with a brute-force paired bootstrap,
A/A comparisons rarely flag a regression, a real drop is caught, and results are reproducible."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, norm, rankdata

from bot.config import ModelConfig, parse_config
from bot.evaluation import compare_models
from bot.gate import decide_model, drop_p_value
from tests.evaluation.helpers import BINARY, binary_holdout, by_name, scorer


def _policy(metrics: dict[str, float], segment_max_drop: float = 0.0, min_rows: int = 100) -> ModelConfig:
    body = ", ".join(f"{m}: {{max_drop: {d}}}" for m, d in metrics.items())
    return parse_config(f"""
version: 1
models:
  - name: m
    task: binary
    holdout: h
    label: y
    metrics: {{{body}}}
    segment_policy: {{min_rows: {min_rows}, max_drop: {segment_max_drop}, fdr: 0.05, metrics: [{", ".join(metrics)}]}}
""").models[0]


def _slack(trials: int, rate: float) -> int:
    """The largest count a correct procedure exceeds with probability < 0.1%."""
    return int(binom.ppf(0.999, trials, rate))


# ---------------------------------------------------------------- standard errors


def _reference(name: str, y: np.ndarray, s: np.ndarray) -> float:
    """Plain textbook formulas (checked against sklearn in test_metrics), fast enough to loop."""
    if name == "roc_auc":
        r = rankdata(s)
        p = y.sum()
        return float((r[y == 1].sum() - p * (p + 1) / 2) / (p * (len(y) - p)))
    if name == "average_precision":
        o = np.argsort(-s, kind="stable")
        ss, ys = s[o], y[o]
        last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
        tp = np.cumsum(ys)[last]
        return float(np.sum(np.diff(tp, prepend=0) * tp / (last + 1)) / ys.sum())
    if name == "log_loss":
        p = np.clip(s, 1e-15, 1 - 1e-15)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    if name == "brier":
        return float(np.mean((s - y) ** 2))
    pred = s >= 0.5
    tp, fp, fn = np.sum(pred & (y == 1)), np.sum(pred & (y == 0)), np.sum(~pred & (y == 1))
    return float({"accuracy": np.mean(pred == y), "precision": tp / max(tp + fp, 1),
                  "f1": 2 * tp / max(2 * tp + fp + fn, 1)}[name])


@pytest.mark.parametrize("resamples", [0, 1000])
def test_standard_errors_match_a_brute_force_paired_bootstrap(resamples: int) -> None:
    """Each method's se is within 15% of a row-resampling paired bootstrap (400 draws, the
    same rows for both models), for every binary metric, with tied scores."""
    rng = np.random.default_rng(5)
    n = 1500
    y = rng.integers(0, 2, n)
    c = np.round(scorer(y, rng, signal=1.1), 2)  # ties
    b = scorer(y, rng)
    names = ["roc_auc", "average_precision", "log_loss", "brier", "f1", "precision", "accuracy"]
    rep = compare_models(pd.DataFrame({"y": y}), task="binary", label="y", candidate=c, baseline=b,
                         metrics=names, segments=[], resamples=resamples, seed=1).to_report()
    idx = rng.integers(0, n, (400, n))
    for m in rep["metrics"]:
        assert m["delta"] == pytest.approx(_reference(m["name"], y, c) - _reference(m["name"], y, b), abs=1e-9)
        boot = np.std([_reference(m["name"], y[i], c[i]) - _reference(m["name"], y[i], b[i]) for i in idx], ddof=1)
        assert m["se"] == pytest.approx(boot, rel=0.15), (m["name"], m["method"])
        assert m["ci_low"] < m["delta"] < m["ci_high"]
        assert m["method"] == ("delong" if m["name"] == "roc_auc" else "influence" if m["name"] == "average_precision"
                               else "paired-normal" if m["name"] in ("log_loss", "brier")
                               else "delta")


def test_regression_standard_errors_match_a_brute_force_bootstrap() -> None:
    rng = np.random.default_rng(6)
    n = 1500
    y = rng.normal(0, 2, n)
    c = y + rng.normal(0, 1, n) * np.abs(y)  # heteroscedastic errors
    b = y + rng.normal(0.1, 1.1, n)
    rep = compare_models(pd.DataFrame({"y": y}), task="regression", label="y", candidate=c, baseline=b,
                         metrics=["rmse", "mae", "r2"], segments=[], resamples=0).to_report()
    idx = rng.integers(0, n, (400, n))
    f = {"rmse": lambda t, p: np.sqrt(np.mean((t - p) ** 2)), "mae": lambda t, p: np.mean(np.abs(t - p)),
         "r2": lambda t, p: 1 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2)}
    for m in rep["metrics"]:
        boot = np.std([f[m["name"]](y[i], c[i]) - f[m["name"]](y[i], b[i]) for i in idx], ddof=1)
        assert m["se"] == pytest.approx(boot, rel=0.15), m["name"]


def test_identical_models_have_a_zero_width_paired_interval() -> None:
    """Pairing: the same scores for both models leave no sampling noise in the delta."""
    frame, c, _ = binary_holdout(800, 3)
    rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=c.copy(), metrics=BINARY,
                         segments=["region"], resamples=200).to_report()
    for stats in [rep["metrics"]] + [s["metrics"] for s in rep["segments"]]:
        for m in stats:
            assert (m["delta"], m["ci_low"], m["ci_high"], m["se"], m["p_value"]) == (0, 0, 0, 0, 1), m


def test_ci_coverage_of_the_true_auc_difference() -> None:
    """DeLong's 95% interval covers the population AUC difference in about 95% of repeats."""
    rng = np.random.default_rng(11)
    true = norm.cdf(1.2 / np.sqrt(2)) - norm.cdf(1.0 / np.sqrt(2))  # P(N(mu,1) > N(0,1))
    covered, repeats = 0, 200
    for i in range(repeats):
        n = 1000
        y = rng.integers(0, 2, n)
        c = 1 / (1 + np.exp(-2 * (y * 1.2 + rng.normal(0, 1, n))))
        b = 1 / (1 + np.exp(-2 * (y * 1.0 + rng.normal(0, 1, n))))
        m = compare_models(pd.DataFrame({"y": y}), task="binary", label="y", candidate=c, baseline=b,
                           metrics=["roc_auc"], segments=[], resamples=0, seed=i).to_report()["metrics"][0]
        covered += m["ci_low"] <= true <= m["ci_high"]
    assert covered >= repeats - _slack(repeats, 0.05)


# ---------------------------------------------------------------- the gate on simulated data


GATED = {"accuracy": 0.0, "f1": 0.0, "roc_auc": 0.0, "average_precision": 0.0, "log_loss": 0.0, "brier": 0.0}


def _decide(frame: pd.DataFrame, c: np.ndarray, b: np.ndarray, policy: ModelConfig, seed: int,
            segments: list[Any], resamples: int = 200) -> Any:
    rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=b, metrics=list(policy.metrics),
                         segments=segments, resamples=resamples, seed=seed).to_report()
    return decide_model({"name": "m", **rep}, policy)


def test_aa_false_regressions_stay_within_the_stated_error_rate() -> None:
    """Two scorers of the same quality, 200 repeats, six gating metrics at max_drop 0: the gate
    as a whole fails at most alpha = 5% of the time (Holm across the metrics), up to binomial slack."""
    policy = _policy(GATED)
    repeats = 200
    failed = 0
    for seed in range(repeats):
        frame, c, b = binary_holdout(1000, 1000 + seed)
        d = _decide(frame, c, b, policy, seed, segments=[])
        failed += d.regressed
    assert failed <= _slack(repeats, 0.05), failed


def test_bh_keeps_false_alarms_across_20_null_segments_in_check() -> None:
    """20 segments where nothing changed, 2 gating metrics: 40 tests per report. Without a
    correction ~1 - 0.975^40 = 64% of reports would flag something at 2.5% one-sided;
    Benjamini-Hochberg at the segments' share of alpha (2.5%) keeps reports with any alarm below it."""
    policy = _policy({"roc_auc": 0.0, "log_loss": 0.0}, segment_max_drop=0.0, min_rows=50)
    repeats, any_alarm, uncorrected = 60, 0, 0
    for seed in range(repeats):
        frame, c, b = binary_holdout(8000, 5000 + seed, regions=20)
        rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=b,
                             metrics=list(policy.metrics), segments=["region"], resamples=0).to_report()
        d = decide_model({"name": "m", **rep}, policy)
        assert len([f for f in d.segments if f.gated]) == 40
        any_alarm += any(f.regressed for f in d.segments)
        p = [drop_p_value(m, 0.0) for s in rep["segments"] for m in s["metrics"]]
        uncorrected += any(x is not None and x < 0.05 for x in p)
    assert uncorrected >= repeats // 2  # the multiplicity problem is real in this setting
    assert any_alarm <= _slack(repeats, 0.025), any_alarm


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_a_known_segment_drop_is_caught_and_only_there(seed: int) -> None:
    frame, c, b = binary_holdout(6000, seed)
    apac = (frame["region"] == "APAC").to_numpy()
    rng = np.random.default_rng(seed)
    y = frame["y"].to_numpy()
    c = c.copy()
    c[apac] = scorer(y[apac], rng, signal=0.3)  # the candidate is much worse for APAC only
    policy = _policy({"roc_auc": 0.01, "f1": 0.01}, segment_max_drop=0.02)
    d = _decide(frame, c, b, policy, seed, segments=["region"])
    flagged = {(f.value, f.metric) for f in d.segments if f.regressed}
    assert ("APAC", "roc_auc") in flagged and ("APAC", "f1") in flagged
    assert not any(v != "APAC" for v, _ in flagged)
    assert d.regressed and any("APAC" in r for r in d.regressions)


def test_a_small_overall_drop_is_caught() -> None:
    frame, _, b = binary_holdout(20000, 12)
    rng = np.random.default_rng(12)
    c = scorer(frame["y"].to_numpy(), rng, signal=0.8)  # a clearly weaker model
    d = _decide(frame, c, b, _policy({"roc_auc": 0.005, "log_loss": 0.005}), 0, segments=[])
    assert {m.name: m.verdict for m in d.metrics} == {"roc_auc": "regressed", "log_loss": "regressed"}


# ---------------------------------------------------------------- reproducibility and shape


def test_same_inputs_same_report_and_the_seed_changes_no_number() -> None:
    frame, c, b = binary_holdout(2000, 5)
    kw: dict[str, Any] = dict(task="binary", label="y", candidate=c, baseline=b, metrics=BINARY,
                              segments=["region"], resamples=300)
    r1 = compare_models(frame, seed=1, **kw).to_report()
    r2 = compare_models(frame, seed=1, **kw).to_report()
    r3 = compare_models(frame, seed=2, **kw).to_report()
    assert r1 == r2
    f1, f3 = by_name(r1["metrics"])["f1"], by_name(r3["metrics"])["f1"]
    assert f1 == f3  # every interval is analytic now
    # analytic methods do not depend on the seed
    assert by_name(r1["metrics"])["roc_auc"] == by_name(r3["metrics"])["roc_auc"]
    # a segment's numbers do not depend on which other segments are configured
    r4 = compare_models(frame, seed=1, **{**kw, "segments": ["age", "region"]}).to_report()
    eu = [s for s in r1["segments"] if s["value"] == "EU"]
    assert eu == [s for s in r4["segments"] if s["column"] == "region" and s["value"] == "EU"]


def test_report_matches_the_schema_and_no_baseline_reports_the_candidate_only(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import jsonschema

    from bot.report import schema as report_schema

    schema = report_schema()
    frame, c, b = binary_holdout(400, 2)
    frame.loc[:5, "region"] = None
    for baseline in (b, None):
        rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=baseline, metrics=BINARY,
                             segments=["region"], resamples=50, progress=True).to_report()
        for part, items in (("comparison", rep["metrics"]), ("segment", rep["segments"])):
            for item in items:
                jsonschema.validate(item, {"$defs": schema["$defs"], "$ref": f"#/$defs/{part}"})
        assert json.loads(json.dumps(rep)) == rep  # plain JSON types only
        for m in rep["metrics"]:
            assert m["candidate"] is not None
            if baseline is None:
                assert m["baseline"] is m["delta"] is m["ci_low"] is m["se"] is m["p_value"] is None
    assert "paired comparison" in capsys.readouterr().err


def test_closed_form_multiclass_gradients_equal_numeric_ones() -> None:
    from bot.evaluation.paired import _multiclass_gradients, _numeric_gradients

    rng = np.random.default_rng(2)
    conf = rng.integers(0, 30, (3, 5, 5)).astype(float)
    conf[0, 4, :] = 0  # a class that never occurs
    conf[0, :, 4] = 0
    names = ["accuracy", "macro_f1", "weighted_f1"]
    closed, numeric = _multiclass_gradients(conf, names), _numeric_gradients("multiclass", conf, names)
    used = conf > 0
    for m in names:
        assert np.allclose(closed[m][used], numeric[m][used], atol=1e-7), m


def test_count_metric_variance_from_joint_cells_equals_the_per_row_sum() -> None:
    """Every row of a (label, candidate, baseline) cell has the same influence: summing over the
    cells (no pass over the rows per metric) gives the per-row delta-method variance."""
    import bot.evaluation.paired as paired

    frame, c, b = binary_holdout(3000, 1, regions=5)
    kw: dict[str, Any] = dict(task="binary", label="y", candidate=c, baseline=b, metrics=BINARY, segments=["region"])
    cells = compare_models(frame, **kw).to_report()
    old = paired.MAX_JOINT_CELLS
    try:
        paired.MAX_JOINT_CELLS = 0
        rows = compare_models(frame, **kw).to_report()
    finally:
        paired.MAX_JOINT_CELLS = old
    for a, r in zip([cells["metrics"]] + [s["metrics"] for s in cells["segments"]],
                    [rows["metrics"]] + [s["metrics"] for s in rows["segments"]], strict=True):
        for x, y in zip(a, r, strict=True):
            assert x["se"] == pytest.approx(y["se"], rel=1e-9, abs=1e-15), x["name"]
