"""Which tokens a search reads: the rule, decided in one place (`tokens_to_read`), and the
vocabulary lookups each worker remembers (docs/decisions/2026-12-07-search-by-tokens.md,
docs/decisions/2026-12-07-emails-and-phones-by-tokens.md)."""

from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from sqlalchemy import bindparam, literal_column, or_
from sqlmodel import col, select

from app.contacts.models import OwnerToken
from app.contacts.schemas import ContactSort
from app.contacts.search import TokenSearch, token_search
from app.core.outbox import FEED_POSITION
from app.core.reads import Reader
from app.core.sql import position

# More of the owner's tokens than this matching the query's pieces: the trigram path reads
# less than that many tokens' contacts would.
MOST_TOKENS = 15


def _lookup(addresses: bool, patterns: int) -> Any:
    """The owner's tokens matching any of `patterns` (`pattern_0`, ...), among the words
    holding an `@` (`addresses`) or among the runs of letters and digits, and the owner's
    feed position. Every write that adds to the vocabulary (`create_contacts`,
    `update_contact`) records an event in its transaction, so while the position stays the
    same, so does the vocabulary."""
    token = col(OwnerToken.token)
    # Written as migration 0020's partial trigram indexes are, literals and all, so that
    # PostgreSQL can tell which one holds the tokens asked for.
    at = position(token, literal_column("'@'"))
    kind = at > literal_column("0") if addresses else at == literal_column("0")
    like = or_(*(token.like(bindparam(f"pattern_{i}"), escape="/") for i in range(patterns)))
    return (
        select(token, FEED_POSITION.label("feed"))
        .where(
            OwnerToken.owner_id == bindparam("owner_id"),
            # The empty token stands for tokens too long to keep (search.MAX_TOKEN): its
            # contacts are always read too.
            (kind & like) | (token == ""),
        )
        .limit(MOST_TOKENS + 2)
    )


# By (addresses, number of patterns): a phone number looks up two, its digits and a piece.
_LOOKUPS = {(addresses, n): _lookup(addresses, n) for addresses in (False, True) for n in (1, 2)}


@dataclass(frozen=True)
class Tokens:
    """The tokens whose contacts a search reads, sorted (none: nothing can match)."""

    tokens: tuple[str, ...]
    # Remembered from an earlier request: the owner's feed position they were looked up at.
    feed: int | None = None


# Vocabulary lookups remembered in this process, by owner and search, the least recently
# used forgotten past _MOST_KNOWN: looking a piece up was a third of a family name's CPU,
# the worker's and the database's (a round trip prepared and planned each time), where
# checking the feed is an index probe in the page's own statement
# (docs/decisions/2026-12-07-search-by-tokens.md).
_MOST_KNOWN = 4096
KNOWN: LRUCache[tuple[str, TokenSearch], Tokens] = LRUCache(maxsize=_MOST_KNOWN)


async def tokens_to_read(
    reader: Reader, owner_id: str, q: str, sort: ContactSort, remembered: bool
) -> Tokens | None:
    """The rule for which searches are answered from tokens, in one place: in id order (the
    default; other orders sort every match by their own key, so they keep one statement),
    when `token_search` says how, and at most MOST_TOKENS of the owner's tokens match its
    pieces. Returns the tokens whose contacts are read, or None for the trigram path;
    `remembered`: as looked up for an earlier request, when they were (to be checked against
    the feed, listing._search)."""
    if sort.value.lstrip("-") != "created_at":
        return None
    search = token_search(q)
    if search is None:
        return None
    # Tokens a piece must equal are read as they are: no lookup.
    exact = {*search.exact, ""}
    if not search.patterns:
        return Tokens(tuple(sorted(exact)))
    key = (owner_id, search)
    known = KNOWN.get(key) if remembered else None
    if known is not None:
        return known
    params = {f"pattern_{i}": pattern for i, pattern in enumerate(search.patterns)}
    # Planned for the patterns: the trigram index for '%muller%', not the owner's every token.
    rows = await reader.rows(
        _LOOKUPS[search.addresses, len(search.patterns)],
        {"owner_id": owner_id, **params},
        plan_for_values=True,
    )
    found = tuple(sorted({row["token"] for row in rows} | set(search.exact)))
    if len(found) > MOST_TOKENS + ("" in found):
        return None
    if rows:  # nothing found has no feed position to check it with
        KNOWN[key] = Tokens(found, rows[0]["feed"])
    return Tokens(found)
