"""What every operation checks of a request before anything of it runs, read from the
operation's own OpenAPI description, so that what a client is told is what is enforced:

- the query string names only parameters the operation declares, and a single-valued one at
  most once (400, naming them): a typo (`?limit=10&tga=vip`) must fail loudly rather than
  answer as if the filter had been applied;
- a body sent to an operation that takes JSON is declared as JSON (415).

The description is the one FastAPI generates for the route (`get_openapi`, public), so it
is what FastAPI itself reads: parameters declared in dependencies and under aliases
included. It is built for a route the first time a request needs it (one with a query
string, or a body), not at start-up: an app is built far more often than most of its
routes are called with one, in tests above all.
(docs/decisions/2026-12-07-strict-query-strings.md)
"""

from collections.abc import Iterable
from typing import Any

from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.requests import Request

from app.core.errors import BadRequest, GoodwillError


class InvalidQuery(BadRequest):
    """A query parameter the operation does not declare, or a single-valued one given more
    than once."""

    type, title = "invalid-query-parameter", "Invalid query parameter"


class UnsupportedMediaType(GoodwillError):
    status, type, title = 415, "unsupported-media-type", "Unsupported Media Type"


_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# What a problem repeats of names a client sent.
_NAME_CHARS, _NAMES = 100, 10


def is_json(content_type: str) -> bool:
    """`application/json` or `application/<anything>+json`, whatever its parameters
    (`; charset=utf-8`)."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _many(schema: dict[str, Any]) -> bool:
    """Whether a parameter's schema takes a list (`list[X]`, or `list[X] | None`)."""
    if schema.get("type") == "array":
        return True
    return any(_many(option) for option in schema.get("anyOf", ()))


def _shown(names: Iterable[str]) -> str:
    """Names as a client sent them, each cut short, quoted when empty or unprintable."""
    shown = []
    for name in names:
        cut = name[:_NAME_CHARS]
        shown.append(cut if cut and cut.isprintable() else repr(cut))
    if len(shown) > _NAMES:
        shown = [*shown[:_NAMES], f"and {len(shown) - _NAMES} more"]
    return ", ".join(shown)


class RouteContract:
    """One route's declared query parameters and whether it takes a JSON body."""

    __slots__ = ("_route", "json_body", "query", "repeatable")

    def __init__(self, route: APIRoute) -> None:
        self._route: APIRoute | None = route
        self.query: frozenset[str] = frozenset()
        self.repeatable: frozenset[str] = frozenset()
        self.json_body = False

    def _load(self, route: APIRoute) -> None:
        document = get_openapi(title="contract", version="0", routes=[route])
        (item,) = document["paths"].values()
        (operation,) = item.values()
        query = [p for p in operation.get("parameters", ()) if p["in"] == "query"]
        self.query = frozenset(p["name"] for p in query)
        self.repeatable = frozenset(p["name"] for p in query if _many(p.get("schema", {})))
        self.json_body = "application/json" in operation.get("requestBody", {}).get("content", {})
        self._route = None  # loaded

    async def check(self, request: Request) -> None:
        """InvalidQuery or UnsupportedMediaType, or nothing: the request may go on."""
        scope = request.scope
        has_query, has_body = bool(scope["query_string"]), scope["method"] in _WITH_BODY
        if not (has_query or has_body):
            return  # most requests: a GET of a resource, nothing to read
        if self._route is not None:
            self._load(self._route)
        if has_query:
            self._check_query(request)
        if has_body and self.json_body:
            content_type = request.headers.get("content-type")
            # A body left out is FastAPI's to judge (a 422 where one is required); the body
            # is read once, and FastAPI's handler gets it from the same request.
            if not (content_type and is_json(content_type)) and await request.body():
                detail = (
                    f"The request body is {content_type[:_NAME_CHARS]}; this operation takes JSON."
                    if content_type
                    else "The request body has no Content-Type; this operation takes JSON."
                )
                # RFC 5789: a 415 to a PATCH says which patch documents are taken.
                patch = scope["method"] == "PATCH"
                headers = {"Accept-Patch": "application/json"} if patch else None
                raise UnsupportedMediaType(
                    f"{detail} Send it with Content-Type: application/json.", headers=headers
                )

    def _check_query(self, request: Request) -> None:
        counts: dict[str, int] = {}
        for name, _ in request.query_params.multi_items():
            counts[name] = counts.get(name, 0) + 1
        unknown = [name for name in counts if name not in self.query]
        repeated = [
            name
            for name, count in counts.items()
            if count > 1 and name in self.query and name not in self.repeatable
        ]
        if not (unknown or repeated):
            return
        details, errors = [], []
        if unknown:
            s = "s" if len(unknown) > 1 else ""
            takes = (
                f"This operation takes: {', '.join(sorted(self.query))}."
                if self.query
                else "This operation takes no query parameters."
            )
            details.append(f"Unknown query parameter{s}: {_shown(unknown)}. {takes}")
            errors += [
                {"field": name[:_NAME_CHARS], "message": "unknown query parameter"}
                for name in unknown[:_NAMES]
            ]
        if repeated:
            s = "s" if len(repeated) > 1 else ""
            details.append(
                f"Query parameter{s} given more than once: {_shown(repeated)}; "
                f"{'each takes' if s else 'it takes'} one value."
            )
            errors += [
                {"field": name, "message": f"given {counts[name]} times; takes one value"}
                for name in repeated
            ]
        raise InvalidQuery(" ".join(details), errors=errors)
