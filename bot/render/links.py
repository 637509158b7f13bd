"""Links into the MLflow UI (MLflow 3's routes), for the comment and the dashboard.

The host comes only from the operator's setting (`MLGATE_MLFLOW_UI_URL`); every id comes from
an untrusted report, so each is URL-quoted as one path segment, and the whole link still passes
`safe_url`. The evaluation run's ids must also have the shape MLflow gives them (a run id of 32
hex digits, a numeric experiment id), else there is no link. A link whose id the report does not
hold is not made (never guessed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bot.render.text import safe_url

MAX_ID = 256
RUN_ID = re.compile(r"[0-9a-f]{32}")  # what MLflow's stores give a run (uuid4().hex)
EXPERIMENT_ID = re.compile(r"[0-9]{1,19}")


def _segment(value: object) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    s = str(value)
    return quote(s, safe="") if s and len(s) <= MAX_ID else None


def run_url(ui: str | None, experiment_id: object, run_id: object) -> str | None:
    """`{ui}/#/experiments/{experiment_id}/runs/{run_id}`, or None without the setting or an id."""
    exp, run = _segment(experiment_id), _segment(run_id)
    if not ui or exp is None or run is None:
        return None
    return safe_url(f"{ui.rstrip('/')}/#/experiments/{exp}/runs/{run}")


def model_version_url(ui: str | None, name: object, version: object) -> str | None:
    """`{ui}/#/models/{name}/versions/{version}`, or None without the setting, a name or a version."""
    model, ver = _segment(name), _segment(version)
    if not ui or model is None or ver is None:
        return None
    return safe_url(f"{ui.rstrip('/')}/#/models/{model}/versions/{ver}")


def _ref(rm: Mapping[str, Any], role: str) -> Mapping[str, Any]:
    ref = rm.get(role)
    return ref if isinstance(ref, Mapping) else {}


def model_links(ui: str | None, rm: Mapping[str, Any]) -> dict[str, str | None]:
    """One report model's links: its candidate's run and its baseline's registered version
    (`models:/{name}@{alias}` resolves in the registry under the model's own name)."""
    cand, base = _ref(rm, "candidate"), _ref(rm, "baseline")
    return {
        "candidate": run_url(ui, cand.get("experiment_id"), cand.get("run_id")),
        "baseline": model_version_url(ui, rm.get("name"), base.get("version")),
    }


def evaluation_run(report: Mapping[str, Any]) -> tuple[str, str] | None:
    """(experiment_id, run_id) of the MLflow run `mlgate evaluate` logged the report into, or
    None when the report names none or an id is not shaped as MLflow makes them."""
    run = report.get("evaluation_run")
    if not isinstance(run, Mapping):
        return None
    exp, run_id = run.get("experiment_id"), run.get("run_id")
    if not (isinstance(exp, str) and EXPERIMENT_ID.fullmatch(exp) and isinstance(run_id, str)
            and RUN_ID.fullmatch(run_id)):
        return None
    return exp, run_id


def evaluation_run_url(ui: str | None, report: Mapping[str, Any]) -> str | None:
    """The report's own evaluation run in the MLflow UI, or None (no setting, no valid run)."""
    ids = evaluation_run(report)
    return run_url(ui, *ids) if ids is not None else None


def report_links(ui: str | None, report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(what, URL) for every MLflow UI link a report allows: its evaluation run, then each model's
    candidate run and baseline version (named by model when the report has several)."""
    out: list[tuple[str, str]] = []
    if (url := evaluation_run_url(ui, report)) is not None:
        out.append(("evaluation run", url))
    listed = report.get("models")
    models = [rm for rm in listed if isinstance(rm, Mapping)] if isinstance(listed, list) else []
    for rm in models:
        prefix = f"{str(rm.get('name'))[:100]}: " if len(models) > 1 else ""
        links = model_links(ui, rm)
        if links["candidate"] is not None:
            out.append((f"{prefix}candidate run", links["candidate"]))
        if links["baseline"] is not None:
            base = _ref(rm, "baseline")
            alias = str(base.get("alias") or "baseline")[:64]
            out.append((f"{prefix}{alias} version {base.get('version')}", links["baseline"]))
    return out
