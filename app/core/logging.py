"""Structured JSON logs. Nothing personal is logged: no bodies, no query strings."""

import logging
import sys
import time
from typing import Any

import orjson

from app.core.config import Settings

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged
# as a field of its own.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    # Uvicorn attaches an ANSI-coloured copy of its messages; JSON logs don't want it.
    "color_message",
}


def exception_name(error: BaseException) -> str:
    """`module.Type`, with the SQLSTATE of a PostgreSQL error: what went wrong, without the
    message, which can hold SQL and the values in it."""
    cls = type(error)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    sqlstate = getattr(error, "sqlstate", None)
    return f"{name} (SQLSTATE {sqlstate})" if isinstance(sqlstate, str) else name


def exception_names(error: BaseException) -> str:
    """An error and the ones it was raised from, outermost first: `A <- B <- C`."""
    names = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names.append(exception_name(current))
        current = current.__cause__
    return " <- ".join(names)


class JsonLines(logging.Formatter):
    """One JSON object per line: `time` (UTC, RFC 3339), `level`, `logger`, `message`, then
    each `extra` field. Every request writes one line (the access log), so this is lean:
    orjson, no format string to interpret."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        data: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                data[key] = value
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(data, default=str).decode()


def configure_logging(settings: Settings) -> None:
    # What a record would otherwise collect on every call and no line of ours shows: the
    # caller's file and line (a stack walk), thread, process and multiprocessing names.
    # These are the switches the logging HOWTO gives for it ("Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Uvicorn's access log prints raw query strings, which can hold names (?q=...); ours doesn't.
    logging.getLogger("uvicorn.access").disabled = True
