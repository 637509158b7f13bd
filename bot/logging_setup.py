"""JSON logs, one line per event, carrying the delivery id and job id; never a secret."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k not in _RESERVED and not k.startswith("_"):
                out[k] = v if isinstance(v, str | int | float | bool | type(None)) else str(v)
        if record.exc_info and record.exc_info[1] is not None:
            out["error"] = describe(record.exc_info[1])
        return json.dumps(out)


def describe(exc: BaseException) -> str:
    """`Type: first line`: SQLAlchemy's last line is only a link, and later lines carry SQL parameters."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)
    logging.getLogger("huey").setLevel(logging.WARNING)
    logging.getLogger("huey").addFilter(_drop_hueys_task_failure)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the store logs one line per migration itself
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is the proxy's job


def _drop_hueys_task_failure(record: logging.LogRecord) -> bool:
    """A failed job is logged once, by the worker, with its delivery id; huey's line would repeat it."""
    return not str(record.msg).startswith("Unhandled exception in task")


class _JobAdapter(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds the job's ids to each line and keeps the caller's own `extra` (3.11 would drop it)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def job_logger(delivery_id: str, event: str, job_id: str | None = None) -> logging.LoggerAdapter[logging.Logger]:
    """Every line a job writes carries its delivery id (GitHub's) and job id (the queue's)."""
    return _JobAdapter(logging.getLogger("mlgate.job"), {"delivery_id": delivery_id, "job_id": job_id, "event": event})
