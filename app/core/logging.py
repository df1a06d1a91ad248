"""Structured JSON logs. Nothing personal is logged: no bodies, no query strings, and no
exception messages (see `format_exception`)."""

import logging
import sys
import time
import traceback
from types import TracebackType
from typing import Any, TypeAlias

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


ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def format_exception(exc_info: ExcInfo) -> str:
    """A traceback laid out as Python prints one, chained exceptions included, with each
    exception's type but never its message. A driver's message holds the SQL, and SQL can
    hold what a client searched for (app/contacts/listing.py renders search text into it);
    some quote the values a constraint refused (PostgreSQL's DETAIL: Key (email)=(...)).
    The frames and their lines of code are ours and the libraries', never data."""
    error = exc_info[1]
    if error is None:
        return "NoneType: None"
    lines: list[str] = []
    _format_chain(error, lines, set())
    return "".join(lines).rstrip("\n")


def _format_chain(error: BaseException, lines: list[str], seen: set[int]) -> None:
    seen.add(id(error))
    cause = error.__cause__
    context = None if error.__suppress_context__ else error.__context__
    if cause is not None and id(cause) not in seen:
        _format_chain(cause, lines, seen)
        lines.append(_CAUSE)
    elif context is not None and id(context) not in seen:
        _format_chain(context, lines, seen)
        lines.append(_CONTEXT)
    if error.__traceback__ is not None:
        lines.append("Traceback (most recent call last):\n")
        lines.extend(
            traceback.StackSummary.extract(traceback.walk_tb(error.__traceback__)).format()
        )
    lines.append(exception_name(error) + "\n")
    if isinstance(error, BaseExceptionGroup):
        for number, member in enumerate(error.exceptions, 1):
            if id(member) not in seen:
                lines.append(f"+---------------- {number} ----------------\n")
                _format_chain(member, lines, seen)


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if record.name == "asyncio":
        # asyncio's exception handler appends the repr() of the failed task or future to its
        # own first line, and with it the exception's message.
        return message.partition("\n")[0]
    return message


class PlainText(logging.Formatter):
    """`time level logger message` lines for a terminal (GOODWILL_LOG_JSON=false), exceptions
    rendered as `JsonLines` renders them."""

    def format(self, record: logging.LogRecord) -> str:
        # Not logging.Formatter.format: it would reuse another formatter's rendering of the
        # exception (cached on the record as exc_text), messages and all.
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {_message(record)}"
        if record.exc_info:
            line += "\n" + format_exception(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


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
            "message": _message(record),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                data[key] = value
        if record.exc_info:
            data["exc_info"] = format_exception(record.exc_info)
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
        handler.setFormatter(PlainText())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Uvicorn's access log prints raw query strings, which can hold names (?q=...); ours doesn't.
    logging.getLogger("uvicorn.access").disabled = True
