"""The OpenAPI document, completed in this one place so that a client generated from it can
be trusted (docs/decisions/2026-12-07-openapi-from-one-module.md).

FastAPI describes what each route declares: its parameters, body, success answer and the
bearer scheme of the API key dependency. What every operation does besides, by the
conventions of API.md and the machinery that keeps them (the API key dependency, the unit of
work, the middleware), no route says; `build` adds it from the route and the tables below:

- the request headers it reads, as parameters, so that a generated client takes them per
  call: `Idempotency-Key` on every POST, `If-Match` on PATCH and DELETE, `If-None-Match` on
  the GET of a resource with an ETag;
- the response headers it sends: `X-Request-ID` always, the `RateLimit-*` headers once the
  key is known, `Retry-After` with 429 and 503, `ETag`, `Location` on 201,
  `Idempotent-Replayed`, `WWW-Authenticate` with 401;
- every problem status it can answer, with the `Problem` schema;
- operation ids (the endpoint's name), tags with descriptions, and names for enum members
  (`x-enum-varnames`) a generator can use.
"""

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from app.core.errors import PROBLEM_JSON, Problem
from app.core.etag import tags_representation
from app.core.openapi_schemas import declare_bounds, name_enum_members
from app.core.principal import ApiKeyAuth

_TAG_DESCRIPTIONS = {
    "agenda": "What to do today, most important first: consents about to lapse, follow-ups, "
    "thanks owed, introductions ready to make, reminders, balances, introductions to offer, "
    "touches due; snooze "
    "or dismiss an item.",
    "contacts": "The people in the owner's network: channels, tags and external references; "
    "archived, or erased for good.",
    "interactions": "Touchpoints with a contact; each moves the contact's `last_interaction_at`.",
    "ledger": "The reciprocity ledger: what the owner gave and received, reversals, and "
    "whether it is fair to ask a contact for a favour now.",
    "introductions": "Introductions that cannot be made before the target consents: the "
    "state machine from request to feedback, and its timeline.",
    "events": "The change feed: every change to the owner's data, in commit order, for sync.",
    "webhooks": "Subscriptions that receive events as signed HTTP POSTs (Standard "
    "Webhooks), and their deliveries.",
    "reminders": 'Planned touches with a contact ("call Ada after her launch"), due at a '
    "moment and open until done; the agenda and the calendar feed show the open ones.",
    "relationships": "Who knows whom among the owner's contacts: undirected pairs with a kind "
    "and a strength, recorded by the owner or by making an introduction.",
    "network": "Who could introduce you (warm paths, weighed by your goodwill with the "
    "introducer) and whom you could help (suggestions: one contact's need, another's offer).",
    "calendar": "Secret calendar URLs (RFC 5545) that phones subscribe to without an API key: "
    "the open reminders and dated agenda items of the next 30 days, as all-day events; "
    "delete a feed to revoke its URL.",
    "settings": "The owner's rules: reciprocity ratio, consent and anti-pestering limits, "
    "and the agenda's thanks window and time zone.",
    "owners and keys": "The owner behind the API key, and the owner's API keys.",
    "import and export": "Contacts in from LinkedIn, Google Contacts or vCard files; "
    "everything out as JSON, or contacts as vCard.",
    "operations": "Health, readiness and metrics for load balancers and Prometheus; no API key.",
}
TAGS = [{"name": name, "description": text} for name, text in _TAG_DESCRIPTIONS.items()]

# Operations whose success answers carry the resource's ETag made from its version
# (app/core/etag.py); those marked `@etag_from_representation` carry one too. A GET among
# them answers 304 to an If-None-Match naming it. tests/test_openapi_document.py holds this
# to what the app sends.
WITH_ETAG = frozenset(
    {
        "create_contact", "read_contact", "update_contact", "upsert_contact_by_ref",
        "restore_contact",
        "create_introduction", "read_introduction", "update_introduction",
        "request_consent", "record_consent", "make_introduction", "record_feedback", "withdraw",
        "create_webhook", "read_webhook", "update_webhook", "rotate_webhook_secret",
        "enable_webhook",
        "create_api_key", "read_api_key",
        "read_settings", "update_settings",
        "create_reminder", "read_reminder", "update_reminder", "complete_reminder",
        "create_calendar_feed", "read_calendar_feed",
        "create_relationship", "read_relationship", "update_relationship",
    }
)  # fmt: skip

