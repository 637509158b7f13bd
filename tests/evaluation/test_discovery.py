"""Slice discovery (issue #15): predicates, search, honest confirmation, and its error rates.

The two simulations are small versions of the measures in docs/statistics.md: with two equal
models a confirmed slice must be rare (at most about alpha of the runs), and a planted
two-column regression must be found and confirmed in most runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.evaluation.discovery import (
    DiscoveryError,
    build_features,
    discover,
    feature_columns,
    search,
)
from bot.evaluation.paired import Scored
from tests.evaluation.discovery_sim import PLANTED, holdout


def _run(seed: int, planted: bool, **kw: object):  # type: ignore[no-untyped-def]
    frame, y, cand, base, _ = holdout(seed, planted=planted)
    return discover(frame, Scored("binary", y, cand, base), label="y", metrics=["roc_auc"], seed=seed, **kw)


def test_finds_and_confirms_the_planted_two_column_slice_with_its_auc_drop() -> None:
    found = _run(7, planted=True)
    top = found.slices[0]
    assert top.confirmed and {p.text for p in top.predicates} == PLANTED
    assert top.q_value is not None and top.q_value < 0.001
    auc = top.metrics[0]
    assert auc.name == "roc_auc" and auc.delta is not None and auc.delta < -0.08
    assert auc.ci_high is not None and auc.ci_high < 0
    assert top.confirm_rows < top.rows  # the statistics come from the half the search never saw
    assert abs(top.confirm_rows + top.search_rows - top.rows) == 0
    # its parents (a = P, b = b3) are not reported as findings of their own
    assert not any(s.confirmed and len(s.predicates) == 1 and s.predicates[0].text in PLANTED
                   for s in found.slices)
    report = found.to_report()
    assert report["discovered_slices"][0]["text"] in ("a = P and b = b3", "b = b3 and a = P")
    assert report["discovery"]["search_rows"] + report["discovery"]["confirm_rows"] == 20_000


def test_equal_models_rarely_give_a_confirmed_slice() -> None:
    runs = 100
    confirmed = sum(any(s.confirmed for s in _run(10_000 + r, planted=False).slices) for r in range(runs))
    # alpha = 0.05; confirming on the rows the search saw would confirm in nearly every run
    assert confirmed <= 10, f"{confirmed} of {runs} A/A runs confirmed a slice"


def test_planted_slice_is_found_in_most_runs() -> None:
    runs = 30
    hits = 0
    for r in range(runs):
        found = _run(20_000 + r, planted=True)
        hits += any(s.confirmed and {p.text for p in s.predicates} == PLANTED for s in found.slices)
    assert hits >= 24, f"planted slice confirmed in {hits} of {runs} runs"


def test_same_seed_same_slices_and_search_half_depends_on_seed() -> None:
    a, b = _run(3, planted=True), _run(3, planted=True)
    assert [s.text for s in a.slices] == [s.text for s in b.slices]
    assert a.slices[0].search_rows == b.slices[0].search_rows


def test_predicates_bins_rare_values_and_missing() -> None:
    n = 2000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "tenure": rng.integers(0, 100, n).astype(float),
        "country": np.where(np.arange(n) < 30, "XX", np.where(np.arange(n) < 40, "YY", "DE")),
        "y": rng.integers(0, 2, n),
    })
    frame.loc[:9, "tenure"] = np.nan
    features = {f.column: f for f in build_features(frame, ["tenure", "country"], min_rows=50)}
    texts = [p.text for p in features["tenure"].predicates]
    assert texts[0].startswith("tenure < ") and texts[-1] == "tenure is missing"
    assert any("≤ tenure <" in t for t in texts)
    assert int(features["tenure"].holds(len(texts) - 1).sum()) == 10
    below = [i for i, t in enumerate(texts) if t.startswith("tenure < ")]
    assert len(below) >= 2  # the first bin and thresholds that span bins
    counts = [int(features["tenure"].holds(i).sum()) for i in below]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    country = [p.text for p in features["country"].predicates]
    assert country[0] == "country = DE"
    assert country[1] == "country is one of 2 rare values (XX, YY)"  # 30 and 10 rows < min_rows: pooled
    assert int((features["country"].codes == 1).sum()) == 40


def test_columns_default_skip_label_and_ids_and_listed_columns_are_checked() -> None:
    frame, *_ = holdout(0, n=500)
    assert feature_columns(frame, "y", None, []) == ["a", "b", "c", "x", "w"]
    assert feature_columns(frame, "y", None, ["c"]) == ["a", "b", "x", "w"]
    with pytest.raises(DiscoveryError, match=r"discovery.columns \['nope'\] are not in the holdout"):
        feature_columns(frame, "y", ["a", "nope"], [])


def test_a_configured_segment_is_not_reported_twice() -> None:
    frame, y, cand, base, _ = holdout(5)
    # the candidate is worse on all of a = Q: without the segment, discovery reports it
    rng = np.random.default_rng(1)
    q = frame["a"].to_numpy() == "Q"
    cand = np.where(q, np.clip(cand + rng.normal(0, 0.3, len(cand)), 0.001, 0.999), cand)
    scored = Scored("binary", y, cand, base)
    plain = discover(frame, scored, label="y", seed=1)
    assert any(s.text == "a = Q" and s.confirmed for s in plain.slices)
    with_segment = discover(frame, scored, label="y", seed=1, segments=["a"])
    assert not any(s.text == "a = Q" for s in with_segment.slices)


def test_search_prunes_small_slices_and_needs_noise() -> None:
    frame, y, cand, base, _ = holdout(1, n=4000)
    features = build_features(frame, ["a", "b"], min_rows=100)
    d = np.zeros(len(frame))
    assert search(features, d, 100, 2) == ([], 0)  # identical losses: nothing to find
    d = np.random.default_rng(0).normal(size=len(frame))
    pool, scored = search(features, d, 100, 2)
    assert scored > 0 and all(c.rows >= 100 for c in pool)
    deep, scored3 = search(features, d, 100, 3)
    assert scored3 >= scored


def test_depth_three_finds_a_three_column_slice() -> None:
    frame, y, cand, base, mask = holdout(11, n=40_000, planted=False)
    three = mask & (frame["c"].to_numpy() == "c0")  # a = P and b = b3 and c = c0: about 0.5%
    rng = np.random.default_rng(2)
    cand = np.where(three, np.clip(1 - base + rng.normal(0, 0.05, len(base)), 0.001, 0.999), cand)
    found = discover(frame, Scored("binary", y, cand, base), label="y", max_depth=3, min_rows=100, seed=2)
    assert {p.text for p in found.slices[0].predicates} == {"a = P", "b = b3", "c = c0"}
    assert found.slices[0].confirmed


def test_regression_uses_squared_error() -> None:
    frame, y, cand, base, mask = holdout(4)
    yr = frame["x"].to_numpy() * 2
    rng = np.random.default_rng(0)
    b = yr + rng.normal(0, 0.5, len(yr))
    c = yr + rng.normal(0, np.where(mask, 2.0, 0.5))
    found = discover(frame.drop(columns=["x"]), Scored("regression", yr, c, b), label="y", metrics=["rmse"], seed=4)
    assert found.loss == "squared_error"
    assert found.slices[0].confirmed and {p.text for p in found.slices[0].predicates} == PLANTED
    assert found.slices[0].metrics[0].name == "rmse" and found.slices[0].metrics[0].delta > 0


def test_without_a_baseline_discovery_refuses() -> None:
    frame, y, cand, _, _ = holdout(0, n=500)
    with pytest.raises(DiscoveryError, match="baseline"):
        discover(frame, Scored("binary", y, cand, None), label="y")


CONFIG = """version: 1
models:
  - name: m
    task: binary
    holdout: h.csv
    label: y
    discovery: %s
