"""One line per event on stdout, carrying the request id of the call being served: JSON for
machines, or a short readable line when stdout is a terminal (LOYALTY_LOG_FORMAT decides).

Callers pass only non-personal fields: never a phone number, e-mail, code or key.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
import uuid
from typing import Any

from services.runtime import tracecontext
from services.runtime.config import ConfigError

REQUEST_ID_HEADER = "x-request-id"
FORMAT_VARIABLE = "LOYALTY_LOG_FORMAT"
FORMATS = ("auto", "json", "text")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# Set by a call that did nothing worth a line at INFO: a poll of an event feed that found none.
_routine: contextvars.ContextVar[bool] = contextvars.ContextVar("routine", default=False)
# The ids this suite makes itself (hex): checked by one match instead of a test per character.
_PLAIN_ID = re.compile(r"[0-9A-Za-z._-]{1,64}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> contextvars.Token[str]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str]) -> None:
    _request_id.reset(token)


def clean_request_id(raw: str | None) -> str:
    """An incoming request id if it is a sane token, else a fresh one."""
    if (
        raw
        and len(raw) <= 64
        and (_PLAIN_ID.fullmatch(raw) or all(c.isalnum() or c in "-_." for c in raw))
    ):
        return raw
    return new_request_id()


class JsonFormatter(logging.Formatter):
    def __init__(self, process_name: str) -> None:
        super().__init__()
        self._process = process_name

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "process": self._process,
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            line["request_id"] = request_id
        span = tracecontext.current()
        if span is not None:
            line["trace_id"] = span.trace_id
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One short line for a person at a terminal:
    `10:42:07.120 points    INFO  rpc method=PointsService/RecordPurchase status=OK duration_ms=3.1`
    (local time; request and trace ids are left to the JSON lines)."""

    def __init__(self, process_name: str) -> None:
        super().__init__()
        self._process = process_name

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        parts = [
            f"{clock}.{int(record.msecs):03d}",
            f"{self._process:<9}",
            f"{record.levelname:<5}",
            record.getMessage(),
        ]
        for name, value in (getattr(record, "fields", None) or {}).items():
            if name == "method" and isinstance(value, str):
                value = value.rsplit(".", 1)[-1]  # /loyalty.points.v1.PointsService/X: the last
            parts.append(f"{name}={_plain(value)}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _plain(value: Any) -> str:
    text = str(value)
    if not text or any(char.isspace() or char in '"=' for char in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def formatter(process_name: str, setting: str, terminal: bool) -> logging.Formatter:
    """The formatter LOYALTY_LOG_FORMAT names: `json`, `text`, or `auto` (the default): text on
    a terminal, JSON otherwise."""
    chosen = (setting or "auto").strip().lower()
    if chosen not in FORMATS:
        raise ConfigError(f"{FORMAT_VARIABLE} must be one of {', '.join(FORMATS)}")
    if chosen == "text" or (chosen == "auto" and terminal):
        return TextFormatter(process_name)
    return JsonFormatter(process_name)


def configure(process_name: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        formatter(process_name, os.environ.get(FORMAT_VARIABLE, ""), sys.stdout.isatty())
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # What no line of ours shows: the caller's file and line (a walk up the stack for every
    # record), thread and process names. Not gathered, as the logging HOWTO's "Optimization"
    # section describes.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root.setLevel(level)
    # Library chatter at INFO is noise in an access-logged service.
    for noisy in ("alembic", "sqlalchemy", "gunicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, event, extra={"fields": fields})


def routine() -> None:
    """Marks the call being served as routine: its access line is logged at DEBUG, not INFO."""
    _routine.set(True)


def start_access() -> contextvars.Token[bool]:
    return _routine.set(False)


def access_level(token: contextvars.Token[bool]) -> int:
    """The level of the access line of the call `token` started; ends its routine mark."""
    level = logging.DEBUG if _routine.get() else logging.INFO
    _routine.reset(token)
    return level
