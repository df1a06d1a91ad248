"""Request ids, the access log and metrics, as one pure ASGI middleware (cheap per request)."""

import asyncio
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence

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


class BodyTimeout(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            status_code=408,
            detail=f"The request body did not arrive in full within {seconds:g} seconds.",
            headers={"Connection": "close"},
        )


def _host(scope: Scope) -> str | None:
    """The Host header's host, lowercased, without port or IPv6 brackets."""
    for name, value in scope["headers"]:
        if name == b"host":
            text = value.decode("latin-1").strip().lower()
            if text.startswith("["):
                return text[1:].partition("]")[0] or None
            host, colon, port = text.rpartition(":")
            return (host if colon and port.isdigit() else text) or None
    return None


def host_is_allowed(host: str | None, allowed: Sequence[str]) -> bool:
    """`allowed` holds hosts and `*.domain` patterns, as Starlette's TrustedHostMiddleware
    takes them."""
    if host is None:
        return False
    return any(
        host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:]))
        for pattern in allowed
    )


class InputGuardMiddleware:
    """What every request must pass before any of the app runs, each refused as a problem:
    a Host outside `allowed_hosts` (400; None allows any, for when absolute links come from
    GOODWILL_PUBLIC_BASE_URL instead of the Host); a NUL character in the URL, which no id
    or filter contains and PostgreSQL cannot compare (400); a body over the limit (413),
    before reading it when Content-Length says so and while streaming it otherwise; a body
    that has not arrived in full within `body_timeout_seconds` (408).

    `path_limits` raises (or lowers) the limit for the paths under a prefix, such as
    `{"/v1/imports": 20 MiB}`; the longest matching prefix wins."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        path_limits: Mapping[str, int] | None = None,
        *,
        allowed_hosts: Sequence[str] | None = None,
        body_timeout_seconds: float = 30.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.path_limits = sorted((path_limits or {}).items(), key=lambda item: -len(item[0]))
        self.allowed_hosts = (
            [h.lower() for h in allowed_hosts] if allowed_hosts is not None else None
        )
        self.body_timeout_seconds = body_timeout_seconds

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.path_limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allowed_hosts is not None and not host_is_allowed(_host(scope), self.allowed_hosts):
            response = problem_response(
                400,
                "bad-request",
                "Bad Request",
                "This service does not answer for that Host; see GOODWILL_ALLOWED_HOSTS.",
            )
            await response(scope, receive, send)
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
        received, more_body = 0, True
        timeout = self.body_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout

        async def limited_receive() -> Message:
            nonlocal received, more_body
            if not more_body:  # the body is in; what comes now is the disconnect, whenever
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                # FastAPI re-raises HTTPExceptions from body reading; ours render a problem.
                raise BodyTimeout(timeout) from None
            if message["type"] == "http.request":
                more_body = message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited_receive, send)
