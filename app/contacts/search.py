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
from collections.abc import Callable, Iterable
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


# --- tokens: what a search reads instead of every text --------------------------------------

# The longest token kept as itself. A longer one (a pathological name: folding can lengthen a
# text) is kept as the empty token, whose contacts every token search also checks, so that
# none is missed; a B-tree entry has a size limit.
MAX_TOKEN = 100
# A piece of the query shorter than this is not looked up in the vocabulary (its trigram index
# needs three characters), nor read as a whole token (a short one is in too many texts).
_MIN_PIECE = 3


def escape_like(text: str) -> str:
    """`text` as a LIKE pattern (escape '/') that matches it alone: '%' and '_' themselves."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _in_word(c: str) -> bool:
    return not c.isspace()


def _runs(text: str, keep: Callable[[str], bool] = str.isalnum) -> list[tuple[int, int]]:
    """The (start, end) of each maximal run of characters `keep` accepts in `text` (letters
    and digits, `str.isalnum`, unless told)."""
    runs, start = [], None
    for i, c in enumerate(text):
        if keep(c):
            if start is None:
                start = i
        elif start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(text)))
    return runs


def _kept(token: str) -> str:
    return token if len(token) <= MAX_TOKEN else ""


def tokens(folded: str) -> set[str]:
    """A contact's tokens (`ContactToken`): the runs of letters and digits of its
    `search_text`, and its words (between whitespace) that hold an `@` (an email address, a
    handle), each whole, one longer than MAX_TOKEN as the empty token. A query made of
    letters and digits that occurs in the text lies inside one of the runs; a query holding
    an `@` and no whitespace, inside one of those words. Migration 0020 gave existing
    contacts their words: a change here needs a migration that recomputes them."""
    runs = {folded[start:end] for start, end in _runs(folded)}
    words = {folded[start:end] for start, end in _runs(folded, _in_word)}
    return {_kept(token) for token in runs | {word for word in words if "@" in word}}


@dataclass(frozen=True)
class _Piece:
    """A maximal run of a query (of letters and digits, or of anything but whitespace) and
    where it must lie in a token, wherever the query occurs in a text. Something precedes it
    in the query (`bounded_before`): the character before it cannot be part of the run, so
    in the text the token starts with it; likewise after. Bounded on both sides, the token
    is the piece itself."""

    text: str
    bounded_before: bool
    bounded_after: bool

    @property
    def exact(self) -> bool:
        return self.bounded_before and self.bounded_after

    @property
    def pattern(self) -> str:
        """The LIKE pattern (escape '/') of the tokens it can lie in."""
        before = "" if self.bounded_before else "%"
        after = "" if self.bounded_after else "%"
        return f"{before}{escape_like(self.text)}{after}"

    @property
    def searchable(self) -> bool:
        """Long enough to look up, and short enough for a token."""
        return _MIN_PIECE <= len(self.text) <= MAX_TOKEN


def _pieces(folded: str, keep: Callable[[str], bool] = str.isalnum) -> list[_Piece]:
    return [
        _Piece(folded[start:end], start > 0, end < len(folded))
        for start, end in _runs(folded, keep)
    ]


@dataclass(frozen=True)
class TokenSearch:
    """How a query is answered from tokens: the contacts that have one of the tokens
    `exact`, or one that a pattern of `patterns` matches (LIKE, escape '/'), each checked
    against the whole query. `addresses`: the patterns are looked up among the words holding
    an `@`, else among the runs of letters and digits (each has a trigram index of its own:
    an email holds its owner's names, and would add thousands of tokens to a name's)."""

    patterns: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    addresses: bool = False


def _of(piece: _Piece, *, addresses: bool = False) -> TokenSearch:
    if piece.exact:
        return TokenSearch(exact=(piece.text,), addresses=addresses)
    return TokenSearch(patterns=(piece.pattern,), addresses=addresses)


@lru_cache(maxsize=_QUERIES)
def token_search(query: str) -> TokenSearch | None:
    """Whether `q` is answered from tokens, and how; None when the trigram index answers it
    (docs/decisions/2026-12-07-search-by-tokens.md,
    docs/decisions/2026-12-07-emails-and-phones-by-tokens.md).

    Wherever a query occurs in a text, each piece of it (`_Piece`) lies inside one of the
    text's tokens, so the contacts with a token that a piece can lie in include every contact
    the query finds, and checking the whole query against each of them finds exactly those:

    - a query with one run of letters and digits (a family name, the start of one, any part
      of a word), from that run;
    - a query holding an `@` (an email, whole or in part), from a word of it holding the
      `@`: the one bounded by whitespace on both sides if any (a whole token), else the
      longest, when at least three characters precede its `@` (as `address_part`: a domain
      alone would list most of a network);
    - a phone number, which finds the texts holding the query or its digits: the digits lie
      inside one run (`%digits%`); the query as written, from one of its runs (a whole token
      if it can be, else the longest; none is needed when it holds the digits).

    A query of several runs without an `@` ("ada lovelace") keeps the trigram path: the
    contacts of its commonest piece could be thousands to check for one match, where the
    trigrams of the whole query find it at once."""
    folded, digits = search_query(query)
    if "@" in folded:
        words = [w for w in _pieces(folded, _in_word) if "@" in w.text and w.searchable]
        words = [w for w in words if w.exact or len(w.text.partition("@")[0]) >= _MIN_PIECE]
        if not words:
            return None
        word = max(words, key=lambda w: (w.exact, len(w.text)))
        if word.exact:
            return _of(word, addresses=True)
        # The vocabulary is asked for the word up to its `@`, as the trigram path asks for
        # `address_part`: a domain's trigrams list most of the owner's addresses (a lookup
        # of a whole bench email read 290 buffers in 6-7 ms; up to its `@`, 80 in 1.5-2).
        local = word.text[: word.text.index("@") + 1]
        before = "" if word.bounded_before else "%"
        return TokenSearch(patterns=(f"{before}{escape_like(local)}%",), addresses=True)
    runs = _pieces(folded)
    if digits is None:
        if len(runs) != 1 or not runs[0].searchable:
            return None
        return _of(runs[0])
    if len(digits) > MAX_TOKEN:
        return None
    by_digits = TokenSearch(patterns=(f"%{digits}%",))
    if any(digits in run.text for run in runs):
        return by_digits  # the query's tokens hold its digits
    runs = [run for run in runs if run.searchable]
    if not runs:
        return None
    run = _of(max(runs, key=lambda run: (len(run.text), run.exact)))
    return TokenSearch(patterns=by_digits.patterns + run.patterns, exact=run.exact)
