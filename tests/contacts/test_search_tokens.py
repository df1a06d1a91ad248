"""`GET /v1/contacts?q=` answered from tokens (app/contacts/tokens.py, listing._by_tokens):
the same contacts as matching the query against every contact's text, which the trigram path
still does; tokens kept in step with every write of a contact, on both databases."""

from typing import Any

import pytest
from sqlalchemy import Connection, inspect, text
from sqlmodel import col, select

from app.contacts import vocabulary
from app.contacts.models import OwnerToken
from app.contacts.search import fold, phone_digits, search_text, tokens
from app.core.migrations import downgrade, upgrade
from app.core.types import utcnow
from tests.factories import seed_texts
from tests.test_migrations import _on_connection

_FIELDS = ("given_name", "family_name", "organization", "title")


def _email(value: str) -> dict[str, Any]:
    return {"type": "email", "value": value, "permitted_uses": []}


class Network:
    """Contacts made through the API, with the folded text each is searched by, computed
    here: the oracle a search's answer is held to."""

    def __init__(self, client: Any, owner: Any) -> None:
        self.client, self.owner = client, owner
        self.texts: dict[str, str] = {}

    async def make(self, display_name: str, **fields: Any) -> str:
        body: dict[str, Any] = {"display_name": display_name, **fields}
        response = await self.client.post("/v1/contacts", json=body, headers=self.owner.headers)
        assert response.status_code == 201, response.text
        contact_id = response.json()["id"]
        self.texts[contact_id] = search_text(
            display_name=display_name,
            **{name: fields.get(name) for name in _FIELDS},
            tags=fields.get("tags", []),
            channels=fields.get("channels", []),
        )
        return contact_id

    def expected(self, q: str) -> list[str]:
        """The contacts whose text holds the folded query, or its digits when it reads as a
        phone number (API.md: "phone in any format")."""
        folded, digits = fold(q), phone_digits(q)
        return sorted(
            i
            for i, text in self.texts.items()
            if folded in text or (digits is not None and digits in text)
        )


