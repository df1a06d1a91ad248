"""`GET /v1/contacts?q=<an email>` and `q=<a phone number>` answered from tokens: a word of
the text holding an `@`, a run of a number's digits (app/contacts/search.py `token_search`):
the same contacts as matching every text, which the trigram path still does, and as a Python
oracle, on both databases; and migration 0020, which gives existing contacts their words."""

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

from app.contacts import vocabulary
from app.contacts.search import (
    MAX_TOKEN,
    TokenSearch,
    fold,
    search_query,
    token_search,
    tokens,
)
from app.core.migrations import downgrade, upgrade
from app.core.types import utcnow
from tests.contacts.test_search_tokens import (
    Network,
    _by_trigrams,
    _email,
    _found,
)
from tests.factories import seed_texts
from tests.test_migrations import _on_connection


def _phone(value: str) -> dict[str, Any]:
    return {"type": "phone", "value": value, "permitted_uses": []}


_LONG_WORD = "x" * 95 + "@long.example"  # longer than search.MAX_TOKEN: the empty token

_QUERIES = [
    # (query, answered from tokens)
    ("ada@engines.example", True),  # lada@ too: the part up to `@` lies anywhere in a word
    ("ADA@Engines.Example", True),
    ("lada@engines.example", True),
    ("ada@", True),
    ("ada_l@engines.example", True),  # '_' matches itself, not any character
    ("a_l@engines", True),
    ("adaxl@engines.example", True),  # nobody: '_' is not a wildcard
    ("ada%l@", True),  # nor '%'
    ("da%l@eng", True),
    ("a/b@slash.example", True),  # nor the escape character
    ("ada lovelace ada@engines.example", True),  # a word that starts with it
    ("lovelace ada@", True),
    (" ada@engines.example ", True),  # a whole word: no lookup
    ("ada@engines.example lovelace", True),  # nobody: a word that ends with the address
    ("nobody@nowhere.example", True),
    ("@engines.example", False),  # a domain alone: the trigram path
    ("ab@x", False),  # two characters before the `@`
    ("@ada", False),  # a handle
    (_LONG_WORD, False),  # longer than a token
    (_LONG_WORD[-20:], True),  # the end of it: the empty token's contacts are read too
    ("+44 20 7946 0958", True),
    ("020 7946 0958", True),
    ("(020) 7946-0958", True),  # the title written this way too
    ("02079460958", True),
    ("442079460958", True),
    ("+442079460958", True),
    ("+44 (0)20 7946 0958", True),
    ("7946 0958", True),
    ("7946-0958", True),
    ("2024-25", True),  # a tag
    ("0958", True),
    ("+1 212 555 0100", True),
    ("212-555-0100", True),
    ("20 79", False),  # no run of three: the trigram path
    ("555 01 00", True),
]


async def _network(client: Any, owner: Any) -> Network:
    network = Network(client, owner)
    await network.make("Ada Lovelace", channels=[_email("ada@engines.example")])
    await network.make("Lada Petrova", channels=[_email("lada@engines.example")])
    await network.make("Ada Under", channels=[_email("ada_l@engines.example")])
    await network.make("Ada Percent", tags=["ada%l@engines.example"])
    await network.make("Slash", channels=[_email("a/b@slash.example")])
    await network.make("Handle", tags=["@ada", "x@y"])
    await network.make("Long", title=_LONG_WORD)
    await network.make("Smith", channels=[_email("smith.j@example.com")])
    await network.make("Ann", channels=[_phone("+44 20 7946 0958")])
    await network.make("Ben", channels=[_phone("+44 20 7946 0958"), _phone("+44 20 7946 0100")])
    await network.make("Cal", title="Call (020) 7946-0958 ext 2")
    await network.make("Dee", tags=["cohort 2024-25"])
    await network.make("Eve", channels=[_phone("+1 212 555 0100")])
    await network.make("Fay", channels=[_phone("7946 0958")])  # no country code: as written
    await network.make("Gus", organization="Room 555 01 00")
    await network.make("Nobody Here")
    return network


async def test_emails_and_phones_find_what_matching_every_text_finds(
    client, owner, paths, monkeypatch
):
    network = await _network(client, owner)
    for q, from_tokens in _QUERIES:
        paths.clear()
        found = await _found(client, owner, q)
        assert sorted(found) == network.expected(q), q
        assert found == sorted(found), q  # id order
        assert (paths[0] is not None) == from_tokens, (q, paths)
        assert found == await _by_trigrams(client, owner, q, monkeypatch), q
    assert len(network.expected("ada@engines.example")) == 2
    assert len(network.expected("(020) 7946-0958")) == 3
    assert len(network.expected("7946 0958")) == 3
    assert len(network.expected("555 01 00")) == 2
    assert len(network.expected(_LONG_WORD[-20:])) == 1


async def test_addresses_do_not_crowd_a_names_tokens(client, owner, paths):
    """Every address holding `smith` is a token of its own; a name's lookup reads only the
    runs of letters and digits, so more such addresses than vocabulary.MOST_TOKENS leave
    `smith` answered from tokens."""
    network = Network(client, owner)
    for n in range(vocabulary.MOST_TOKENS + 2):
        await network.make(f"Person {n}", channels=[_email(f"smith.{n}@example.com")])
    await network.make("Anna Smith")
    assert await _found(client, owner, "smith") == network.expected("smith")
    assert paths[0] is not None and all("@" not in token for token in paths[0].tokens)
    assert len(network.expected("smith")) == vocabulary.MOST_TOKENS + 3


