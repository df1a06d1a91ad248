"""RFC 9457 problem details: one error base class, rendered by one set of handlers."""

from collections.abc import Iterable
from itertools import islice
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from app.core.responses import ORJSONResponse

PROBLEM_TYPE_BASE = "https://goodwill.example/problems/"
PROBLEM_JSON = "application/problem+json"


class GoodwillError(Exception):
    status: int = 500
    type: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.errors = errors
        self.extra = extra


class BadRequest(GoodwillError):
    status, type, title = 400, "bad-request", "Bad Request"


class InvalidCursor(BadRequest):
    type, title = "invalid-cursor", "Invalid pagination cursor"


class Unauthenticated(GoodwillError):
    status, type, title = 401, "unauthenticated", "Unauthenticated"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(GoodwillError):
    status, type, title = 403, "forbidden", "Forbidden"


class NotFound(GoodwillError):
    status, type, title = 404, "not-found", "Not Found"


class Conflict(GoodwillError):
    status, type, title = 409, "conflict", "Conflict"


class ContactArchived(Conflict):
    """An archived contact can be read, restored and erased, and nothing else: it refuses new
    interactions, ledger entries, introductions (and corrections to them) until restored."""

    type, title = "contact-archived", "Contact Archived"

    def __init__(self, contact_id: str) -> None:
        super().__init__(
            "The contact is archived; restore it (POST /v1/contacts/{id}/restore) first.",
            contact_id=contact_id,
        )


class PreconditionFailed(GoodwillError):
    status, type, title = 412, "precondition-failed", "Precondition Failed"


class UnprocessableContent(GoodwillError):
    status, type, title = 422, "validation-error", "Unprocessable Content"


class RateLimited(GoodwillError):
    status, type, title = 429, "rate-limited", "Too Many Requests"


class ServiceUnavailable(GoodwillError):
    status, type, title = 503, "service-unavailable", "Service Unavailable"

    # An outage seen so far is a restart or a failover: seconds, not minutes.
    RETRY_AFTER_SECONDS = 1

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(self.RETRY_AFTER_SECONDS)})


class DatabaseUnavailable(ServiceUnavailable):
    def __init__(self) -> None:
        super().__init__("The database cannot be reached right now; retry after Retry-After.")


# SQLSTATE classes of a server that cannot serve now, as against one refusing a statement:
# 08 connection exception, 53 insufficient resources (too many connections, disk full),
# 57P operator intervention (shutting down, crashed, starting up; but not 57014, a statement
# cancelled, which is about the statement).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def _signals_outage(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True  # SQLAlchemy found the connection dead (and dropped it from the pool)
    # PEP 249's OperationalError is the database's operation failing, not the program: on
    # SQLite a lock held past busy_timeout, a file that cannot be opened, an I/O error.
    # (asyncpg's errors reach SQLAlchemy under other classes; their SQLSTATE is read below.)
    # An InterfaceError is left out: both drivers also raise it for a bug (a parameter that
    # cannot be bound, a connection used by two tasks at once); its disconnect forms come
    # invalidated.
    if isinstance(error, sa_exc.OperationalError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.TimeoutError):
        return True  # no connection free in the pool in time
    # Connecting: refused, reset, unreachable, no such host, timed out. (A request makes no
    # other network call that could let one through.)
    if isinstance(error, OSError):
        return True
    sqlstate = getattr(error, "sqlstate", None)  # asyncpg's errors, and the adapter's copies
    if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return True
    # asyncpg's words for a connection already gone, when it is used directly
    # (app/core/reads.py) and SQLAlchemy has not seen it fail; its asyncpg dialect reads the
    # same words.
    return isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error)


# Whatever trying the database can raise: SQLAlchemy's errors, the network's, and the
# driver's own when it is used directly (app/core/reads.py).
DATABASE_ERRORS = (sa_exc.SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, says the database cannot be reached
    now (a client should retry), rather than that a statement or the code is wrong."""
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if _signals_outage(error):
            return True
        # SQLAlchemy raises its error `from` the driver's, the asyncpg adapter's `from`
        # asyncpg's. An error merely raised while handling another (__context__) is not
        # followed: that one is a bug of its own.
        pending.append(error.__cause__)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
    return False


# What a problem repeats of a request is cut to these, so that its size never follows the
# request's: a body with ten thousand unknown fields is told of the first hundred.
DETAIL_MAX_LENGTH = 2_000
FIELD_ERRORS_MAX = 100
FIELD_MAX_LENGTH = 300
MESSAGE_MAX_LENGTH = 1_000


class FieldError(BaseModel):
    field: str = Field(max_length=FIELD_MAX_LENGTH)
    message: str = Field(max_length=MESSAGE_MAX_LENGTH)


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(max_length=200)
    title: str = Field(max_length=100)
    status: int = Field(ge=400, le=599)
    detail: str = Field(max_length=DETAIL_MAX_LENGTH)
    errors: list[FieldError] | None = Field(default=None, max_length=FIELD_ERRORS_MAX)


def bounded_field_errors(errors: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """The first FIELD_ERRORS_MAX errors, each cut to the lengths FieldError declares."""
    return [
        {
            "field": error["field"][:FIELD_MAX_LENGTH],
            "message": error["message"][:MESSAGE_MAX_LENGTH],
        }
        for error in islice(errors, FIELD_ERRORS_MAX)
    ]


def problem_response(
    status: int,
    type_: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    instance: str | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_ if type_.startswith(("http", "about:")) else PROBLEM_TYPE_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail[:DETAIL_MAX_LENGTH],
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = bounded_field_errors(errors)
    if extra:
        body.update(extra)
    return ORJSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'channels', 0, 'value') -> 'channels[0].value'."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] if parts[0] == "body" or len(parts) > 1 else parts
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


def validation_errors(errors: Any) -> list[dict[str, str]]:
    out = []
    for err in errors:
        message = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        out.append({"field": _field_path(err.get("loc", ())), "message": message})
    return out


_HTTP_TITLES = {
    400: ("bad-request", "Bad Request"),
    401: ("unauthenticated", "Unauthenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not Found"),
    405: ("method-not-allowed", "Method Not Allowed"),
    406: ("not-acceptable", "Not Acceptable"),
    408: ("request-timeout", "Request Timeout"),
    413: ("content-too-large", "Content Too Large"),
    415: ("unsupported-media-type", "Unsupported Media Type"),
}


def error_response(exc: GoodwillError) -> Response:
    return problem_response(
        exc.status,
        exc.type,
        exc.title,
        exc.detail,
        headers=exc.headers,
        errors=exc.errors,
        extra=exc.extra,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GoodwillError)
    async def _goodwill(request: Request, exc: GoodwillError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = validation_errors(exc.errors())
        if any(e["message"] == "JSON decode error" for e in errors):
            detail = "The request body is not valid JSON."
        else:
            detail = "The request has invalid or unknown fields; see errors."
        return problem_response(
            422, UnprocessableContent.type, UnprocessableContent.title, detail, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        type_, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP Error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail else title
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            detail = "No such resource."
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on this resource."
            headers["Allow"] = allowed_methods(request)
        elif exc.status_code == 413:
            detail = "The request body is larger than this endpoint accepts."
        return problem_response(exc.status_code, type_, title, detail, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method that some route of the request's path answers. Starlette's router answers
    405 with the methods of the first route whose path matched, and each of ours has one; so
    each method is put to the routes' public `matches`, only when a 405 is being answered."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.routes):
            allowed.append(method)
    return ", ".join(allowed)
