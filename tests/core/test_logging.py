"""Log lines are what a log pipeline can parse: one JSON object per line, with no
exception's message and no SQL parameter in it."""

import logging
import re
import sys

import asyncpg
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.logging import JsonLines, PlainText, configure_logging
from tests.faults import failing_statements, outage_error


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "goodwill.access", logging.INFO, "m.py", 1, "request %s", ("x",), None
    )
    record.__dict__.update(extra)
    return record


def test_a_line_holds_the_message_and_every_extra_field() -> None:
    line = JsonLines().format(_record(request_id="r1", status=200, duration_ms=1.5))
    assert "\n" not in line
    data = orjson.loads(line)
    assert data["level"] == "INFO"
    assert data["logger"] == "goodwill.access"
    assert data["message"] == "request x"
    assert (data["request_id"], data["status"], data["duration_ms"]) == ("r1", 200, 1.5)
    assert data["time"].endswith("Z") and "T" in data["time"]
    # Nothing of the record's own bookkeeping, nor uvicorn's coloured copy of the message.
    assert not {"args", "msg", "pathname", "lineno", "color_message"} & data.keys()


# Data in messages; the lines that raise them (which a traceback shows) name them only.
ADDRESS, QUERY, EMAIL = "10.0.0.5", "SELECT * FROM contact WHERE name = 'Ada'", "ada@example.com"


def _failing_query() -> None:
    try:
        raise ConnectionResetError(ADDRESS)
    except ConnectionResetError as exc:
        raise RuntimeError(QUERY) from exc


def _exc_info() -> tuple:
    try:
        try:
            _failing_query()
        except RuntimeError:
            raise KeyError(EMAIL) from None
    except KeyError:
        return sys.exc_info()
    raise AssertionError("unreachable")


@pytest.mark.parametrize("kind", ["json", "plain"])
def test_an_exception_is_logged_with_its_types_and_frames_but_never_its_message(kind: str) -> None:
    # Messages of database errors hold SQL, the values in it and what a client searched for.
    try:
        _failing_query()
    except RuntimeError:
        exc_info = sys.exc_info()
    record = _record()
    record.exc_info = exc_info
    if kind == "json":
        text = orjson.loads(JsonLines().format(record))["exc_info"]
    else:
        text = PlainText().format(record)
        assert re.match(
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO goodwill.access request x\n", text
        )
    assert "Traceback (most recent call last):" in text
    assert "ConnectionResetError" in text and "RuntimeError" in text
    assert "direct cause of the following exception" in text
    assert "in _failing_query" in text  # the frames
    for secret in (ADDRESS, QUERY, "SELECT"):
        assert secret not in text, secret


def test_an_error_s_sqlstate_is_kept_and_a_suppressed_context_is_left_out() -> None:
    record = _record()
    record.exc_info = _exc_info()
    text = PlainText().format(record)
    assert "KeyError" in text and EMAIL not in text
    assert "RuntimeError" not in text  # `from None`
    try:
        raise asyncpg.AdminShutdownError(QUERY)
    except asyncpg.AdminShutdownError:
        record.exc_info = sys.exc_info()
    text = orjson.loads(JsonLines().format(record))["exc_info"]
    assert "asyncpg.exceptions.AdminShutdownError (SQLSTATE 57P01)" in text
    assert QUERY not in text


def test_a_formatter_before_ours_cannot_slip_a_message_in() -> None:
    # logging.Formatter caches its rendering of the exception on the record (exc_text), and
    # would reuse another handler's.
    record = _record()
    record.exc_info = _exc_info()
    logging.Formatter().format(record)
    assert EMAIL in (record.exc_text or "")
    assert EMAIL not in PlainText().format(record)
    assert EMAIL not in JsonLines().format(record)


def test_asyncio_s_own_reports_keep_their_first_line_only() -> None:
    # asyncio's exception handler appends repr()s of the task, its exception's message in it.
    record = logging.LogRecord(
        "asyncio",
        logging.ERROR,
        "m.py",
        1,
        "Task exception was never retrieved\nfuture: <Task exception=KeyError('ada@x.org')>",
        (),
        None,
    )
    assert orjson.loads(JsonLines().format(record))["message"] == (
        "Task exception was never retrieved"
    )
    assert "ada@x.org" not in PlainText().format(record)


def test_odd_values_are_logged_as_text() -> None:
    record = _record(path=object())
    record.exc_info = (None, None, None)  # exc_info=True outside an exception
    data = orjson.loads(JsonLines().format(record))
    assert data["path"].startswith("<object object")


@pytest.mark.parametrize(("log_json", "formatter"), [(True, JsonLines), (False, PlainText)])
def test_every_logger_goes_through_the_formatter(log_json: bool, formatter: type) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging(Settings(log_json=log_json))
        assert [type(h.formatter) for h in root.handlers] == [formatter]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def test_a_database_error_never_holds_the_statement_s_parameters(
    engine: AsyncEngine,
) -> None:
    # Whoever renders the error, a log line or a debugger: SQLAlchemy leaves them out of it.
    with (
        failing_statements(engine, lambda sql: "probe" in sql, lambda: outage_error(engine)),
        pytest.raises(DBAPIError) as caught,
    ):
        async with engine.connect() as connection:
            await connection.execute(text("SELECT :value AS probe"), {"value": EMAIL})
    assert "probe" in str(caught.value)
    assert EMAIL not in str(caught.value)
