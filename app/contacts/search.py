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


def search_query(query: str) -> tuple[str, str | None]:
    """The folded query, and its digits when it looks like a phone number and they differ
    from it (a query of digits alone is its own digits)."""
    folded, digits = fold(query), phone_digits(query)
    return folded, digits if digits != folded else None