async def test_an_address_part_in_many_words_is_matched_against_every_text(client, owner, paths):
    network = Network(client, owner)
    for n in range(vocabulary.MOST_TOKENS + 2):
        await network.make(f"P {n}", channels=[_email(f"q{chr(ord('a') + n)}abc@x.example")])
    assert await _found(client, owner, "abc@x.example") == network.expected("abc@x.example")
    assert paths == [None]
    assert len(network.expected("abc@x.example")) == vocabulary.MOST_TOKENS + 2


async def test_a_remembered_address_lookup_follows_a_new_address(client, owner, paths):
    network = Network(client, owner)
    await network.make("Ada", channels=[_email("ada@engines.example")])
    assert await _found(client, owner, "ada@engines.example") == network.expected("ada@")
    paths.clear()
    assert await _found(client, owner, "ADA@engines.example") == network.expected("ada@")
    assert paths[0].feed is not None  # remembered, and the feed stood
    await network.make("Canada Post", channels=[_email("canada@engines.example")])
    paths.clear()
    assert await _found(client, owner, "ada@engines.example") == network.expected("ada@")
    assert [decided.feed is None for decided in paths] == [False, True]
    assert len(network.expected("ada@engines.example")) == 2


# --- the rule itself, without a database: a query's tokens lie among the text's ------------


def _like(pattern: str) -> re.Pattern[str]:
    """A LIKE pattern (escape '/') as a regular expression."""
    parts, chars = [], iter(pattern)
    for c in chars:
        if c == "/":
            parts.append(re.escape(next(chars)))
        else:
            parts.append({"%": ".*", "_": "."}.get(c, re.escape(c)))
    return re.compile("".join(parts), re.DOTALL)


def _reads_one_of(search: TokenSearch, kept: set[str]) -> bool:
    if "" in kept or kept & set(search.exact):
        return True
    words = {token for token in kept if ("@" in token) == search.addresses}
    return any(_like(p).fullmatch(token) for p in search.patterns for token in words)


_CHARS = st.sampled_from([*"ab1 9@@._-%/()+\u00a0\tÅß", "x" * 60, "0207946"])
# Numbers written as people write them, among words.
_NUMBERS = st.sampled_from([*"0123 ()-+.a", "7946", "+44"])
_TEXTS = st.one_of(st.lists(_CHARS, max_size=12), st.lists(_NUMBERS, max_size=16)).map("".join)


@settings(max_examples=500, deadline=None)
@given(_TEXTS, st.data())
def test_every_query_that_occurs_in_a_text_reads_one_of_its_tokens(raw: str, data: Any) -> None:
    """The superset the token path relies on: wherever a query (or a number's digits) occurs
    in a folded text, a token the search reads (looked up by a pattern among the runs or the
    words, or exact, or the empty one) is one of the text's."""
    folded = fold(raw)
    start = data.draw(st.integers(0, len(folded)))
    end = data.draw(st.integers(start, len(folded)))
    query = folded[start:end]
    search = token_search(query)
    folded_query, digits = search_query(query)
    occurs = folded_query in folded or (digits is not None and digits in folded)
    if search is not None and occurs:
        assert _reads_one_of(search, tokens(folded)), (folded, query, search)
    assert all(len(token) <= MAX_TOKEN for token in tokens(folded))


# --- migration 0020 gives existing contacts their words holding an `@` ----------------------


def _runs_0017(folded: str) -> set[str]:
    """search.tokens before 0020: the runs of letters and digits."""
    return {r if len(r) <= MAX_TOKEN else "" for r in re.findall(r"[^\W_]+", folded)}


def test_migration_0020_adds_the_words_with_an_at_and_its_downgrade_removes_them(
    fresh_database_url,  # type: ignore[no-untyped-def]
) -> None:
    url = fresh_database_url("addresses")
    upgrade(url, "0019")
    now = utcnow()
    texts = {
        "ct_1": "ada lovelace ada_l@engines.example 442079460958",
        "ct_2": "long " + _LONG_WORD,  # a word too long: the empty token
        "ct_3": "both " + "y" * 101 + " " + _LONG_WORD,  # had the empty token already
        "ct_4": "grace hopper",
        "ct_5": "",  # erased
        "ct_6": "tabs\tand@nbsp\u00a0x@y",
    }

    def seed(conn: Connection) -> None:
        seed_texts(conn, texts, now)
        for contact_id, folded in texts.items():
            for token in _runs_0017(folded):  # as the app kept them before 0020
                row = {"o": "own_1", "t": token, "c": contact_id}
                conn.execute(text("INSERT INTO contact_token VALUES (:o, :t, :c)"), row)
        words = {t for folded in texts.values() for t in _runs_0017(folded)}
        for token in words:
            conn.execute(text("INSERT INTO owner_token VALUES ('own_1', :t)"), {"t": token})
        conn.commit()

    def rows(conn: Connection) -> tuple[set[tuple[str, str]], set[str]]:
        found = conn.execute(text("SELECT contact_id, token FROM contact_token"))
        known = conn.execute(text("SELECT token FROM owner_token WHERE owner_id = 'own_1'"))
        return {(c, t) for c, t in found}, {t for (t,) in known}

    def expected(rule: Any) -> set[tuple[str, str]]:
        return {(c, token) for c, folded in texts.items() for token in rule(folded)}

    _on_connection(url, seed)
    before = _on_connection(url, rows)
    assert before[0] == expected(_runs_0017)

    upgrade(url, "0020")
    found, known = _on_connection(url, rows)
    assert found == expected(tokens)
    assert known == {token for _, token in found}
    assert {("ct_1", "ada_l@engines.example"), ("ct_2", ""), ("ct_6", "and@nbsp")} <= found
    assert ("ct_6", "x@y") in found

    downgrade(url, "0019")
    assert _on_connection(url, rows) == before
    upgrade(url, "0020")
    assert _on_connection(url, rows)[0] == expected(tokens)
