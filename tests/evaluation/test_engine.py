"""The evaluation engine: sklearn-equal point values, honest intervals, segments, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from bot.config import BinnedSegment, CrossSegment, parse_config
from bot.evaluation import EvaluationError, compare_models
from bot.evaluation.metrics import midranks
from bot.gate import decide_model

BINARY = ["accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss", "brier"]


def _binary(n: int, seed: int, ties: bool = False) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    c = 1 / (1 + np.exp(-2 * (y + rng.normal(0, 1, n) - 0.5)))
    b = 1 / (1 + np.exp(-2 * (y + rng.normal(0, 1, n) - 0.5)))
    if ties:
        c, b = np.round(c, 1), np.round(b, 2)
    frame = pd.DataFrame({"y": y, "region": rng.choice(["EU", "NA", "APAC"], n), "age": rng.integers(0, 90, n)})
    return frame, c, b


def _by_name(stats: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {s["name"]: s for s in stats}


@pytest.mark.parametrize("ties", [False, True])
def test_binary_point_values_equal_sklearn(ties: bool) -> None:
    frame, c, b = _binary(3000, 1, ties)
    rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=b, metrics=BINARY,
                         segments=["region"], resamples=50).to_report()
    y = frame["y"].to_numpy()
    for scores, side in ((c, "candidate"), (b, "baseline")):
        pred = scores >= 0.5
        expected = {
            "accuracy": skm.accuracy_score(y, pred), "precision": skm.precision_score(y, pred),
            "recall": skm.recall_score(y, pred), "f1": skm.f1_score(y, pred),
            "roc_auc": skm.roc_auc_score(y, scores), "average_precision": skm.average_precision_score(y, scores),
            "log_loss": skm.log_loss(y, scores), "brier": skm.brier_score_loss(y, scores),
        }
        got = _by_name(rep["metrics"])
        for name, value in expected.items():
            assert got[name][side] == pytest.approx(value, abs=1e-9), (name, side)
    # and per segment
    eu = next(s for s in rep["segments"] if s["value"] == "EU")
    mask = (frame["region"] == "EU").to_numpy()
    assert eu["rows"] == mask.sum()
    seg = _by_name(eu["metrics"])
    assert seg["roc_auc"]["candidate"] == pytest.approx(skm.roc_auc_score(y[mask], c[mask]), abs=1e-9)
    assert seg["f1"]["baseline"] == pytest.approx(skm.f1_score(y[mask], b[mask] >= 0.5), abs=1e-9)


def test_multiclass_point_values_equal_sklearn() -> None:
    rng = np.random.default_rng(3)
    n, k = 2000, 4
    y = rng.choice(["a", "b", "c", "d"], n)
    yi = np.searchsorted(["a", "b", "c", "d"], y)

    def proba(noise: float) -> np.ndarray:
        logits = rng.normal(0, noise, (n, k))
        logits[np.arange(n), yi] += 1.5
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    c, b = proba(1.0), proba(1.2)
    frame = pd.DataFrame({"y": y, "g": rng.choice(["x", "z"], n)})
    rep = compare_models(frame, task="multiclass", label="y", candidate=c, baseline=b,
                         metrics=["accuracy", "macro_f1", "weighted_f1", "log_loss"], segments=["g"],
                         resamples=50, classes=["a", "b", "c", "d"]).to_report()
    got = _by_name(rep["metrics"])
    labels = np.array(["a", "b", "c", "d"])
    for scores, side in ((c, "candidate"), (b, "baseline")):
        pred = labels[scores.argmax(1)]
        assert got["accuracy"][side] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-9)
        assert got["macro_f1"][side] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-9)
        assert got["weighted_f1"][side] == pytest.approx(skm.f1_score(y, pred, average="weighted"), abs=1e-9)
        assert got["log_loss"][side] == pytest.approx(skm.log_loss(y, scores, labels=labels), abs=1e-9)


def test_regression_point_values_equal_sklearn() -> None:
    rng = np.random.default_rng(4)
    n = 1500
    y = rng.normal(10, 3, n)
    c, b = y + rng.normal(0, 1, n), y + rng.normal(0.2, 1.1, n)
    frame = pd.DataFrame({"y": y, "size": rng.uniform(0, 100, n)})
    rep = compare_models(frame, task="regression", label="y", candidate=c, baseline=b, metrics=["rmse", "mae", "r2"],
                         segments=[BinnedSegment(column="size", bins=[0, 50, 100])], resamples=0).to_report()
    got = _by_name(rep["metrics"])
    for p, side in ((c, "candidate"), (b, "baseline")):
        assert got["rmse"][side] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)), abs=1e-9)
        assert got["mae"][side] == pytest.approx(skm.mean_absolute_error(y, p), abs=1e-9)
        assert got["r2"][side] == pytest.approx(skm.r2_score(y, p), abs=1e-9)
    assert got["rmse"]["ci_low"] < got["rmse"]["delta"] < got["rmse"]["ci_high"]
    assert [s["value"] for s in rep["segments"]] == ["[0, 50)", "[50, 100]"]


def test_midranks_match_scipy() -> None:
    from scipy.stats import rankdata

    x = np.random.default_rng(0).integers(0, 20, 500).astype(float)
    assert np.allclose(midranks(x), rankdata(x))


def _aa_config(max_drop: float = 0.0) -> object:
    return parse_config(f"""
