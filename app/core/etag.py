"""ETags on single resources, If-Match on the writes that change them, and If-None-Match on
the reads of them.

A resource's ETag is a strong validator: it changes whenever the representation a client
reads does. Resources that keep a version make theirs from it (and from whatever their
document derives from elsewhere: a contact's ledger totals, say); resources without one
(a ledger entry, an interaction, a balance) take a digest of the answer itself
(`etag_from_representation`). Either way the unit of work (app/core/unit_of_work.py)
answers a GET whose If-None-Match names the answer's ETag with a 304 (`not_modified`), in
one place for every route, whether it returns a Response or a model
(docs/decisions/2026-12-07-etags-follow-the-representation.md).
"""

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import Response

from app.core.errors import PreconditionFailed

_FROM_REPRESENTATION = "goodwill_etag_from_representation"
# An entity-tag (RFC 9110 8.8.3): an optional weakness mark, then anything but a quote
# (commas included) between quotes.
_ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')
# Headers that describe a body, which a 304 does not have.
_BODY_HEADERS = frozenset({b"content-type", b"content-length"})

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def make_etag(version: int | str) -> str:
    return f'"{version}"'


def etag_from_representation(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint whose answers' ETag is a digest of the answer's bytes: a resource
    that keeps no version, because it is never edited, but whose representation can still
    change (a ledger entry once reversed). Two answers have the same ETag exactly when they
    have the same bytes: a strong validator by construction."""
    setattr(endpoint, _FROM_REPRESENTATION, True)
    return endpoint


def tags_representation(endpoint: Callable[..., Any]) -> bool:
    return getattr(endpoint, _FROM_REPRESENTATION, False)


def representation_etag(body: bytes) -> str:
    """The ETag of an answer whose tag is the digest of its bytes."""
    digest = hashlib.blake2b(body, digest_size=12).digest()
    return make_etag(base64.urlsafe_b64encode(digest).decode())


def tag_representation(response: Response) -> None:
    """Give a successful answer of one resource the digest of its bytes as its ETag."""
    if 200 <= response.status_code < 300 and "etag" not in response.headers:
        response.headers["ETag"] = representation_etag(response.body)


def check_if_match(request: Request, current: str) -> None:
    """Refuse a write made against a representation the client no longer has (412)."""
    header = request.headers.get("if-match")
    if header is None:
        return
    candidates = [tag.strip() for tag in header.split(",")]
    # A weak tag never matches under If-Match (RFC 9110, strong comparison).
    if "*" in candidates or current in candidates:
        return
    raise PreconditionFailed(
        f"The resource has changed since it was read (its ETag is now {current}); "
        "fetch it again and retry.",
    )


def none_match(header: str, current: str) -> bool:
    """Whether an If-None-Match field value names `current`: `*`, or a list of entity-tags
    compared weakly (RFC 9110 13.1.2: `W/"1"` names `"1"`)."""
    if header.strip() == "*":
        return True
    current_tag = _ENTITY_TAG.fullmatch(current)
    if current_tag is None:
        return False
    opaque = current_tag.group(2)
    return any(match.group(2) == opaque for match in _ENTITY_TAG.finditer(header))


def not_modified(request: Request, response: Response) -> Response:
    """A 304 in place of a GET's 200 whose ETag the client's If-None-Match names: no body,
    every other header kept (the ETag, Cache-Control and the like, RFC 9110 15.4.5), so the
    client goes on with the representation it holds. Otherwise `response` itself."""
    header = request.headers.get("if-none-match")
    if header is None or response.status_code != 200:
        return response
    current = response.headers.get("etag")
    if current is None or not none_match(header, current):
        return response
    unchanged = Response(status_code=304)
    unchanged.raw_headers = [
        (name, value) for name, value in response.raw_headers if name not in _BODY_HEADERS
    ]
    return unchanged
