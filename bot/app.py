"""The App's web process: `create_app()` for gunicorn. No side effects at import.

POST /webhook refuses a body over GitHub's 25 MiB payload cap unread (413), verifies the
signature before anything else (401), parses and bounds the event (400), stores the delivery
(deduplicated by its id) and enqueues its id; it never calls GitHub or MLflow, and does no
other work: while the store is down it spools the delivery to disk and leaves moving it back
to a background thread (bot/spool.py).
GET /healthz says whether the store and the queue answer; GET /metrics serves Prometheus.

Starting the process is a separate, explicit step, `start_web`: gunicorn's
`bot.app:create_app()` (no arguments) and `mlgate serve` run it; an app built around a store
the caller gives (the tests, the demo) takes that store as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from bot import spool
from bot.events import EventError, delivery_id_or_none, json_body, parse_event
from bot.settings import Settings
from bot.signature import SignatureError, verify_signature
from bot.store import MAX_BODY, Store, StoreError

if TYPE_CHECKING:
    from huey.api import Huey

log = logging.getLogger("mlgate.web")
READ_CHUNK = 64 * 1024
TOO_LARGE = (f"request body is over {MAX_BODY // 2**20} MiB, GitHub's cap for webhook payloads; "
             "it was refused unread")


def read_body(stream: IO[bytes]) -> bytes:
    """The request body, refused (RequestEntityTooLarge) once it passes MAX_BODY.

    Werkzeug refuses a Content-Length over MAX_CONTENT_LENGTH before anything is read; a
    chunked body (gunicorn ends the stream and says so with wsgi.input_terminated) is read in
    pieces and refused at the first byte past the cap. `get_data()` would instead return the
    first MAX_BODY bytes of it as if that were the whole body."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(READ_CHUNK):
        size += len(chunk)
        if size > MAX_BODY:
            raise RequestEntityTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def start_web(settings: Settings | None = None) -> tuple[Settings, Store]:
    """The web process's start: logging, the settings (read from the environment once, here),
    and the store migrated to this release's schema (every process migrates when it starts,
    under the store's lock). Raises SettingsError or StoreError for the caller to report."""
    from bot.logging_setup import configure_logging

    configure_logging()
    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    store.migrate()
    return settings, store


def create_app(settings: Settings | None = None, *, store: Store | None = None,
               queue: tuple[Huey, Callable[[str], object]] | None = None) -> Flask:
    """The Flask app around `store` and `queue` (a Huey instance and its enqueue function).

    Without a store, this is the web process starting (gunicorn 'bot.app:create_app()'):
    `start_web`, then the app, then a background replay of what an earlier run spooled."""
    from bot import metrics

    starting = store is None
    if store is None:
        settings, store = start_web(settings)
    settings = settings or Settings.from_env()
    if queue is None:
        from bot.queue import make_queue

        huey, task = make_queue(settings)  # this process only enqueues
    else:
        huey, task = queue
    drainer = spool.Drainer(settings.spool_dir, store, task)
    if starting and spool.pending(settings.spool_dir):
        drainer.kick()
    app = Flask("mlgate")
    app.config["MLGATE_SETTINGS"] = settings
    app.config["MLGATE_STORE"] = store
    app.extensions["mlgate.spool"] = drainer
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY  # no body over GitHub's payload cap is read
    if settings.proxy_hops:  # behind a TLS-ending proxy: believe its X-Forwarded-Proto (and -For), no one else's
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,  # type: ignore[method-assign]
                                x_proto=settings.proxy_hops)
    from bot.dashboard import blueprint

    app.register_blueprint(blueprint(settings, store))

    @app.post("/webhook")
    def webhook() -> tuple[Response, int]:
        event_name = request.headers.get("X-GitHub-Event")
        said = {"delivery_id": delivery_id_or_none(request.headers.get("X-GitHub-Delivery"))}
        try:
            body = read_body(request.stream)
        except RequestEntityTooLarge:
            log.warning("rejected delivery: body over %d bytes", MAX_BODY, extra=said)
            metrics.count_delivery(event_name, "too_large")
            return jsonify(error=TOO_LARGE), 413
        headers = dict(request.headers)
        try:
            verify_signature(headers, body, settings.webhook_secret)
        except SignatureError as exc:
            log.warning("rejected delivery: %s", exc, extra=said)
            metrics.count_delivery(event_name, "unauthorized")
            return jsonify(error="invalid signature"), 401
        try:
            event = parse_event(headers, body)
        except EventError as exc:
            log.warning("rejected delivery: %s", exc, extra=said)
            metrics.count_delivery(event_name, "bad_request")
            return jsonify(error=str(exc)), 400
        extra = {"delivery_id": event.delivery_id, "event": event.key}
        body = json_body(headers, body).encode("utf-8")  # a form's payload: what the worker parses again
        if event.name == "ping":
            metrics.count_delivery("ping", "ping")
            return jsonify(status="pong"), 200
        try:
            fresh = store.record_delivery(event.delivery_id, event.name, event.action, event.repo,
                                          event.installation_id, body)
        except StoreError as exc:
            try:  # GitHub does not resend by itself: keep it on disk until the store is back
                spool.spool(settings.spool_dir, event.delivery_id, event.name, event.action, event.repo,
                            event.installation_id, body)
            except OSError:
                log.error("store unavailable and spool not writable: %s", exc, extra=extra)
                metrics.count_delivery(event.name, "unavailable")
                return jsonify(error="store unavailable"), 503
            log.error("store unavailable, delivery spooled: %s", exc, extra=extra)
            metrics.count_delivery(event.name, "spooled")
            drainer.kick()  # moves it into the store once the store is back, outside any request
            return jsonify(status="spooled", delivery=event.delivery_id), 202
        if not fresh:
            metrics.count_delivery(event.name, "duplicate")
            log.info("duplicate delivery ignored", extra=extra)
            return jsonify(status="duplicate"), 200
        try:
            task(event.delivery_id)
        except Exception as exc:
            # the delivery is stored and stays queued: a worker's sweep enqueues it once the queue is back
            log.error("queue unavailable, delivery kept for the sweep: %s", type(exc).__name__, extra=extra)
            metrics.count_delivery(event.name, "stored")
            return jsonify(status="stored", delivery=event.delivery_id), 202
        metrics.count_delivery(event.name, "accepted")
        log.info("delivery accepted", extra=extra)
        return jsonify(status="queued", delivery=event.delivery_id), 202

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        from bot.queue import queue_depth

        store_ok = store.ping()
        depth = queue_depth(huey)
        queue_ok = depth is not None
        if queue_ok:
            metrics.metrics().queue_depth.set(depth or 0)
        body = {"store": "ok" if store_ok else "unreachable", "queue": "ok" if queue_ok else "unreachable",
                "queue_depth": depth}
        return jsonify(body), 200 if store_ok and queue_ok else 503

    @app.get("/metrics")
    def prometheus() -> Response:
        data, ctype = metrics.exposition()
        return Response(data, content_type=ctype)

    @app.errorhandler(404)
    def not_found(_: Any) -> tuple[Response, int]:
        return jsonify(error="not found"), 404

    @app.errorhandler(413)
    def too_large(_: Any) -> tuple[Response, int]:
        return jsonify(error=TOO_LARGE), 413

    @app.errorhandler(500)
    def server_error(_: Any) -> tuple[Response, int]:
        return jsonify(error="internal error"), 500

    return app
