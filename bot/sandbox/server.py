"""The GitHub stand-in's HTTP side: its lifecycle (a werkzeug server in a thread) and the
plumbing every request goes through before and after its route.

Before a route: planned faults (faults.py), the API version, the OpenAPI check (openapi.py),
then authentication as on GitHub (an App JWT or an installation token, the token's
repositories, read-only tokens). After it: the request log and the rate-limit headers. The
routes themselves are in routes.py and gates.py, the admin API in admin.py; none of them
imports this module.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

import jwt
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from bot.sandbox import admin, gates, openapi, routes
from bot.sandbox.responses import RATE_LIMIT, error
from bot.sandbox.scenario import Scenario
from bot.sandbox.state import Call, SandboxError, Sink, generate_private_key, make_artifact_zip

__all__ = ["Sandbox", "SandboxError", "Sink", "generate_private_key", "make_artifact_zip"]

API_VERSIONS = ("2022-11-28",)  # X-GitHub-Api-Version values the stand-in serves; others get 400, as on GitHub
_JWT_TEMPLATES = {"/app", "/app/installations", "/app/installations/{installation_id}/access_tokens",
                  "/repos/{owner}/{repo}/installation"}


class Sandbox(Scenario):
    """The stand-in. Start it, register an app, then drive it with the admin methods.

    >>> with Sandbox() as gh:
    ...     key = gh.register_app(webhook_sink=my_receiver)
    ...     inst = gh.create_installation("acme", ["acme/churn"])
    ...     pr = gh.open_pull_request("acme/churn", {"data/train.csv": "a\\n1\\n"})
    """

    def __init__(self, port: int = 0, validate: bool = True, *, validate_responses: bool = False,
                 host: str = "127.0.0.1"):
        super().__init__(host=host, port=port)
        self.validate = validate
        self.validate_responses = validate_responses
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Serve on a free loopback port in a daemon thread; returns the base URL."""
        if self._server is not None:
            return self.base_url
        if self.validate:
            openapi.require()  # before binding: a missing extra is one clear error, not a broken server
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self.port = self._server.server_port
        self.base_url = f"http://{self.host}:{self.port}"
        # a short poll interval: stop() waits for the loop to notice, and every test stops one
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="github-sandbox", daemon=True)
        self._thread.start()
        if self.validate:
            openapi.warm()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ HTTP plumbing

    def _build_app(self) -> Flask:
        app = Flask("mlgate-github-sandbox")
        app.json.sort_keys = False  # type: ignore[attr-defined]
        app.before_request(self._check)
        app.after_request(self._log)

        @app.errorhandler(SandboxError)
        def _missing(exc: SandboxError) -> Response:
            return error(404, "Not Found")

        @app.errorhandler(HTTPException)
        def _http(exc: HTTPException) -> Response:
            status = exc.code or 500
            if status in (404, 405) and not request.path.startswith("/_blob"):
                self.problems.append(f"{request.method} {request.path}: the stand-in does not implement this endpoint")
            return error(status, "Not Found" if status == 404 else exc.name)

        routes.register(app, self, self.shapes)
        gates.register(app, self, self.shapes)
        admin.register(app, self)
        return app

    def _check(self) -> Response | None:
        """Faults, API version, the OpenAPI check and authentication, in GitHub's order."""
        path = request.path
        if path.startswith(("/_sandbox", "/_blob")) or path.endswith("/settings/apps/new"):
            return None  # the stand-in's own controls, and GitHub's web form for App manifests
        fault = self.fault_plan.take(request.method, path)
        if fault is not None:
            return fault
        version = request.headers.get("X-GitHub-Api-Version")
        if version is not None and version not in API_VERSIONS:
            return error(400, f"Unsupported API version {version[:40]!r}: use one of {', '.join(API_VERSIONS)}")
        if self.validate:
            problem = openapi.validate_request(request._get_current_object())  # type: ignore[attr-defined]
            if problem:
                self.problems.append(f"{request.method} {request.full_path.rstrip('?')}: {problem}")
                if openapi.is_not_found(problem):
                    return error(404, "Not Found")
                return error(422, "Invalid request.\n\n" + problem, [{"resource": "Request", "code": "invalid",
                                                                    "message": problem[:500]}])
        template = openapi.template_for(request.method, path)
        if template == "/app-manifests/{code}/conversions":
            return None  # the one-time code is the credential
        if template in _JWT_TEMPLATES:
            return self._verify_app_jwt()
        who = self._token_owner()
        if who is None:
            return error(401, "Bad credentials")
        m = re.match(r"^/repos/([^/]+/[^/]+)", path)
        if m and m.group(1) not in who["repos"]:
            return error(404, "Not Found")
        if who.get("read_only") and request.method != "GET":
            return error(403, "Resource not accessible by integration")
        return None

    def _log(self, resp: Response) -> Response:
        """Record the call; add the rate-limit and request-id headers GitHub sends."""
        if request.path.startswith(("/_sandbox", "/_blob")):
            return resp
        template = openapi.template_for(request.method, request.path) or request.path
        with self.lock:
            self.calls.append(Call(request.method, request.path, resp.status_code, template, {
                "Accept": request.headers.get("Accept", ""),
                "X-GitHub-Api-Version": request.headers.get("X-GitHub-Api-Version", "")}))
            used = len(self.calls)
        if self.rate_limiting:
            resp.headers.setdefault("X-RateLimit-Limit", str(RATE_LIMIT))
            resp.headers.setdefault("X-RateLimit-Remaining", str(max(0, RATE_LIMIT - used)))
            resp.headers.setdefault("X-RateLimit-Reset", str(int(time.time()) + 3600))
            resp.headers.setdefault("X-RateLimit-Used", str(used))
            resp.headers.setdefault("X-RateLimit-Resource", "core")
        resp.headers.setdefault("X-GitHub-Request-Id", uuid.uuid4().hex[:20].upper())
        resp.headers.setdefault("X-GitHub-Api-Version-Selected", "2022-11-28")
        if self.validate_responses and 200 <= resp.status_code < 300 and resp.is_json:
            problem = openapi.validate_response(request._get_current_object(), resp)  # type: ignore[attr-defined]
            if problem:
                self.problems.append(f"response to {request.method} {request.path}: {problem}")
        return resp

    def _token_owner(self) -> dict[str, Any] | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        info = self.tokens.get(token.strip())
        if info is None or info["expires"] < time.time():
            return None
        if info["installation_id"] is not None:
            return {**info, "repos": self.installations[info["installation_id"]]["repos"]}
        return info

    def _verify_app_jwt(self) -> Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or self.app_public_key is None:
            return error(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(auth[7:], self.app_public_key, algorithms=["RS256"],
                                options={"verify_aud": False, "require": ["iat", "exp", "iss"]}, leeway=60)
        except jwt.PyJWTError as exc:
            return error(401, f"A JSON web token could not be decoded: {exc}")
        if str(claims.get("iss")) != str(self.app_id):
            return error(401, "'Issuer' claim ('iss') must be an Integer")
        if int(claims["exp"]) - int(claims["iat"]) > 660:
            return error(401, "'Expiration time' claim ('exp') is too far in the future")
        return None