# The rules each operation's service refuses a request for with 409 (its Conflict errors),
# besides the Idempotency-Key race that any POST can lose.
CONFLICTS = {
    "create_contact": "An email address or external reference already belongs to another "
    "contact (`existing_id` names it).",
    "update_contact": "An email address the change adds, or an external reference, already "
    "belongs to another contact (`existing_id` names it).",
    "upsert_contact_by_ref": "The contact holding the reference is archived; or an email "
    "address or another external reference of the body belongs to another contact "
    "(`existing_id` names it).",
    "restore_contact": "The contact is not archived.",
    "log_interaction": "The contact is archived (`contact-archived`); restore it first.",
    "record_entry": "The contact is archived (`contact-archived`); restore it first.",
    "reverse_entry": "The entry is already reversed, or is itself a reversal; or its contact "
    "is archived (`contact-archived`).",
    "create_introduction": "The requester is the target; the pair already has an open "
    "introduction; the target declined them within the cooldown (`retry_after`); or the "
    "requester or the target is archived (`contact-archived`).",
    "update_introduction": "The introduction is no longer `requested`.",
    "request_consent": "The state does not allow it, `benefit_to_target` is empty, the "
    "target has as many pending consent requests as the owner's cap, or the link was "
    "(re)issued less than a day ago (`retry_after`, and Retry-After).",
    "record_consent": "The state does not allow it.",
    "make_introduction": "The target has not consented, or the requester (whose ledger "
    "takes the deposit) is archived (`contact-archived`).",
    "record_feedback": "The state does not allow it, or that side already gave feedback.",
    "withdraw": "The introduction is already made or ended.",
    "create_webhook": "The owner has as many subscriptions as allowed.",
    "test_webhook": "The webhook is disabled; enable it first.",
    "redeliver_delivery": "The webhook is disabled; enable it first.",
    "update_interaction": "The contact is archived (`contact-archived`); restore it first.",
    "delete_interaction": "The contact is archived (`contact-archived`); restore it first.",
    "create_reminder": "The contact is archived (`contact-archived`); restore it first.",
    "update_reminder": "The reminder's contact is archived (`contact-archived`); restore it first.",
    "create_relationship": "The pair already has a relationship of that kind (`existing_id` "
    "names it), or one of the contacts is archived (`contact-archived`).",
    "update_relationship": "The pair already has a relationship of the new kind (`existing_id` "
    "names it), or one of the contacts is archived (`contact-archived`).",
}

# Operations whose 409 may say when to retry, in `Retry-After` too (a rule that lifts with
# time, as against a state that does not).
RETRY_AFTER_ON_CONFLICT = frozenset({"request_consent"})

# Operations that look up ids sent in the body (or, read_warm_paths, the query string) rather
# than the path: 404 when one is not the owner's.
IDS_IN_BODY = frozenset(
    {
        "record_entry",
        "create_introduction",
        "create_reminder",
        "create_relationship",
        "read_warm_paths",
    }
)

# Operations without an API key that are rate limited all the same, counted against the
# secret in their URL as a key's requests are (a calendar feed's).
KEYLESS_RATE_LIMITED = frozenset({"read_calendar"})

_SECONDS = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the client's own `X-Request-ID` when it is 1-128 "
        "of `A-Za-z0-9._:-`, else a new one. Quote it when reporting a problem.",
        "required": True,
        "schema": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9._:\\-]{1,128}$"},
    },
    "RateLimit-Limit": {
        "description": "Requests the API key may make in the current window "
        "(GOODWILL_RATE_LIMIT). Sent once the key is known, unless the limiter is down.",
        "schema": {**_SECONDS, "minimum": 1},
    },
    "RateLimit-Remaining": {
        "description": "Requests the API key has left in the current window.",
        "schema": _SECONDS,
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window ends.",
        "schema": _SECONDS,
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {**_SECONDS, "minimum": 1},
    },
    "ETag": {
        "description": "The resource's current entity tag: send it back in `If-Match` to "
        "change the resource only as read, or in `If-None-Match` to read it only if changed.",
        "required": True,
        "schema": {"type": "string", "maxLength": 100, "pattern": '^"[^"]*"$'},
    },
    "Location": {
        "description": "The path of the resource created.",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference", "maxLength": 500},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with "
        "the same Idempotency-Key; nothing was done again.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Accept-Patch": {
        "description": "The patch documents a PATCH takes (RFC 5789).",
        "required": True,
        "schema": {"type": "string", "enum": ["application/json"]},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with.",
        "required": True,
        "schema": {"type": "string", "enum": ["Bearer"]},
    },
}
_RATE_LIMIT = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")