"""


@pytest.mark.parametrize(("block", "message"), [
    ("{max_depth: 4}", "mlgate.yml:7: models[0].discovery.max_depth must be a number <= 3, got 4"),
    ("{gate: maybe}", "models[0].discovery.gate must be one of 'review', 'fail' or 'off'"),
    ("{columns: [a], exclude: [a]}", "columns ['a'] are both listed and excluded"),
    ("{columns: [y]}", "discovery.columns lists the label 'y'"),
    ("{min_rows: 5}", "discovery.min_rows must be a number >= 20"),
    ("{colums: [a]}", "unknown key 'colums' in models[0].discovery (did you mean 'columns'?)"),
])
def test_config_block_is_validated_with_clear_errors(block: str, message: str) -> None:
    from bot.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as err:
        parse_config(CONFIG % block)
    assert message in str(err.value)


def test_config_defaults() -> None:
    from bot.config import parse_config

    d = parse_config(CONFIG % "{}").models[0].discovery
    assert d is not None and (d.max_depth, d.min_rows, d.top_k, d.gate, d.columns) == (2, 200, 5, "review", None)
    assert parse_config((CONFIG % "{}").replace("    discovery: {}\n", "")).models[0].discovery is None
    off = parse_config(CONFIG % "{gate: off}").models[0].discovery  # YAML 1.1 reads a bare off as false
    assert off is not None and off.gate == "off"


EVAL_CONFIG = """version: 1
paths: {{data: ["data/**"]}}
models:
  - name: m
    task: binary
    holdout: data/holdout.parquet
    label: y
    segments: [c]
    metrics: {{roc_auc: {{max_drop: 0.02}}}}
{discovery}
"""


def _evaluate(tmp_path, discovery: str, planted: bool = True):  # type: ignore[no-untyped-def]
    """`mlgate evaluate` in process on a simulated holdout with precomputed scores."""
    from bot.cli import main

    frame, y, cand, base, _ = holdout(3, planted=planted)
    (tmp_path / ".github").mkdir(exist_ok=True)
    (tmp_path / "data").mkdir(exist_ok=True)
    frame.to_parquet(tmp_path / "data" / "holdout.parquet")
    pd.DataFrame({"candidate": cand, "baseline": base}).to_csv(tmp_path / "scores.csv", index=False)
    (tmp_path / ".github" / "mlgate.yml").write_text(EVAL_CONFIG.format(discovery=discovery))
    code = main(["evaluate", "--config", str(tmp_path / ".github" / "mlgate.yml"), "--root", str(tmp_path),
                 "--predictions", str(tmp_path / "scores.csv"), "--out", str(tmp_path / "r.json"), "--no-progress"])
    from bot import report as report_io

    return code, report_io.load(tmp_path / "r.json")


def test_evaluate_writes_discovered_slices_and_review_gate_asks_for_a_reviewer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.config import load_config
    from bot.gate import decide

    code, report = _evaluate(tmp_path, "    discovery: {top_k: 3}")
    assert code == 0  # gate: review passes the evaluation and asks for a review
    rm = report["models"][0]
    top = rm["discovered_slices"][0]
    assert top["confirmed"] and {p["text"] for p in top["predicates"]} == PLANTED
    assert top["metrics"][0]["name"] == "roc_auc" and top["metrics"][0]["delta"] < 0
    assert rm["discovery"]["tested"] <= 6 and rm["discovery"]["columns"] == ["a", "b", "c", "x", "w"]
    assert not any(s["text"].startswith("c = ") and len(s["predicates"]) == 1 for s in rm["discovered_slices"])
    config = load_config(tmp_path / ".github" / "mlgate.yml")
    decision = decide(report, config)
    assert decision.outcome == "pass" and decision.discovered_review
    assert decision.review_required(["regression"])  # no regression, no data change: only the slice
    from bot.review_gate import required_reasons

    assert "mlgate found slices where the candidate is worse (discovery.gate: review)" in required_reasons(
        ["regression"], decision)


def test_gate_fail_fails_and_gate_off_only_reports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.config import parse_config
    from bot.gate import decide

    code, report = _evaluate(tmp_path, "    discovery: {gate: fail}")
    assert code == 1
    assert report["models"][0]["discovery"]["level"] == 0.025  # fail shares alpha with the metric tests
    text = (tmp_path / ".github" / "mlgate.yml").read_text()
    failing = decide(report, parse_config(text))
    found = [r for r in failing.reasons if "mlgate found the candidate worse on" in r]
    # only the planted slice: bins of other columns that cut through it are explained by it
    assert len(found) == 1 and ("a = P and b = b3" in found[0] or "b = b3 and a = P" in found[0])
    off = decide(report, parse_config(text.replace("gate: fail", "gate: off")))
    assert off.outcome == "pass" and not off.discovered_review and not off.review_required(["regression"])
    # the App's policy decides: without a discovery block there, the report's slices gate nothing
    plain = decide(report, parse_config(text.replace("    discovery: {gate: fail}\n", "")))
    assert plain.outcome == "pass" and not plain.review_required(["regression"])


def test_equal_models_pass_without_review(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.config import load_config
    from bot.gate import decide

    code, report = _evaluate(tmp_path, "    discovery: {}", planted=False)
    assert code == 0
    assert not any(s["confirmed"] for s in report["models"][0]["discovered_slices"])
    assert not decide(report, load_config(tmp_path / ".github" / "mlgate.yml")).review_required(["regression"])


def test_comment_shows_top_confirmed_slices_escaped_and_html_the_whole_list() -> None:
    import copy

    from bot import render
    from bot.gate import decide
    from tests.render.cases import CASES

    build, config = CASES["discovered"]
    report = copy.deepcopy(build())
    rm = report["models"][0]
    hostile = "region = <img src=x onerror=alert(1)> | `x` [a](http://evil)"
    rm["discovered_slices"][0]["text"] = hostile
    decision = decide(report, config)
    text = render.render_comment(report, decision)
    section = text.split("**Slices mlgate found**", 1)[1].split("### Data", 1)[0]
    assert "<img" not in section and "](http" not in section and "| `x`" not in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| slice")]
    assert len(rows) == sum(1 for s in rm["discovered_slices"] if s["confirmed"])  # top_k 3 >= confirmed
    html = render.render_html(report, decision)
    assert "&lt;img src=x" in html and "<img" not in html
    table = html.split("Slices mlgate found", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr") == len(rm["discovered_slices"]) + 1  # every slice tested, and the header


def test_comment_without_confirmed_slices_says_so() -> None:
    from bot import render
    from bot.gate import decide
    from tests.render.cases import CASES

    build, config = CASES["discovered"]
    report = build()
    for s in report["models"][0]["discovered_slices"]:
        s["confirmed"], s["q_value"] = False, 0.5
    text = render.render_comment(report, decide(report, config))
    assert "confirmed none where the candidate is worse than the baseline on rows the search never saw" in text
