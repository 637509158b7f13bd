"""GitHub's own OpenAPI description (a trimmed subset): request checks, path templates, examples.

The subset is written by tests/fixtures/openapi/make_subset.py from `@octokit/openapi`; a
wheel carries it as bot/sandbox/github-subset.json (see pyproject's force-include).
"""

from __future__ import annotations

import copy
import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from bot.sandbox.state import SandboxError

_PACKAGED_SPEC = Path(__file__).with_name("github-subset.json")
SPEC_PATH = _PACKAGED_SPEC if _PACKAGED_SPEC.exists() else (
    Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "openapi" / "github-subset.json"
)
# parameters GitHub documents as holding slashes ({path}, {ref} = heads/<branch>)
_SLASHED = (re.compile(r"^(/repos/[^/]+/[^/]+/contents/)(.+)$"), re.compile(r"^(/repos/[^/]+/[^/]+/git/ref/)(.+)$"))
_LABELS = re.compile(r"^/repos/[^/]+/[^/]+/issues/\d+/labels$")
# {branch} is `x-multi-segment` in the description: GitHub takes release/1.x unescaped
_BRANCH = re.compile(r"^(/repos/[^/]+/[^/]+/branches/)(.+?)((?:/protection/required_status_checks)?)$")


@cache
def spec() -> dict[str, Any]:
    """The parsed subset (read once per process)."""
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return data


class ExtraMissing(SandboxError):
    """The request checks need openapi-core, which only the `sandbox` extra installs."""


def require() -> None:
    """Raise ExtraMissing (one line saying what to install) unless openapi-core is installed."""
    try:
        import openapi_core  # noqa: F401 - warm() builds the validator with it right after
    except ImportError:
        raise ExtraMissing("the GitHub stand-in checks every request with openapi-core, which is not installed: "
                           "pip install 'mlgate[sandbox]'") from None


@cache
def _openapi() -> Any:
    from openapi_core import Config, OpenAPI

    # spec_validator_cls=None: the description is GitHub's; checking it again costs ~20 s.
    return OpenAPI.from_dict(spec(), config=Config(spec_validator_cls=None))


def warm() -> None:
    """Build the validator now rather than inside the first request."""
    _openapi()


@cache
def _templates() -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
    out = []
    for template, item in spec()["paths"].items():
        methods = frozenset(m.upper() for m in item if m != "parameters")
        regex = "^" + re.sub(r"\\\{(\w+)\\\}", lambda m: "(.+)" if m.group(1) == "path" else "([^/]+)",
                             re.escape(template)) + "$"
        out.append((re.compile(regex), template, methods))
    # literal segments beat parameters: /issues/comments/{id} before /issues/{number}/...
    out.sort(key=lambda t: (-sum(1 for s in t[1].split("/") if s and not s.startswith("{")), t[1]))
    return out


def template_for(method: str, path: str) -> str | None:
    """The description's path template that `path` matches for `method`, or None."""
    fallback = None
    for regex, template, methods in _templates():
        if regex.match(path):
            if method.upper() in methods:
                return template
            fallback = fallback or template
    return fallback


def example(name: str) -> Any:
    """A copy of `components.examples[name].value`: GitHub's own sample response body."""
    return copy.deepcopy(spec()["components"]["examples"][name]["value"])


def _for_validation(req: Request) -> Request:
    """The request as the description can judge it. Two documented forms its schemas miss:
    a contents {path} or git {ref} with slashes, and labels POSTed as a bare array ("You can
    also pass an array of labels directly" says the operation's text; PyGithub does so)."""
    m = next((m for m in (rx.match(req.path) for rx in (*_SLASHED, _BRANCH)) if m), None)
    if m and "/" in m.group(2):
        environ = dict(req.environ)
        environ["PATH_INFO"] = m.group(1) + m.group(2).replace("/", "%2F") + "".join(m.groups()[2:])
        copy_ = Request(environ)
        copy_.get_data(cache=True)
        return copy_
    if req.method == "POST" and _LABELS.match(req.path):
        body = req.get_json(silent=True)
        if isinstance(body, list):
            data = json.dumps({"labels": body}).encode()
            environ = dict(req.environ)
            environ["CONTENT_LENGTH"] = str(len(data))
            environ["wsgi.input"] = io.BytesIO(data)
            copy_ = Request(environ)
            copy_.get_data(cache=True)
            return copy_
    return req


def _describe(exc: Exception) -> str:
    cause = exc.__cause__
    details = "; ".join(str(e).splitlines()[0] for e in getattr(cause, "schema_errors", None) or [])
    text = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return f"{text} {details[:400]}".strip()


def validate_request(req: Request) -> str | None:
    """None when GitHub's description accepts the request, else why not."""
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest

    try:
        _openapi().validate_request(WerkzeugOpenAPIRequest(_for_validation(req)))
    except Exception as exc:  # openapi-core raises several unrelated types
        return _describe(exc)
    return None


def validate_response(req: Request, resp: Response) -> str | None:
    """None when the response matches the description's schema for its status, else why not."""
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

    try:
        _openapi().validate_response(WerkzeugOpenAPIRequest(_for_validation(req)), WerkzeugOpenAPIResponse(resp))
    except Exception as exc:
        errors = getattr(exc.__cause__, "schema_errors", None)
        if errors and all(_nullable_enum(e) for e in errors):
            return None
        return _describe(exc)
    return None


def _nullable_enum(error: Any) -> bool:
    """A null for a `nullable: true` enum: valid in OpenAPI 3.0 (GitHub sends `"conclusion": null`),
    but the JSON Schema enum check does not know `nullable`."""
    return (error.validator == "enum" and error.instance is None
            and isinstance(error.schema, dict) and bool(error.schema.get("nullable")))


def is_not_found(problem: str) -> bool:
    """Whether a validation problem means "no such path or method" (GitHub answers 404)."""
    return "PathNotFound" in problem or "OperationNotFound" in problem or "ServerNotFound" in problem
