"""Log lines are what a log pipeline can parse: one JSON object per line."""

import logging
import sys

import orjson

from app.core.logging import JsonLines


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


def test_an_exception_is_logged_with_its_traceback_and_odd_values_as_text() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = _record(path=object())
    record.exc_info = exc_info
    data = orjson.loads(JsonLines().format(record))
    assert "ValueError: boom" in data["exc_info"]
    assert data["path"].startswith("<object object")