PARAMETERS: dict[str, dict[str, Any]] = {
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "A key of your choosing (1-255 printable characters), unique per "
        "request you mean: a retry with the same key and body within "
        "GOODWILL_IDEMPOTENCY_TTL_HOURS (24) gets the original answer, and nothing is done "
        "twice; the same key with another body is a 422. Keys are the owner's.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "IfMatch": {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": "The ETag the change is based on (or `*`): when the resource has "
        "changed since, nothing is changed and the answer is 412.",
        "schema": {"type": "string"},
    },
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "The ETag of the copy you have: while it is still current the answer "
        "is 304, without a body.",
        "schema": {"type": "string"},
    },
}


def operation_id(route: APIRoute) -> str:
    """The endpoint's name, which is what a generated client calls the method:
    `list_contacts`, `create_contact`, `read_contact`."""
    return route.name


def install(app: FastAPI) -> None:
    """Make `build` the app's document (FastAPI's way to customise it), built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    components["headers"] = copy.deepcopy(HEADERS)
    components["parameters"] = copy.deepcopy(PARAMETERS)
    seen: set[str] = set()
    for route, method in _operations(app):
        if route.name in seen:
            raise ValueError(f"two operations are named {route.name}; rename one endpoint")
        seen.add(route.name)
        _complete(document["paths"][route.path_format][method], route, method)
    for table in (WITH_ETAG, CONFLICTS, IDS_IN_BODY, RETRY_AFTER_ON_CONFLICT, KEYLESS_RATE_LIMITED):
        if unknown := set(table) - seen:
            raise ValueError(f"app/core/openapi.py names operations the app lacks: {unknown}")
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced
        if f'"#/components/schemas/{unused}"' not in json.dumps(document["paths"]):
            schemas.pop(unused, None)
    name_enum_members(schemas)
    declare_bounds(document)
    return document


def _operations(app: FastAPI) -> Iterator[tuple[Any, str]]:
    """(route, method) of each documented operation: the route as the app serves it, its
    routers' prefixes applied (a `RouteContext`, which reads as an APIRoute)."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in sorted(route.methods):
                yield route, method.lower()


def _scope(route: Any) -> str | None:
    """`read` or `write`: the scope the operation's API key dependency asks for, if any."""
    for hint in get_type_hints(route.endpoint, include_extras=True).values():
        if get_origin(hint) is Annotated:
            for meta in get_args(hint)[1:]:
                dependency = getattr(meta, "dependency", None)
                if isinstance(dependency, ApiKeyAuth):
                    return "write" if dependency.write else "read"
    return None


@dataclass(frozen=True)
class _Operation:
    """What the document needs to know of one operation."""

    name: str
    method: str
    scope: str | None  # the API key's scope it asks for: `read`, `write`, or no key
    limited: bool  # rate limited: with a key, or KEYLESS_RATE_LIMITED
    body: bool
    json_body: bool
    queries: bool
    path_ids: bool
    lists: bool
    etag: bool

    @property
    def post(self) -> bool:
        return self.method == "post"

    @property
    def conditional_read(self) -> bool:
        return self.method == "get" and self.etag

    @property
    def conditional_write(self) -> bool:
        return self.method in ("patch", "delete", "put")


def _facts(operation: dict[str, Any], route: Any, method: str) -> _Operation:
    body = operation.get("requestBody")
    parameters = operation.get("parameters", [])
    queries = [p["name"] for p in parameters if p["in"] == "query"]
    return _Operation(
        name=route.name,
        method=method,
        scope=_scope(route),
        limited=_scope(route) is not None or route.name in KEYLESS_RATE_LIMITED,
        body=body is not None,
        json_body=body is not None and "application/json" in body.get("content", {}),
        queries=bool(queries),
        path_ids=any(p["in"] == "path" for p in parameters),
        lists="cursor" in queries,
        etag=route.name in WITH_ETAG or tags_representation(route.endpoint),
    )


