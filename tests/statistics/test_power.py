"""The power advisor: detectable drops from the standard errors, rows needed, and the warning."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from bot.power import Advice, advise, detectable, rows_needed
from tests.statistics.simulate import evaluate, holdout, policy


def test_detectable_drop_and_rows_needed_follow_the_normal_power_formula() -> None:
    z = 2.2
    d = detectable(0.004, z, 0.8)
    assert abs(d - (z + norm.ppf(0.8)) * 0.004) < 1e-12
    # the gate catches max_drop + d with 80% power in the normal model
    assert abs(norm.cdf(d / 0.004 - z) - 0.8) < 1e-9
    n = rows_needed(0.004, 10_000, drop=0.005 + d / 2, critical=z, power=0.8, max_drop=0.005)
    assert n is not None and abs(n - 40_000) <= 1  # half the margin needs four times the rows
    assert rows_needed(0.004, 10_000, drop=0.004, critical=z, power=0.8, max_drop=0.005) is None


def test_the_example_tolerance_is_flagged_as_below_what_10k_rows_resolve() -> None:
    """Before: equal candidates came out 'inconclusive' ~80% of runs and nothing said why."""
    pol = policy()
    rep, _ = evaluate(holdout(np.random.default_rng(5)), pol)
    advice = advise(rep, pol)
    auc = [a for a in advice if a.metric == "roc_auc" and a.column is None][0]
    assert auc.critical > 1.64 and auc.se is not None and auc.detectable_80 is not None
    assert auc.detectable_90 is not None and auc.detectable_90 > auc.detectable_80
    assert auc.resolvable is False
    warning = auc.warning()
    assert warning is not None and warning.startswith("with 10,000 rows a 0.005 drop in roc_auc cannot be told from noise")
    segs = [a for a in advice if a.column is not None]
    assert segs and all(a.metric == "roc_auc" and a.rows >= 200 for a in segs)
    assert Advice(**{k: v for k, v in auc.to_dict().items() if k != "resolvable"}) == auc


def test_comment_and_check_carry_the_advisor_note_the_promise_and_what_inconclusive_means() -> None:
    """A report whose roc_auc tolerance is below the holdout's resolution: the comment and the
    check summary say so, state the error rate, and say what to do about 'inconclusive'."""
    from bot import render
    from bot.gate import decide
    from bot.power import advise
    from bot.report import validate
    from tests.render.cases import CHURN, REPORTS, load_report

    report = load_report(REPORTS / "passing.json")
    rm = report["models"][0]
    policy = CHURN.model(rm["name"])
    rm["power"] = [a.to_dict() for a in advise(rm, policy)]
    validate(report)
    auc = [p for p in rm["power"] if p["metric"] == "roc_auc" and p["column"] is None][0]
    assert auc["resolvable"] is False  # 0.005 at 8,000 rows
    decision = decide(report, CHURN)
    comment = render.render_comment(report, decision)
    _, summary = render.render_check_summary(report, decision)
    for text in (comment, summary):
        assert "with 8,000 rows a 0.005 drop in roc\\_auc cannot be told from noise; the smallest detectable is" in text
        assert "Error rate: an equal-quality candidate fails this gate at most 5% of the time" in text
        assert "Evaluate on more holdout rows (`mlgate power` says how many) or widen `max_drop`" in text
