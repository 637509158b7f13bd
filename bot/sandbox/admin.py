"""The admin API over HTTP (`/_sandbox/...`): the Python admin methods for other processes.

`POST /_sandbox/<method>` with a JSON object of keyword arguments calls `Sandbox.<method>`
and answers its result as JSON. Binary arguments and results travel as base64: pass
`artifact_b64` to complete_workflow_run, and file contents as `{"b64": "..."}` when they are
not text. `GET /_sandbox/calls`, `/_sandbox/problems` and `/_sandbox/deliveries` read the
request log, the recorded problems and the webhook deliveries.
"""

from __future__ import annotations

import base64
import inspect
from typing import Any

from flask import Flask, Response, jsonify, request

from bot.sandbox.scenario import Scenario
from bot.sandbox.state import SandboxError

ADMIN_METHODS = (
    "register_app", "create_installation", "add_repositories", "create_repo", "create_token", "set_permission",
    "add_team_member", "remove_team_member", "require_checks", "protect_branch", "push", "open_pull_request", "push_to_pull_request",
    "close_pull_request", "merge", "reopen_pull_request", "ready_for_review", "comment", "edit_comment",
    "delete_comment", "review", "dismiss_review", "complete_workflow_run", "complete_evaluation_run",
    "complete_trusted_evaluation", "rerequest_check_run", "request_check_suite", "rerequest_check_suite", "ping",
    "redeliver", "pull", "comments", "check_runs", "statuses", "labels", "reactions", "reviews", "deployments",
    "reruns", "dispatches", "file", "count_calls", "reset_calls", "reset", "inject_fault", "clear_faults",
    "set_webhook", "set_latency", "revoke_token", "enterprise_server",
)


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_encode(v) for v in value]
    if hasattr(value, "_asdict"):
        return _encode(value._asdict())
    return value


def register(app: Flask, box: Scenario) -> None:
    """Attach the admin endpoints to `app`."""

    @app.get("/_sandbox/calls")
    def calls() -> Any:
        return jsonify({"calls": [c._asdict() for c in list(box.calls)],
                        "counts": [{"method": m, "template": t, "count": n} for (m, t), n in box.call_counts().items()]})

    @app.get("/_sandbox/problems")
    def problems() -> Any:
        return jsonify(list(box.problems))

    @app.get("/_sandbox/deliveries")
    def deliveries() -> Any:
        return jsonify([{k: d[k] for k in ("event", "action", "delivery", "status", "payload")} for d in box.deliveries])

    @app.post("/_sandbox/<method>")
    def call(method: str) -> Any:
        if method not in ADMIN_METHODS:
            return jsonify({"message": f"no admin method {method}", "methods": list(ADMIN_METHODS)}), 404
        kwargs = _decode(request.get_json(silent=True) or {})
        if method in ("complete_workflow_run", "complete_evaluation_run") and "artifact_b64" in kwargs:
            kwargs["artifact"] = base64.b64decode(kwargs.pop("artifact_b64"))
        for key in ("delete",):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        fn = getattr(box, method)
        try:
            inspect.signature(fn).bind(**kwargs)
        except TypeError as exc:
            return jsonify({"message": f"{method}: {exc}"}), 400
        try:
            result = fn(**kwargs)
        except (SandboxError, KeyError) as exc:
            return jsonify({"message": f"{method}: {exc}"}), 404
        return Response(_json(result), mimetype="application/json")


def _json(value: Any) -> str:
    import json

    return json.dumps({"result": _encode(value)})