version: 1
models:
  - name: m
    task: binary
    holdout: h
    label: y
    metrics: {{roc_auc: {{max_drop: {max_drop}}}, f1: {{max_drop: {max_drop}}}, log_loss: {{max_drop: {max_drop}}}, average_precision: {{max_drop: {max_drop}}}}}
    segment_policy: {{min_rows: 100, max_drop: 0.0, fdr: 0.05}}
""").models[0]  # type: ignore[attr-defined]


def test_aa_comparisons_rarely_flag_a_regression() -> None:
    """Two scorers of the same quality: the gate must flag no more often than its error rate."""
    policy = _aa_config()
    repeats, flagged_overall, flagged_segments = 150, 0, 0
    metric_checks = 0
    for seed in range(repeats):
        frame, c, b = _binary(1200, 1000 + seed)
        rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=b,
                             metrics=["roc_auc", "f1", "log_loss", "average_precision"], segments=["region"],
                             resamples=300, seed=seed).to_report()
        rep["name"] = "m"
        d = decide_model(rep, policy)  # type: ignore[arg-type]
        metric_checks += len(d.metrics)
        flagged_overall += sum(m.verdict == "regressed" for m in d.metrics)
        flagged_segments += any(f.regressed for f in d.segments)
    # each metric's one-sided error rate is 2.5%; allow binomial slack (mean 15 of 600)
    assert flagged_overall <= 0.025 * metric_checks + 3 * np.sqrt(0.025 * metric_checks)
    # BH at 5% across 12 segment tests keeps whole-report false alarms near 5% or below
    assert flagged_segments <= 0.05 * repeats + 3 * np.sqrt(0.05 * repeats)


def test_a_known_segment_drop_is_caught() -> None:
    frame, c, b = _binary(6000, 7)
    apac = (frame["region"] == "APAC").to_numpy()
    rng = np.random.default_rng(1)
    c = c.copy()
    c[apac] = rng.uniform(0, 1, apac.sum())  # the candidate is useless for APAC
    rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=b,
                         metrics=["roc_auc", "f1"], segments=["region"], resamples=300).to_report()
    rep["name"] = "m"
    policy = _aa_config(0.01)
    d = decide_model(rep, policy)  # type: ignore[arg-type]
    flagged = {(f.value, f.metric) for f in d.segments if f.regressed}
    assert ("APAC", "roc_auc") in flagged
    assert not any(v in ("EU", "NA") for v, _ in flagged)


def test_ci_coverage_of_the_true_auc_difference() -> None:
    """The 95% interval covers the population delta in about 95% of repeats."""
    rng = np.random.default_rng(11)
    covered, repeats = 0, 120
    for i in range(repeats):
        n = 1000
        y = rng.integers(0, 2, n)
        c = 1 / (1 + np.exp(-2 * (y * 1.2 + rng.normal(0, 1, n) - 0.6)))
        b = 1 / (1 + np.exp(-2 * (y * 1.0 + rng.normal(0, 1, n) - 0.5)))
        rep = compare_models(pd.DataFrame({"y": y}), task="binary", label="y", candidate=c, baseline=b,
                             metrics=["roc_auc"], segments=[], resamples=0, seed=i).to_report()
        m = rep["metrics"][0]
        # population AUCs: P(N(1.2,1) > N(0,1)) - P(N(1,1) > N(0,1))
        from scipy.stats import norm

        true = norm.cdf(1.2 / np.sqrt(2)) - norm.cdf(1.0 / np.sqrt(2))
        covered += m["ci_low"] <= true <= m["ci_high"]
    assert covered / repeats >= 0.88


def test_same_seed_same_numbers_other_seed_other_intervals() -> None:
    frame, c, b = _binary(2000, 5)
    kw = dict(task="binary", label="y", candidate=c, baseline=b, metrics=BINARY, segments=["region"], resamples=200)
    r1 = compare_models(frame, seed=1, **kw).to_report()  # type: ignore[arg-type]
    r2 = compare_models(frame, seed=1, **kw).to_report()  # type: ignore[arg-type]
    r3 = compare_models(frame, seed=2, **kw).to_report()  # type: ignore[arg-type]
    assert r1 == r2
    f1 = lambda r: _by_name(r["metrics"])["f1"]  # noqa: E731
    assert f1(r1)["delta"] == f1(r3)["delta"] and f1(r1)["ci_low"] != f1(r3)["ci_low"]


def test_segments_missing_bins_and_crosses() -> None:
    frame = pd.DataFrame({
        "y": [0, 1] * 6,
        "plan": ["a", "b", None, "a", "b", "a", "a", "b", "b", None, "a", "b"],
        "tenure": [1, 5, 6, 30, 60, 70, np.nan, 2, 3, 4, 5, 6],
    })
    s = np.linspace(0.1, 0.9, 12)
    rep = compare_models(frame, task="binary", label="y", candidate=s, baseline=s[::-1], metrics=["accuracy"],
                         segments=["plan", BinnedSegment(column="tenure", bins=[0, 6, 60]),
                                   CrossSegment(cross=["plan", "plan"])], resamples=10).to_report()
    got = [(x["column"], x["value"], x["rows"]) for x in rep["segments"]]
    assert ("plan", "(missing)", 2) in got
    tenure = [(v, r) for c, v, r in got if c == "tenure"]
    assert tenure == [("[0, 6)", 6), ("[6, 60]", 4), ("(out of range)", 1), ("(missing)", 1)]
    assert ("plan × plan", "a × a", 5) in got
    assert sum(r for c, _, r in got if c == "plan") == 12


def test_no_baseline_reports_candidate_only() -> None:
    frame, c, _ = _binary(500, 2)
    rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=None, metrics=BINARY,
                         segments=["region"], resamples=20).to_report()
    for m in rep["metrics"]:
        assert m["candidate"] is not None and m["baseline"] is None and m["ci_low"] is None


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda f, c: (f.iloc[:0], c[:0]), "no rows"),
        (lambda f, c: (f.drop(columns="y"), c), "label column 'y' is not in the holdout"),
        (lambda f, c: (f.assign(y=f["y"].map({0: "no", 1: "yes"})), c), "binary task needs labels 0/1"),
        (lambda f, c: (f, np.where(np.arange(len(c)) < 3, np.nan, c)), "NaN or infinite on 3 row(s)"),
        (lambda f, c: (f, c * 5), "probabilities in [0, 1]"),
        (lambda f, c: (f, c[:-1]), "must be row-aligned"),
        (lambda f, c: (f.assign(y=f["y"].astype(float).where(f.index > 1)), c), "2 missing value(s)"),
    ],
)
def test_bad_input_names_the_cause(mutate, needle: str) -> None:  # type: ignore[no-untyped-def]
    frame, c, b = _binary(100, 0)
    frame, c = mutate(frame, c)
    with pytest.raises(EvaluationError, match=None) as info:
        compare_models(frame, task="binary", label="y", candidate=c, baseline=b[: len(c)] if len(c) else b[:0],
                       metrics=["f1"], segments=[], resamples=10)
    assert needle in str(info.value)


def test_unknown_segment_column_lists_columns() -> None:
    frame, c, b = _binary(100, 0)
    with pytest.raises(EvaluationError, match="segment column 'regoin' is not in the holdout; available columns: y, region"):
        compare_models(frame, task="binary", label="y", candidate=c, baseline=b, metrics=["f1"],
                       segments=["regoin"], resamples=10)


def test_multiclass_unknown_class_and_wrong_shape() -> None:
    frame = pd.DataFrame({"y": ["a", "b", "c"]})
    p = np.full((3, 2), 0.5)
    with pytest.raises(EvaluationError, match="that the model does not know"):
        compare_models(frame, task="multiclass", label="y", candidate=p, baseline=None, metrics=["accuracy"],
                       segments=[], classes=["a", "b"])
    with pytest.raises(EvaluationError, match="one probability column per class"):
        compare_models(frame, task="multiclass", label="y", candidate=p, baseline=None, metrics=["accuracy"],
                       segments=[])
