"""ETags on single resources and If-Match on the writes that change them."""

from fastapi import Request

from app.core.errors import PreconditionFailed


def make_etag(version: int | str) -> str:
    return f'"{version}"'


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