def _complete(operation: dict[str, Any], route: Any, method: str) -> None:
    op = _facts(operation, route, method)
    parameters = operation.setdefault("parameters", [])
    for wanted, ref in (
        (op.post, "IdempotencyKey"),
        (op.conditional_write, "IfMatch"),
        (op.conditional_read, "IfNoneMatch"),
    ):
        if wanted:
            parameters.append({"$ref": f"#/components/parameters/{ref}"})
    if not parameters:
        del operation["parameters"]

    responses = operation["responses"]
    for status, response in responses.items():
        if status.startswith("2"):
            extra = ["ETag"] if op.etag and status != "204" else []
            if status == "201":
                extra.append("Location")
            response["headers"] = _headers(op, status, *extra)
    problems = _problems(op)
    if "422" not in problems:  # FastAPI's guess, for a path parameter any text is valid for
        responses.pop("422", None)
    for status, description in problems.items():
        extra = ()
        if status == "429" or (status == "503" and op.name != "readyz"):
            extra = ("Retry-After",)
        elif status == "401":
            extra = ("WWW-Authenticate",)
        elif status == "415" and op.method == "patch":
            extra = ("Accept-Patch",)
        responses[status] = {
            "description": description,
            "headers": _headers(op, status, *extra),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    if op.name == "readyz":  # Retry-After only when the database cannot be reached
        responses["503"]["headers"]["Retry-After"] = {
            "description": HEADERS["Retry-After"]["description"],
            "schema": HEADERS["Retry-After"]["schema"],
        }
    if op.name in RETRY_AFTER_ON_CONFLICT:  # only with the conflicts that lift with time
        responses["409"]["headers"]["Retry-After"] = {
            "description": HEADERS["Retry-After"]["description"],
            "schema": HEADERS["Retry-After"]["schema"],
        }
    if op.conditional_read:
        responses["304"] = {
            "description": "Not modified: If-None-Match names the current ETag.",
            "headers": _headers(op, "304", "ETag"),
        }


def _headers(op: _Operation, status: str, *extra: str) -> dict[str, Any]:
    """The headers an answer of `status` carries: `extra`, and those every answer does."""
    names = ["X-Request-ID", *extra]
    if op.limited and status != "401":  # counted once the key (or the URL) is known
        names += _RATE_LIMIT
    if op.post and status[0] in "24" and status not in ("401", "403"):
        names.append("Idempotent-Replayed")  # a stored answer, replayed
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _problems(op: _Operation) -> dict[str, str]:
    """Each problem status the operation can answer, with what it means there."""
    problems = {
        "400": _bad_request(lists=op.lists, post=op.post),
        "500": "A bug on our side: a generic problem; quote the X-Request-ID when reporting it.",
    }
    if op.scope is not None:
        problems["401"] = "The API key is missing, unknown or revoked."
    if op.limited:
        limited = "API key" if op.scope is not None else "URL"
        problems["429"] = f"The {limited}'s rate limit is used up; retry after Retry-After."
        problems["503"] = "The database cannot be reached right now; retry after Retry-After."
    if op.scope == "write":
        problems["403"] = "The API key lacks the `write` scope."
    if op.path_ids or op.name in IDS_IN_BODY:
        problems["404"] = "No such resource for this owner (another owner's does not exist)."
    if op.body:
        problems["408"] = "The request body did not arrive in full in time (30 s)."
        problems["413"] = "The request body is larger than the endpoint accepts."
    if op.json_body:
        problems["415"] = "The request body is not JSON (`Content-Type: application/json`)."
    if op.post or op.name in CONFLICTS:
        conflict = CONFLICTS.get(op.name, "")
        if op.post:
            conflict += " A request with the same Idempotency-Key was being processed at "
            conflict += "the same time; retry to get its answer."
        problems["409"] = conflict.strip()
    if op.post:
        problems["410"] = "A retry (same Idempotency-Key) of a request whose result has "
        problems["410"] += "since been erased."
    if op.conditional_write:
        problems["412"] = "If-Match did not name the current ETag; read it again."
    if op.body or op.queries or op.post:
        problems["422"] = _unprocessable(body=op.body, post=op.post)
    if op.name == "readyz":
        problems["503"] = "Not ready: the database cannot be reached, or its schema is not "
        problems["503"] += "at the migration head."
    return problems


def _bad_request(*, lists: bool, post: bool) -> str:
    causes = ["an unknown query parameter, or a single-valued one given twice"]
    if lists:
        causes.append("a cursor this list did not issue")
    if post:
        causes.append("a malformed Idempotency-Key")
    causes.append("a NUL in the URL, or a Host the service does not answer for")
    return "Bad request: " + "; ".join(causes) + "."


def _unprocessable(*, body: bool, post: bool) -> str:
    text = "Invalid parameters"
    text += ", or invalid or unknown fields in the body" if body else ""
    text += "; `errors` names them."
    if post:
        text += " Or the Idempotency-Key was used before with another request."
    return text
