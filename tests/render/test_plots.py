"""report.html's curves (issue #14 item 5): condensed at evaluate time, drawn as static SVG by matplotlib."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot import render
from bot.evaluation.metrics import roc_auc
from bot.gate import decide
from bot.render import plots
from bot.report import validate
from tests.render.cases import CASES

CONFIG = """\
version: 1
models:
  - name: churn
    task: binary
    holdout: holdout.csv
    label: churned
    segments: [region]
    metrics:
      roc_auc: {max_drop: 0.01}
    resamples: 50
"""


def _binary(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    good = 1 / (1 + np.exp(-2 * x + rng.normal(scale=0.3, size=n)))
    worse = 1 / (1 + np.exp(-0.7 * x + rng.normal(scale=1.0, size=n)))
    return y, good, worse


def _with_curves(case: str, curves: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    build, config = CASES[case]
    report = build()
    report["models"][0]["curves"] = curves
    report = validate(report)  # the schema accepts what curve_data writes
    return report, decide(report, config)


def test_binary_curves_are_the_models_curves() -> None:
    y, cand, base = _binary()
    curves = plots.curve_data("binary", y, cand, base, None)
    for role, scores in (("candidate", cand), ("baseline", base)):
        c = curves[role]
        fpr, tpr = np.array(c["roc"]["fpr"]), np.array(c["roc"]["tpr"])
        assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1) and len(fpr) <= plots.CURVE_POINTS + 1
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
        assert abs(np.trapezoid(tpr, fpr) - roc_auc(y, scores)) < 0.005  # thinned, still the same area
        assert sum(c["calibration"]["count"]) == len(y)
        assert sum(map(sum, c["confusion"]["matrix"])) == len(y)
        assert c["confusion"]["matrix"][1][1] == int(((scores >= 0.5) & (y == 1)).sum())
    assert np.trapezoid(curves["candidate"]["roc"]["tpr"], curves["candidate"]["roc"]["fpr"]) > \
        np.trapezoid(curves["baseline"]["roc"]["tpr"], curves["baseline"]["roc"]["fpr"])


def test_scores_that_are_not_probabilities_get_no_calibration() -> None:
    y, cand, _ = _binary()
    c = plots.curve_data("binary", y, cand * 10 - 5, None, None)["candidate"]
    assert set(c) == {"roc", "pr"}


def test_report_html_embeds_every_plot_as_inert_svg() -> None:
    pytest.importorskip("matplotlib")
    y, cand, base = _binary()
    report, decision = _with_curves("failing", plots.curve_data("binary", y, cand, base, None))
    html = render.render_html(report, decision)
    titles = re.findall(r"<figcaption>(.*?)</figcaption>", html)
    assert titles == ["ROC curve", "Precision-recall curve", "Calibration", "Confusion matrix, candidate",
                      "Confusion matrix, baseline"]
    assert html.count("<svg") == len(titles) + 1  # and the segment chart
    assert "<script" not in html and "foreignObject" not in html and not re.search(r"\son\w+=", html)
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "two plots share an element id"
    assert all(ref in ids for ref in re.findall(r'(?:href="#|url\(#)([^")]+)', html))
    assert "default-src 'none'" in html and plots.PLOTS_MISSING not in html


def test_plots_can_be_left_out() -> None:
    y, cand, base = _binary()
    report, decision = _with_curves("failing", plots.curve_data("binary", y, cand, base, None))
    html = render.render_html(report, decision, draw_plots=False)
    assert "<figure>" not in html and "Plots need" not in html and 'class="chart"' in html


def test_hostile_class_labels_are_text_in_the_svg() -> None:
    pytest.importorskip("matplotlib")
    classes = ["<script>alert(1)</script>", "$\\frac{a}{b}$", "a&b"]
    rng = np.random.default_rng(1)
    y = rng.choice(classes, size=300)
    proba = rng.dirichlet([1, 1, 1], size=300)
    curves = plots.curve_data("multiclass", y, proba, None, classes)
    svgs = "".join(p["svg"] for p in plots.render_plots(curves, "t"))
    assert "<script" not in svgs and "&lt;script&gt;" in svgs
    assert "$\\frac{a}{b}$" in svgs  # math text is off: shown as typed, not parsed
    assert "a&amp;b" in svgs


def test_without_matplotlib_the_report_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    y, cand, base = _binary()
    report, decision = _with_curves("failing", plots.curve_data("binary", y, cand, base, None))
    monkeypatch.setattr(plots, "plots_available", lambda: False)
    html = render.render_html(report, decision)
    assert "Plots need matplotlib: pip install &#39;mlgate[plots]&#39;" in html and "<figure>" not in html


def test_regression_residuals() -> None:
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(2)
    y = rng.normal(100_000, 20_000, size=2000)
    pred = y + rng.normal(0, 5000, size=2000)
    curves = plots.curve_data("regression", y, pred, pred * 1.01, None)
    assert len(curves["candidate"]["residuals"]["predicted"]) == plots.RESIDUAL_POINTS
    figures = plots.render_plots(curves, "r")
    assert [f["title"] for f in figures] == ["Residuals (label − prediction)"]


def test_mlgate_evaluate_writes_the_curves_and_draws_them(tmp_path: Path) -> None:
    y, cand, base = _binary(2000)
    region = np.random.default_rng(3).choice(["EU", "NA"], size=len(y))
    pd.DataFrame({"region": region, "x": cand, "churned": y}).to_csv(tmp_path / "holdout.csv", index=False)
    pd.DataFrame({"candidate": cand, "baseline": base}).to_csv(tmp_path / "scores.csv", index=False)
    (tmp_path / "mlgate.yml").write_text(CONFIG)
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(tmp_path / "mlgate.yml"),
         "--root", str(tmp_path), "--predictions", str(tmp_path / "scores.csv"),
         "--out", str(tmp_path / "r.json"), "--html", str(tmp_path / "report.html")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert res.returncode in (0, 1), res.stderr
    from bot import report as report_io

    curves = report_io.load(tmp_path / "r.json")["models"][0]["curves"]
    assert set(curves) == {"candidate", "baseline"} and set(curves["candidate"]) == {"roc", "pr", "calibration",
                                                                                     "confusion"}
    html = (tmp_path / "report.html").read_text()
    assert ("<figcaption>ROC curve</figcaption>" in html) == plots.plots_available()