async def _found(client: Any, owner: Any, q: str, **params: Any) -> list[str]:
    response = await client.get(
        "/v1/contacts", params={"q": q, "limit": 200, **params}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


async def _by_trigrams(client: Any, owner: Any, q: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The same search with tokens turned off: every text matched, as before tokens."""

    async def never(*args: Any) -> None:
        return None

    with monkeypatch.context() as patch:
        patch.setattr(vocabulary, "tokens_to_read", never)
        return await _found(client, owner, q)


_QUERIES = [
    # (query, answered from tokens)
    ("smith", True),  # a family name: every token holding it, in names, a title, an email
    ("SMÍTH", True),
    ("smi", True),  # the start of a name
    ("mith", True),  # inside a word
    ("smithson", True),
    ("-smith", True),  # a token that starts with it, after a hyphen (Johnson-Smith)
    ("smith-", True),  # ... that ends with it, before one
    (" smith ", True),  # a whole token between spaces
    ("smith.", True),
    ("nobody", True),  # no token holds it: nothing, without reading a contact
    ("johnson smith", False),  # two pieces: the trigram path
    ("johnson-smith", False),
    ("anna smith", False),
    ("sm", False),  # too short for the vocabulary's trigrams
    ("smith.j@example.com", True),  # an email: its word holding the `@`
]


async def test_a_search_finds_what_matching_every_text_finds(client, owner, paths, monkeypatch):
    network = Network(client, owner)
    await network.make("Anna Smith", given_name="Anna", family_name="Smith")
    await network.make("John Smithson", channels=[_email("smith.j@example.com")])
    await network.make("Goldsmith & Co", organization="Goldsmith Ltd")
    await network.make("Ann-Marie Johnson-Smith")
    await network.make("Smith-Jones Partners")
    await network.make("Pat", title="Blacksmith", tags=["smithy"])
    await network.make("Jane Smyth")
    await network.make("Someone Else", organization="Smíth Ünlimited")
    # A run of letters too long to keep as a token (search.MAX_TOKEN): kept as the empty
    # token, whose contacts every search reads too.
    await network.make("Long", organization="Z" + "a" * 60 + "smith" + "b" * 60)
    await network.make("Nobody Here")

    for q, from_tokens in _QUERIES:
        paths.clear()
        found = await _found(client, owner, q)
        assert sorted(found) == network.expected(q), q
        assert found == sorted(found), q  # id order
        assert (paths[0] is not None) == from_tokens, (q, paths)
        assert found == await _by_trigrams(client, owner, q, monkeypatch), q
    assert len(network.expected("smith")) == 8


async def test_a_piece_in_many_tokens_is_matched_against_every_text(client, owner, paths):
    """More tokens than vocabulary.MOST_TOKENS hold the piece: the trigram path reads less than
    their contacts would, and finds the same."""
    network = Network(client, owner)
    for n in range(vocabulary.MOST_TOKENS + 2):
        await network.make(f"Qabc{chr(ord('a') + n)}")
    await network.make("Qab")
    assert await _found(client, owner, "abc") == network.expected("abc")
    assert paths == [None]
    assert len(network.expected("abc")) == vocabulary.MOST_TOKENS + 2


@pytest.mark.parametrize("sort", ["created_at", "-created_at"])
async def test_pages_of_a_token_search_follow_the_cursor(client, owner, paths, sort):
    network = Network(client, owner)
    ids = [await network.make(f"Smith {n}", tags=["t"] if n % 2 else []) for n in range(7)]
    ids += [await network.make(f"Goldsmith {n}") for n in range(3)]
    await network.make("Jones")
    expected = network.expected("smith")
    if sort == "-created_at":
        expected.reverse()
    paged: list[str] = []
    params: dict[str, Any] = {"q": "smith", "limit": 3, "sort": sort}
    while True:
        response = await client.get("/v1/contacts", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        paged += [c["id"] for c in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert paged == expected
    assert all(decided is not None for decided in paths)
    tagged = await _found(client, owner, "smith", tag="t")
    assert tagged == [ids[1], ids[3], ids[5]]


async def test_a_remembered_lookup_holds_only_while_the_owners_feed_stands(client, owner, paths):
    """The tokens of a piece are remembered from one search to the next (vocabulary.KNOWN) and
    checked against the owner's change feed: a write since (a new token holding the piece, or
    any other change) sends the search back to the vocabulary, and the answer is always what
    matching every text finds."""
    network = Network(client, owner)
    await network.make("Anna Smith")
    await network.make("Pat", title="Blacksmith")
    assert await _found(client, owner, "smith") == network.expected("smith")
    assert [decided.feed for decided in paths] == [None]  # looked up

    paths.clear()
    assert await _found(client, owner, "SMITH") == network.expected("smith")
    assert len(paths) == 1 and paths[0].feed is not None  # remembered, and the feed stood

    # A contact with a token the vocabulary did not have: looked up again, and found.
    await network.make("Goldsmithy & Co")
    paths.clear()
    assert await _found(client, owner, "smith") == network.expected("smith")
    assert [decided.feed is None for decided in paths] == [False, True]
    assert paths[0].tokens != paths[1].tokens
    assert len(network.expected("smith")) == 3

    # Another write moves the feed without a new token: the same tokens, the same page.
    await network.make("Jo Smith")
    paths.clear()
    assert await _found(client, owner, "smith") == network.expected("smith")
    assert [decided.feed is None for decided in paths] == [False, True]
    assert paths[0].tokens == paths[1].tokens

    # An empty page tells nothing of the feed: looked up again to be sure.
    paths.clear()
    assert await _found(client, owner, "smith", tag="none") == []
    assert [decided.feed is None for decided in paths] == [False, True]


async def _vocabulary(app: Any, owner_id: str) -> set[str]:
    async with app.state.sessionmaker() as session:
        query = select(col(OwnerToken.token)).where(OwnerToken.owner_id == owner_id)
        return set((await session.exec(query)).all())


async def test_tokens_follow_every_write_of_a_contact(app, client, owner, other_owner):
    headers = owner.headers
    network = Network(client, owner)
    ada = await network.make("Ada Lovelace", channels=[_email("ada@engines.example")])
    other = await network.make("Ada Other")
    theirs = await Network(client, other_owner).make("Ada Lovelace")
    assert await _found(client, owner, "lovelace") == [ada]

    # An edit: the old name no longer finds the contact, the new one does.
    response = await client.patch(
        f"/v1/contacts/{ada}", json={"display_name": "Ada Byron"}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert await _found(client, owner, "lovelace") == []
    assert await _found(client, owner, "byron") == [ada]
    assert await _found(client, owner, "engines") == [ada]  # the email it kept

    # A batch (and an import, through the same create and update).
    response = await client.post(
        "/v1/contacts/batch",
        json={
            "items": [
                {"display_name": "Grace Hopper", "external_refs": {"crm": "g"}},
                {"display_name": "Ada Byron-King", "external_refs": {"crm": "k"}},
            ]
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    grace, king = (r["id"] for r in response.json()["results"])
    assert await _found(client, owner, "hopper") == [grace]
    assert await _found(client, owner, "byron") == [ada, king]
    response = await client.post(
        "/v1/contacts/batch",
        json={"items": [{"display_name": "Grace Brewster", "external_refs": {"crm": "g"}}]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert await _found(client, owner, "hopper") == []
    assert await _found(client, owner, "brewster") == [grace]

    # Archived: only with archived=true; restored: listed again.
    assert (await client.delete(f"/v1/contacts/{king}", headers=headers)).status_code == 204
    assert await _found(client, owner, "byron") == [ada]
    assert await _found(client, owner, "byron", archived="true") == [king]
    response = await client.post(f"/v1/contacts/{king}/restore", headers=headers)
    assert response.status_code == 200, response.text
    assert await _found(client, owner, "byron") == [ada, king]

    # Erased: not found, and the tokens no other contact has leave the vocabulary.
    before = await _vocabulary(app, owner.owner_id)
    assert {"byron", "engines", "lovelace"} <= before  # lovelace: left by the edit
    response = await client.delete(f"/v1/contacts/{ada}", params={"erase": "true"}, headers=headers)
    assert response.status_code == 204, response.text
    assert await _found(client, owner, "byron") == [king]
    assert await _found(client, owner, "ada") == [other, king]
    after = await _vocabulary(app, owner.owner_id)
    assert "engines" not in after and "lovelace" not in after
    assert {"byron", "ada", "king"} <= after  # still held by others
    # Another owner's vocabulary is theirs.
    assert "lovelace" in await _vocabulary(app, other_owner.owner_id)
    assert await _found(client, other_owner, "lovelace") == [theirs]


# --- migration 0017 gives the contacts already there their tokens ---------------------------


def test_migration_0017_tokenises_existing_contacts_and_its_downgrade_drops_the_tables(
    fresh_database_url,  # type: ignore[no-untyped-def]
) -> None:
    url = fresh_database_url("tokens")
    upgrade(url, "0016")
    now = utcnow()
    texts = {
        "ct_1": "jurgen muller strasse ag jurgen@example.com 442079460958",
        "ct_2": "ada lovelace " + "x" * 101,  # a run too long: the empty token
        "ct_3": "",  # erased
    }

    def seed(conn: Connection) -> None:
        seed_texts(conn, texts, now)
        conn.commit()

    def rows(conn: Connection) -> tuple[set[tuple[str, str]], set[str]]:
        found = conn.execute(text("SELECT contact_id, token FROM contact_token"))
        known = conn.execute(text("SELECT token FROM owner_token WHERE owner_id = 'own_1'"))
        return {(c, t) for c, t in found}, {t for (t,) in known}

    def tables(conn: Connection) -> set[str]:
        return set(inspect(conn).get_table_names())

    _on_connection(url, seed)
    upgrade(url)
    found, known = _on_connection(url, rows)
    assert found == {
        (contact_id, token) for contact_id, folded in texts.items() for token in tokens(folded)
    }
    assert ("ct_2", "") in found and ("ct_1", "jurgen") in found
    assert known == {token for _, token in found}
    downgrade(url, "0016")
    assert not {"contact_token", "owner_token"} & _on_connection(url, tables)
