"""Request ids, the access log and metrics, as one pure ASGI middleware (cheap per request)."""

import logging
import os
import re
import time
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import (
    DatabaseUnavailable,
    GoodwillError,
    database_unavailable,
    error_response,
    problem_response,
)
from app.core.logging import exception_names
from app.core.metrics import HTTP_DURATION, HTTP_REQUESTS

log = logging.getLogger("goodwill.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        # A client's id is kept only if it is safe to echo and to log. A new one is 128
        # random bits in hex, like a UUID's, for less than `uuid4().hex` costs.
        request_id = (
            incoming if incoming and _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in state.get("rate_limit_headers", {}).items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Every error no handler took passes here, from wherever the request met the
            # database (the API key, the endpoint, the idempotency record, the commit): one
            # place tells an outage (503, retry) from a bug (500).
            if database_unavailable(exc) and not response_started:
                # An outage is not a bug: one line, no traceback (a restart fails every
                # request for a while).
                log.warning(
                    "database unavailable",
                    extra={"request_id": request_id, "error": exception_names(exc)},
                )
                response = error_response(DatabaseUnavailable())
            else:
                # Anything unexpected is logged with the request id; the client gets a
                # generic problem and never a stack trace.
                log.exception("unhandled error", extra={"request_id": request_id})
                if response_started:
                    raise
                response = problem_response(
                    500,
                    GoodwillError.type,
                    GoodwillError.title,
                    "Something went wrong on our side. Quote the X-Request-ID when reporting it.",
                )
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_DURATION.labels(method, template).observe(elapsed)
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413)


class InputGuardMiddleware:
    """Refuse request bodies over the limit with a 413 problem, before reading them when
    Content-Length says so, and while streaming them otherwise; refuse a NUL character in
    the URL, which no id or filter contains and PostgreSQL cannot compare.

    `path_limits` raises (or lowers) the limit for the paths under a prefix, such as
    `{"/v1/imports": 20 MiB}`; the longest matching prefix wins."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.path_limits = sorted((path_limits or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.path_limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            response = problem_response(
                400, "bad-request", "Bad Request", "The URL must not contain a NUL character."
            )
            await response(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    detail = "The request body is larger than this endpoint accepts."
                    response = problem_response(
                        413,
                        "content-too-large",
                        "Content Too Large",
                        f"{detail} The limit is {limit} bytes.",
                    )
                    await response(scope, receive, send)
                    return
                break
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPExceptions from body reading; ours renders a problem.
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited_receive, send)
