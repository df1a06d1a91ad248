"""The folded text `GET /v1/contacts?q=` searches, and the query folded the same way.

A contact's `search_text` is its names, organisation, title, email addresses, tags and phone
numbers, folded: decomposed (NFKD), combining marks dropped, case-folded, so that `jurgen`,
`JURGEN` and `Jürgen` are one text and `ß` matches `ss`. Folding is done here in Python, at
write time and for each query, rather than in SQL: one function, the same on SQLite and
PostgreSQL, and the column stays a plain text that the trigram index covers
(docs/decisions/2026-12-07-folded-search.md). Migration 0012 copies these rules to
recompute existing contacts: a change here needs a migration that recomputes them again.

Phone numbers are stored as digits, once in E.164 (`442079460958`) and once as dialled at
home (`02079460958`), so that a query written in any format, folded to its digits
(`phone_digits`), is a substring of one of them.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat

from app.contacts.identifiers import EMAIL, PHONE, parse_phone

# Latin letters that NFKD leaves whole (they are letters of their own, not a letter and a
# mark), folded the way a user without them would type them.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ħ": "h",
        "\u0131": "i",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ð": "d",
    }
)
# A query of digits and the punctuation people write numbers with, e.g. "+44 20 7946 0958",
# "(020) 7946-0958": read as a phone number when it has at least this many digits.
_PHONE_QUERY = re.compile(r"\+?[0-9 ().\-/]+")
_PHONE_QUERY_DIGITS = 4


def _without_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Case- and accent-insensitive form of `text`. Folding is character by character, so
    `fold(a + b) == fold(a) + fold(b)`: a folded query is found in the folded text it was
    part of. Marks go before and after case folding: case folding can uncover new ones."""
    return _without_marks(_without_marks(text).casefold()).translate(_LETTERS)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isdigit())


def phone_texts(value: str) -> list[str]:
    """What a phone number is searchable as: the digits of its E.164 form and of its
    national form when it parses with its country code, else the digits as written."""
    e164 = parse_phone(value)
    if e164 is None:
        digits = _digits(value)
        return [digits] if digits else []
    number = phonenumbers.parse(e164, None)
    national = _digits(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    return list(dict.fromkeys([e164[1:], national]))


def phone_digits(query: str) -> str | None:
    """The digits to look for when `query` looks like a phone number, else None. A number
    with its country code is looked for as E.164 ("+44 (0)20 7946 0958" -> 442079460958);
    one without, as its digits (matching the national form stored)."""
    text = query.strip()
    if not _PHONE_QUERY.fullmatch(text) or len(_digits(text)) < _PHONE_QUERY_DIGITS:
        return None
    e164 = parse_phone(text) if text.startswith("+") else None
    return e164[1:] if e164 else _digits(text)


def search_text(
    *,
    display_name: str | None,
    given_name: str | None,
    family_name: str | None,
    organization: str | None,
    title: str | None,
    tags: Iterable[str],
    channels: Iterable[dict[str, Any]],
) -> str:
    """A contact's `search_text`."""
    parts = [display_name, given_name, family_name, organization, title, *tags]
    for channel in channels:
        value = channel.get("value") or ""
        if channel.get("type") == EMAIL:
            parts.append(value)
        elif channel.get("type") == PHONE:
            parts += phone_texts(value)
    return " ".join(fold(p) for p in parts if p)


def address_part(folded: str) -> str | None:
    """For a query holding an email address, the part the index is asked for: the address
    up to its `@`. A domain is shared by many contacts (every colleague, every
    gmail.com), so the trigrams of `example.com` each list most of the network, and
    reading those lists cost three quarters of an email search; the whole text is still
    matched against each contact the part finds. None when there is no such part (no `@`,
    fewer than three characters before it, nothing after it)."""
    local, at, domain = folded.partition("@")
    if not at or not domain or len(local) < 3:
        return None
    return local + at


def digits_part(digits: str) -> str:
    """The part of a number's digits the index is asked for: its last seven, the subscriber's
    number. Country and area codes are shared by everyone in a place, so their trigrams list
    most of a network, as a domain's do (`address_part`)."""
    return digits[-7:]


# Queries are read again and again (a name typed by many, a list paged through): their
# folding and parsing, a few per cent of a search's CPU, is kept for the latest of them.
_QUERIES = 1024


@lru_cache(maxsize=_QUERIES)
def search_query(query: str) -> tuple[str, str | None]:
    """The folded query, and its digits when it looks like a phone number and they differ
    from it (a query of digits alone is its own digits)."""
    folded, digits = fold(query), phone_digits(query)
    return folded, digits if digits != folded else None


# --- tokens: what a search for a common name reads instead of every text ---------------------

# The longest token kept as itself. A longer run of letters and digits (a pathological name:
# folding can lengthen a text) is kept as the empty token, whose contacts every token search
# also checks, so that none is missed; a B-tree entry has a size limit.
MAX_TOKEN = 100
# A piece of the query shorter than this, unless it must be a whole word, is not looked up
# in the vocabulary (its trigram index needs three characters).
_MIN_PIECE = 3


def _runs(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each maximal run of letters and digits (`str.isalnum`) in `text`."""
    runs, start = [], None
    for i, c in enumerate(text):
        if c.isalnum():
            if start is None:
                start = i
        elif start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(text)))
    return runs


def tokens(folded: str) -> set[str]:
    """A contact's tokens (`ContactToken`): the runs of letters and digits of its
    `search_text`, each whole, a run longer than MAX_TOKEN as the empty token. A query made of
    letters and digits that occurs in the text lies inside one of them."""
    return {folded[start:end] if end - start <= MAX_TOKEN else "" for start, end in _runs(folded)}


@dataclass(frozen=True)
class TokenSearch:
    """How a query is answered from tokens: the contacts that have a token `pattern` matches
    (LIKE, escape '/': a piece is letters and digits only, so it needs no escaping), each
    checked against the whole folded query. `pattern` is the piece itself when the token must
    equal it."""

    pattern: str
    # The token must equal the piece: no vocabulary lookup.
    exact: bool


@lru_cache(maxsize=_QUERIES)
def token_search(query: str) -> TokenSearch | None:
    """Whether `q` is answered from tokens, and how; None when the trigram index answers it
    (docs/decisions/2026-12-07-search-by-tokens.md).

    Tokens answer a query with one piece (a run of letters and digits, of three characters
    or more) once folded: a family name, the start of one (`smi`), any part of a word. Where
    such a query occurs in a contact's text, its piece lies inside one of the contact's
    tokens: anywhere in it when the query is the piece alone; at the token's start when
    something precedes the piece in the query, at its end when something follows, the whole
    token when both do. So the contacts with a token matching the piece include every
    contact the query finds, and checking the whole query against each of them finds
    exactly those. A query of several pieces ("ada lovelace") keeps the trigram path: the
    contacts of its commonest piece could be thousands to check for one match, where the
    trigrams of the whole query find it at once. So do emails (an `@`) and phone numbers,
    whose rarest part the trigram path asks for."""
    folded = fold(query)
    if "@" in folded or phone_digits(query) is not None:
        return None
    runs = _runs(folded)
    if len(runs) != 1:
        return None
    ((start, end),) = runs
    if not _MIN_PIECE <= end - start <= MAX_TOKEN:
        return None
    piece = folded[start:end]
    if start > 0 and end < len(folded):
        return TokenSearch(piece, exact=True)
    prefix = "%" if start == 0 else ""
    suffix = "%" if end == len(folded) else ""
    return TokenSearch(f"{prefix}{piece}{suffix}", exact=False)
