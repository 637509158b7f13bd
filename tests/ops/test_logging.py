"""JSON log lines: one per event, the delivery id carried, errors named by their cause."""

from __future__ import annotations

import json
import logging

import sqlalchemy

from bot.logging_setup import JsonFormatter, job_logger


def _line(record: logging.LogRecord) -> dict[str, object]:
    text = JsonFormatter().format(record)
    assert "\n" not in text
    return dict(json.loads(text))


def test_a_database_error_is_logged_by_its_cause_not_by_sqlalchemys_link() -> None:
    engine = sqlalchemy.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                      connect_args={"connect_timeout": 2})
    try:
        engine.connect()
    except sqlalchemy.exc.OperationalError:
        import sys

        record = logging.LogRecord("mlgate.worker", logging.ERROR, __file__, 1, "sweep failed", None, sys.exc_info())
    line = _line(record)
    assert str(line["error"]).startswith("OperationalError: (psycopg.OperationalError) connection")
    assert "sqlalche.me" not in str(line["error"])


def test_job_lines_carry_the_delivery_id_job_id_and_their_own_fields() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("mlgate.job")
    handler = Keep()
    logger.addHandler(handler)
    try:
        job_logger("d-123", "pull_request.opened", "j-9").warning("job %s", "done", extra={"outcome": "done"})
    finally:
        logger.removeHandler(handler)
    line = _line(records[0])
    assert (line["delivery_id"], line["job_id"], line["event"], line["msg"], line["level"], line["outcome"]) == \
        ("d-123", "j-9", "pull_request.opened", "job done", "warning", "done")


def test_hueys_repeat_of_a_job_failure_is_dropped_but_its_other_warnings_kept() -> None:
    from bot.logging_setup import _drop_hueys_task_failure

    def rec(msg: str) -> logging.LogRecord:
        return logging.LogRecord("huey", logging.ERROR, __file__, 1, msg, ("abc",), None)

    assert not _drop_hueys_task_failure(rec("Unhandled exception in task %s."))
    assert _drop_hueys_task_failure(rec("Received exit signal, %s did not finish."))
