"""Links into the MLflow UI (MLflow 3's routes), for the comment and the dashboard.

The host comes only from the operator's setting (`MLGATE_MLFLOW_UI_URL`); every id comes from
an untrusted report, so each is URL-quoted as one path segment, and the whole link still passes
`safe_url`. A link whose id the report does not hold is not made (never guessed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from bot.render.text import safe_url

MAX_ID = 256


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
