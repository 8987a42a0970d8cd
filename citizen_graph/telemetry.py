"""Logs: JSON lines without identifiers (the metrics are `metrics.py`).

Configured by the CLI only, never at import. Every line logged while a request is served
carries its `request_id`; uvicorn's access line loses its query string (a GET's query and
variables). The httpx logger is raised to WARNING: its INFO line prints the full upstream
URL, fiscal number included.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TextIO
from urllib.parse import unquote

from citizen_graph import request_scope
from citizen_graph.identifiers import carries_identifier

_NOT_EXTRA = set(vars(logging.makeLogRecord({}))) | {"request_id"}
ACCESS_LOGGER = "uvicorn.access"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", ACCESS_LOGGER, "uvicorn.asgi")
REDACTED_PATH = "/[redacted]"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
        }
        request_id = getattr(record, "request_id", None)
        if request_id is None:  # a record no `RequestIdFilter` saw: the id as of now
            request_id = request_scope.request_id()
        if request_id:
            line["request_id"] = request_id
        line["message"] = record.getMessage()
        line |= {k: v for k, v in vars(record).items() if k not in _NOT_EXTRA}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class RequestIdFilter(logging.Filter):
    """Stamps a record with the id of the request it was logged in, as it is created (in
    the task that logs): it may be formatted later, outside the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_scope.request_id()
        return True


class AccessLogFilter(logging.Filter):
    """uvicorn's access line, `(client, method, path, http_version, status)`, with the path
    cut at its `?`: a GET's query and variables (a fiscal number) never reach the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], _without_query(args[2]), *args[3:])
        elif isinstance(args, tuple):  # another shape: no `?` survives in any argument
            record.args = tuple(
                a.split("?", 1)[0] if isinstance(a, str) else a for a in args
            )
        return True


def _without_query(path: str) -> str:
    path = path.split("?", 1)[0]
    # The path of an unknown route may carry an identifier too (GET /3000000000011),
    # percent-encoded as well (/3%2C000%2C000…).
    decoded = unquote(unquote(path))
    return REDACTED_PATH if carries_identifier(decoded) else path


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on stderr (or `stream`) for every logger, uvicorn's included."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in UVICORN_LOGGERS:  # uvicorn's own configuration, if any ran, undone
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    access = logging.getLogger(ACCESS_LOGGER)
    for installed in [f for f in access.filters if isinstance(f, AccessLogFilter)]:
        access.removeFilter(installed)
    access.addFilter(AccessLogFilter())
