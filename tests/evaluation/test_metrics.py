"""Point values equal scikit-learn's to 1e-9, overall and in every segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from bot.config import BinnedSegment
from bot.evaluation import compare_models
from bot.evaluation.metrics import SPECS, midranks
from tests.evaluation.helpers import BINARY, MULTICLASS, REGRESSION, binary_holdout, by_name


def _sk_binary(y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
    pred = s >= 0.5
    both = len(np.unique(y)) == 2
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        # without a positive label recall and F1 are undefined (sklearn's zero_division=0 said 0,
        # which let a candidate wrong on every row read as "unchanged"); the gate needs to know
        "recall": skm.recall_score(y, pred, zero_division=0) if y.sum() > 0 else None,
        "f1": skm.f1_score(y, pred, zero_division=0) if y.sum() > 0 else None,
        "roc_auc": skm.roc_auc_score(y, s) if both else None,
        "average_precision": skm.average_precision_score(y, s) if y.sum() > 0 else None,
        "log_loss": skm.log_loss(y, s, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, s, labels=[0, 1]) if both else float(np.mean((s - y) ** 2)),
    }


def _assert_close(got: dict, expected: dict[str, float | None], side: str, where: str) -> None:  # type: ignore[type-arg]
    for name, value in expected.items():
        if value is None:
            assert got[name][side] is None, (name, side, where)
        else:
            assert got[name][side] == pytest.approx(value, abs=1e-9, rel=0), (name, side, where)
            assert type(got[name][side]) is float


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_binary_equals_sklearn_overall_and_per_segment(seed: int, ties: bool) -> None:
    frame, c, b = binary_holdout(2500, seed, ties=ties, regions=5)
    # a tiny segment with a single class exercises the undefined cases
    frame.loc[:2, "region"] = "tiny"
    frame.loc[:2, "y"] = 0
    rep = compare_models(frame, task="binary", label="y", candidate=c, baseline=b, metrics=BINARY,
                         segments=["region"], resamples=20, seed=seed).to_report()
    y = frame["y"].to_numpy()
    for scores, side in ((c, "candidate"), (b, "baseline")):
        _assert_close(by_name(rep["metrics"]), _sk_binary(y, scores), side, "overall")
        for seg in rep["segments"]:
            mask = (frame["region"] == seg["value"]).to_numpy()
            assert seg["rows"] == mask.sum()
            _assert_close(by_name(seg["metrics"]), _sk_binary(y[mask], scores[mask]), side, seg["value"])
    assert {s["value"] for s in rep["segments"]} == {"EU", "NA", "APAC", "LATAM", "MEA", "tiny"}


@pytest.mark.parametrize("seed", [3, 4])
def test_multiclass_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, labels = 2000, np.array(["a", "b", "c", "d"])
    yi = rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05])
    y = labels[yi]

    def proba(noise: float, boost: float) -> np.ndarray:
        logits = rng.normal(0, noise, (n, 4))
        logits[np.arange(n), yi] += boost
        logits[:, 3] -= 3  # class d is (almost) never predicted: zero_division paths
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    c, b = proba(1.0, 1.5), proba(1.2, 1.4)
    frame = pd.DataFrame({"y": y, "g": rng.choice(["x", "z"], n)})
    rep = compare_models(frame, task="multiclass", label="y", candidate=c, baseline=b, metrics=MULTICLASS,
                         segments=["g"], resamples=50, classes=list(labels)).to_report()
    for stats, mask in [(rep["metrics"], np.ones(n, bool))] + [
        (s["metrics"], (frame["g"] == s["value"]).to_numpy()) for s in rep["segments"]
    ]:
        got = by_name(stats)
        for scores, side in ((c, "candidate"), (b, "baseline")):
            pred = labels[scores[mask].argmax(1)]
            yt = y[mask]
            assert got["accuracy"][side] == pytest.approx(skm.accuracy_score(yt, pred), abs=1e-9)
            assert got["macro_f1"][side] == pytest.approx(
                skm.f1_score(yt, pred, average="macro", zero_division=0), abs=1e-9)
            assert got["weighted_f1"][side] == pytest.approx(
                skm.f1_score(yt, pred, average="weighted", zero_division=0), abs=1e-9)
            assert got["log_loss"][side] == pytest.approx(skm.log_loss(yt, scores[mask], labels=labels), abs=1e-9)


@pytest.mark.parametrize("resamples", [0, 100])
def test_regression_equals_sklearn(resamples: int) -> None:
    rng = np.random.default_rng(4)
    n = 1500
    y = rng.normal(10, 3, n)
    c, b = y + rng.normal(0, 1, n), y + rng.normal(0.2, 1.1, n)
    frame = pd.DataFrame({"y": y, "size": rng.uniform(0, 100, n)})
    rep = compare_models(frame, task="regression", label="y", candidate=c, baseline=b, metrics=REGRESSION,
                         segments=[BinnedSegment(column="size", bins=[0, 50, 100])],
                         resamples=resamples).to_report()
    for stats, mask in [(rep["metrics"], np.ones(n, bool))] + [
        (s["metrics"], (frame["size"] < 50).to_numpy() if s["value"] == "[0, 50)" else (frame["size"] >= 50).to_numpy())
        for s in rep["segments"]
    ]:
        got = by_name(stats)
        for p, side in ((c, "candidate"), (b, "baseline")):
            assert got["rmse"][side] == pytest.approx(np.sqrt(skm.mean_squared_error(y[mask], p[mask])), abs=1e-9)
            assert got["mae"][side] == pytest.approx(skm.mean_absolute_error(y[mask], p[mask]), abs=1e-9)
            assert got["r2"][side] == pytest.approx(skm.r2_score(y[mask], p[mask]), abs=1e-9)
    assert [s["value"] for s in rep["segments"]] == ["[0, 50)", "[50, 100]"]


def test_constant_labels_r2_follows_sklearn_convention() -> None:
    y = np.full(50, 3.0)
    p = y + np.linspace(-1, 1, 50)
    rep = compare_models(pd.DataFrame({"y": y}), task="regression", label="y", candidate=y.copy(), baseline=p,
                         metrics=["r2"], segments=[], resamples=0).to_report()
    r2 = rep["metrics"][0]
    assert r2["candidate"] == skm.r2_score(y, y) and r2["baseline"] == skm.r2_score(y, p)
    assert r2["ci_low"] is None  # no variance to speak of


def test_direction_of_every_metric() -> None:
    lower = {"log_loss", "brier", "rmse", "mae"}
    for task, specs in SPECS.items():
        for name, spec in specs.items():
            assert spec.higher_is_better == (name not in lower), (task, name)


def test_midranks_match_scipy() -> None:
    from scipy.stats import rankdata

    x = np.random.default_rng(0).integers(0, 20, 500).astype(float)
    assert np.allclose(midranks(x), rankdata(x))


def test_many_classes_use_the_delta_method_and_still_equal_sklearn() -> None:
    """Above 16 classes the joint cell table is too big to bootstrap: the delta method is used."""
    rng = np.random.default_rng(8)
    n, k = 3000, 20
    yi = rng.integers(0, k, n)

    def proba(noise: float) -> np.ndarray:
        logits = rng.normal(0, noise, (n, k))
        logits[np.arange(n), yi] += 2.0
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    c, b = proba(1.0), proba(1.1)
    rep = compare_models(pd.DataFrame({"y": yi}), task="multiclass", label="y", candidate=c, baseline=b,
                         metrics=MULTICLASS, segments=[], resamples=200).to_report()
    got = by_name(rep["metrics"])
    assert got["macro_f1"]["method"] == "delta" and got["macro_f1"]["se"] > 0
    assert got["macro_f1"]["candidate"] == pytest.approx(skm.f1_score(yi, c.argmax(1), average="macro"), abs=1e-9)
    assert got["accuracy"]["ci_low"] < got["accuracy"]["delta"] < got["accuracy"]["ci_high"]
    # integer labels are ordered numerically, matching the probability columns
    assert got["log_loss"]["candidate"] == pytest.approx(skm.log_loss(yi, c, labels=list(range(k))), abs=1e-9)
