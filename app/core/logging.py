"""Structured JSON logs. Nothing personal is logged: no bodies, no query strings."""

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from app.core.config import Settings


class _DropTerminalColours(logging.Filter):
    """Uvicorn attaches an ANSI-coloured copy of its messages; JSON logs don't want it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_DropTerminalColours())
    if settings.log_json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Uvicorn's access log prints raw query strings, which can hold names (?q=...); ours doesn't.
    logging.getLogger("uvicorn.access").disabled = True
