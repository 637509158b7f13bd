"""GitHub's answers that every part of the stand-in builds: the error shape and pagination."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, request

RATE_LIMIT = 5000  # the primary quota the stand-in reports per installation


def error(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Response:
    """GitHub's error body: message, documentation_url, status (and `errors` for a 422)."""
    body: dict[str, Any] = {"message": message, "documentation_url": "https://docs.github.com/rest",
                            "status": str(status)}
    if errors:
        body["errors"] = errors
    resp = jsonify(body)
    resp.status_code = status
    return resp


def paginate(items: list[Any], base_url: str, wrap: str | None = None) -> Response:
    """GitHub's page/per_page pagination of the current request, with a Link header that keeps
    the other query args; `wrap` names the list in a {"total_count", wrap: [...]} object."""
    per_page = max(1, min(int(request.args.get("per_page", 30)), 100))
    page = max(1, int(request.args.get("page", 1)))
    chunk = items[(page - 1) * per_page: page * per_page]
    resp = jsonify({"total_count": len(items), wrap: chunk} if wrap else chunk)
    last = max(1, -(-len(items) // per_page))
    args = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}

    def link(p: int, rel: str) -> str:
        return f'<{base_url}{request.path}?{urlencode({**args, "per_page": per_page, "page": p})}>; rel="{rel}"'

    links = []
    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if links:
        resp.headers["Link"] = ", ".join(links)
    return resp
