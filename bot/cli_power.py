"""`mlgate power`: how many holdout rows the gate needs to catch a drop of X in metric M.

Standard errors come from the models themselves, never from a guess: either an earlier
report on this holdout (`--report`) or scores row-aligned with it (`--predictions` with
`candidate` and `baseline` columns, e.g. production scored twice on a pilot). They shrink as
1/sqrt(rows), so one measured se answers the question for any holdout size (bot/power.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from bot.config import ModelConfig

POWER_CHOICES = (0.8, 0.9, 0.95)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=".github/mlgate.yml", help="policy file (default: %(default)s)")
    parser.add_argument("--holdout", required=True, metavar="FILE", help="the holdout (its rows and labels)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--report", metavar="FILE", help="an mlgate-report.json of an earlier evaluation on this holdout")
    src.add_argument("--predictions", metavar="FILE",
                     help="scores row-aligned with the holdout: columns `candidate` and `baseline`")
    parser.add_argument("--model", help="the config entry (default: the only one)")
    parser.add_argument("--metric", required=True, help="e.g. roc_auc")
    parser.add_argument("--drop", required=True, type=float, help="the true drop to catch, e.g. 0.01")
    parser.add_argument("--power", type=float, choices=POWER_CHOICES, default=0.8, help="default: %(default)s")


def _fail(message: str) -> int:
    print(f"mlgate: error: {' '.join(str(message).split())[:500]}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Print the rows needed; 2 on bad input."""
    from bot import report as report_io
    from bot.cli_evaluate import InputError, _read_table
    from bot.config import ConfigError, load_config
    from bot.gate import model_budget
    from bot.numbers import plain_number as num
    from bot.power import change_word, detectable, rows_needed

    try:
        config = load_config(args.config)
        mc = config.model(args.model)
    except ConfigError as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else "invalid config")
    except KeyError as exc:
        return _fail(str(exc.args[0]) if exc.args else "unknown model")
    if args.metric not in mc.gating_metrics:
        return _fail(f"{args.metric!r} is not a gating metric of {mc.name}; choose from {', '.join(mc.gating_metrics)}")
    if not args.drop > 0:
        return _fail(f"--drop must be a positive drop, e.g. 0.01 (got {args.drop})")
    try:
        frame = _read_table(Path(args.holdout), "holdout")
        rows = len(frame)
        measured = _measured(args, mc, frame)
    except (InputError, report_io.ReportError) as exc:
        return _fail(str(exc))
    comp = next((m for m in measured.get("metrics", []) if m["name"] == args.metric), None)
    if comp is None:
        return _fail(f"that input has no {args.metric} for {mc.name}; evaluate it with that metric first")
    se, measured_rows = comp.get("se"), int(comp["rows"])
    if se is None:
        return _fail(f"{args.metric} has no standard error in that input (too few rows or an undefined metric)")
    se_here = se * (measured_rows / rows) ** 0.5
    # the critical value of all the model's tests (segments included), as measured
    z = model_budget(measured, mc).critical
    # the gate's tolerance: `max_drop: 5%` is 5% of the measured baseline value, in the metric's units
    policy = mc.metrics[args.metric]
    max_drop, said = policy.tolerance(comp.get("baseline")), policy.tolerance_text(comp.get("baseline"))
    need = rows_needed(se_here, rows, args.drop, z, args.power, max_drop)
    smallest = detectable(se_here, z, args.power)
    # a loss (rmse in dollars) regresses by rising, and its numbers are never written 1.59e+03
    change = change_word(bool(comp.get("higher_is_better", True)))
    print(f"{mc.name} {args.metric}: with {rows:,} holdout rows the smallest {change} told from noise at "
          f"{args.power:.0%} power is {num(smallest)} (se {num(se_here)}, critical value {num(z)}); "
          f"the gate catches a {change} of max_drop + that = {num(max_drop + smallest)} with that power.")
    if need is None:
        print(f"A {change} of {num(args.drop)} is within max_drop ({said}): the gate tolerates it by design; "
              "lower max_drop to catch it.")
        return 0
    print(f"To catch a true {change} of {num(args.drop)} with {args.power:.0%} power the holdout needs about "
          f"{need:,} rows ({'enough' if need <= rows else f'{need / rows:.1f}x the current {rows:,}'}).")
    return 0


def _measured(args: argparse.Namespace, mc: ModelConfig, frame: pd.DataFrame) -> dict[str, Any]:
    """The model's part of a report: from --report, or computed from --predictions on the holdout."""
    from bot import report as report_io
    from bot.cli_evaluate import InputError, _pred_columns, _read_table
    from bot.evaluation import EvaluationError, compare_models

    if args.report:
        report = report_io.load(args.report)
        for rm in report["models"]:
            if rm["name"] == mc.name:
                return rm  # type: ignore[no-any-return]
        raise InputError(f"the report has no model {mc.name}")
    path = Path(args.predictions)
    preds = _read_table(path, "predictions")
    if len(preds) != len(frame):
        raise InputError(f"predictions {path} has {len(preds)} rows but the holdout has {len(frame)}; "
                         "they must be row-aligned")
    classes = sorted(frame[mc.label].dropna().unique().tolist()) if mc.task == "multiclass" else None
    try:
        result = compare_models(frame, task=mc.task, label=mc.label,
                                candidate=_pred_columns(preds, "candidate", mc, classes, path),
                                baseline=_pred_columns(preds, "baseline", mc, classes, path),
                                metrics=list(mc.metrics), segments=list(mc.segments), confidence=mc.confidence,
                                classes=classes)
    except EvaluationError as exc:
        raise InputError(str(exc)) from None
    return {"name": mc.name, "baseline": {}, **result.to_report()}
