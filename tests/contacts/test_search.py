"""`GET /v1/contacts?q=`: names, organisation, title, tags, emails and phone numbers in any
format, case- and accent-insensitive (app/contacts/search.py), on both databases; and on
PostgreSQL, found through an index rather than by reading the owner's every contact."""

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contacts import listing, vocabulary
from app.contacts.models import Contact, ContactToken, OwnerToken
from app.contacts.schemas import ContactSort
from app.contacts.search import fold, search_text, tokens
from app.core import reads
from app.core.migrations import downgrade, upgrade
from app.core.reads import Reader
from app.core.types import utcnow
from tests.factories import contact_body, contact_row
from tests.test_migrations import _on_connection


def _email(value: str) -> dict[str, Any]:
    return {"type": "email", "value": value, "permitted_uses": []}


def _phone(value: str) -> dict[str, Any]:
    return {"type": "phone", "value": value, "permitted_uses": []}


async def _make(client, owner, name: str, **extra: Any) -> str:
    fields: dict[str, Any] = {
        "given_name": None,
        "family_name": None,
        "organization": None,
        "title": None,
        "channels": [],
        "tags": [],
        "external_refs": {},
    }
    body = contact_body(display_name=name, **{**fields, **extra})
    response = await client.post("/v1/contacts", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _found(client, owner, q: str) -> list[str]:
    response = await client.get(
        "/v1/contacts", params={"q": q, "limit": 200}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


async def test_accents_and_case_are_ignored_both_ways(client, owner):
    jurgen = await _make(client, owner, "Jürgen Müller")
    plain = await _make(client, owner, "Jurgen Muller")
    strasse = await _make(client, owner, "Anna Straße")
    soren = await _make(client, owner, "Søren Kierkegaard")
    await _make(client, owner, "Someone Else")

    both = sorted([jurgen, plain])
    for q in ("jurgen", "JURGEN", "Jürgen", "JÜRGEN", "jürgen müller", "MULLER", "Müller"):
        assert sorted(await _found(client, owner, q)) == both, q
    for q in ("strasse", "STRASSE", "straße", "STRAẞE"):
        assert await _found(client, owner, q) == [strasse], q
    # A letter NFKD leaves whole, as someone without it on their keyboard types it.
    assert await _found(client, owner, "soren") == [soren]
    assert await _found(client, owner, "Søren") == [soren]
    # A decomposed query (u + combining diaeresis) finds the composed name.
    assert sorted(await _found(client, owner, "ju\u0308rgen")) == both


async def test_names_organisation_title_tags_and_email_are_searched(client, owner):
    ada = await _make(
        client,
        owner,
        "Ada Lovelace",
        given_name="Augusta",
        family_name="King",
        organization="Analytical Engines Ltd",
        title="Principal Mathematician",
        tags=["Difference-Engine", "Société Générale"],
        channels=[_email("Ada.Byron@Example.ORG")],
    )
    await _make(client, owner, "Grace Hopper", channels=[_email("grace@navy.example")])

    for q in (
        "augusta",
        "KING",
        "analytical engines",
        "principal math",
        "difference-engine",
        "societe generale",
        "ada.byron@example.org",
        "BYRON@EXAMPLE",
    ):
        assert await _found(client, owner, q) == [ada], q


async def test_an_email_query_matches_the_whole_address(client, owner):
    # Only the part before the domain is looked up in the index (search.address_part): the
    # rest must still decide.
    ada = await _make(client, owner, "Ada", channels=[_email("ada@example.com")])
    mada = await _make(client, owner, "Mada", channels=[_email("mada@example.com")])
    await _make(client, owner, "Ada Org", channels=[_email("ada@example.org")])
    await _make(client, owner, "Ada Net", channels=[_email("ada@examples.net")])

    assert sorted(await _found(client, owner, "ada@example.com")) == sorted([ada, mada])
    assert await _found(client, owner, "mada@example.com") == [mada]
    assert await _found(client, owner, "MADA@EXAMPLE.COM") == [mada]
    assert sorted(await _found(client, owner, "ada@example.co")) == sorted([ada, mada])
    assert await _found(client, owner, "nobody@example.com") == []


async def test_a_phone_number_is_found_in_any_format(client, owner):
    london = await _make(client, owner, "London", channels=[_phone("+44 20 7946 0958")])
    # Written without its country code: found by its digits, as written.
    local = await _make(client, owner, "Local", channels=[_phone("020 7946 0123")])
    await _make(client, owner, "Elsewhere", channels=[_phone("+1 201 555 0123")])

    for q in (
        "+44 20 7946 0958",
        "+442079460958",
        "(020) 7946-0958",
        "020 7946 0958",
        "020-7946-0958",
        "+44 (0)20 7946 0958",
        "7946 0958",
        "442079460958",
    ):
        assert await _found(client, owner, q) == [london], q
    assert await _found(client, owner, "(020) 7946-0123") == [local]
    assert sorted(await _found(client, owner, "7946")) == sorted([london, local])
    assert await _found(client, owner, "+44 20 7946 0959") == []


async def test_a_query_that_looks_like_a_number_still_finds_its_text(client, owner):
    # Read as a phone number it is 202425; the tag holds it as written.
    cohort = await _make(client, owner, "Cohort member", tags=["cohort 2024-25"])
    assert await _found(client, owner, "2024-25") == [cohort]


async def test_erased_contacts_are_not_found_and_other_owners_contacts_never(
    client, owner, other_owner
):
    channels = [_email("jurgen@erased.example"), _phone("+44 20 7946 0777")]
    erased = await _make(client, owner, "Jürgen Erased", channels=channels, tags=["gone"])
    response = await client.delete(
        f"/v1/contacts/{erased}", params={"erase": "true"}, headers=owner.headers
    )
    assert response.status_code == 204, response.text
    theirs = await _make(client, other_owner, "Jürgen Theirs")

    for q in ("jurgen", "erased", "jurgen@erased.example", "020 7946 0777", "gone"):
        assert await _found(client, owner, q) == [], q
    assert await _found(client, other_owner, "jurgen") == [theirs]


async def test_an_edit_is_searchable_at_once(client, owner):
    contact = await _make(client, owner, "Zoë")
    response = await client.patch(
        f"/v1/contacts/{contact}",
        json={"title": "Directrice Générale", "channels": [_phone("+33 1 23 45 67 89")]},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert await _found(client, owner, "directrice generale") == [contact]
    assert await _found(client, owner, "01 23 45 67 89") == [contact]
    assert await _found(client, owner, "zoe") == [contact]


# --- the query is folded as the stored text is ------------------------------------------

_TEXT = st.text(
    st.characters(categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Nd")), min_size=1, max_size=12
)


@given(_TEXT, _TEXT)
@settings(max_examples=500, deadline=None)
def test_a_folded_text_is_found_in_the_folded_text_it_was_part_of(x: str, y: str) -> None:
    assert fold(x) in fold(x + y)
    assert fold(y) in fold(x + y)
    assert fold(fold(x)) == fold(x)
    assert fold(x.upper()) == fold(x.lower()) == fold(x) or not x.isascii()


async def test_any_text_finds_the_contact_it_is_part_of(client, owner):
    """Through the API and the database: what a name is folded to at write time, the same
    text typed as a query is folded to as well."""
    loop = asyncio.get_running_loop()

    def run(coro):  # Hypothesis drives from a worker thread; the database lives on this loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(_TEXT, _TEXT)
    def check(x: str, y: str) -> None:
        contact = run(_make(client, owner, x + y))
        assert contact in run(_found(client, owner, x)), (x, y)
        assert contact in run(_found(client, owner, y)), (x, y)

    await asyncio.to_thread(check)


# --- PostgreSQL: indexed ------------------------------------------------------------------


async def _plan(conn: AsyncConnection, owner_id: str, q: str) -> str:
    """EXPLAIN of each statement the list runs for `q`, with its values, as the app runs
    them (the vocabulary's, then the page's, when tokens answer it)."""
    ran: list[tuple[str, list[Any]]] = []
    fetch = reads._fetch

    async def spy(raw: Any, sql: str, args: list[Any], plan_for_values: bool) -> Any:
        ran.append((sql, args))
        return await fetch(raw, sql, args, plan_for_values)

    reads._fetch = spy
    try:
        await listing.list_contacts(
            Reader(conn),
            owner_id=owner_id,
            filters=listing.ContactFilters(q=q),
            sort=ContactSort.created_at,
            limit=50,
            cursor=None,
        )
    finally:
        reads._fetch = fetch
    assert ran, q
    raw = (await conn.get_raw_connection()).driver_connection
    plans = []
    for sql, args in ran:
        rows = await raw.fetch("EXPLAIN " + sql, *args)
        plans.append("\n".join(row[0] for row in rows))
    return "\n\n".join(plans)


@pytest.mark.postgres
async def test_a_search_in_a_large_network_reads_an_index_not_every_contact(app, client, owner):
    """20,000 contacts, some accented, some with a phone: a common name, a phone number and
    an email are read from their tokens' contacts in id order; a rare name with a number is
    found through the trigram index; never by reading the table."""
    conn = app.state.sessionmaker.kw["bind"]
    names = ["Jürgen", "Müller", "Lovelace", "Hopper", "Turing", "Nakamura", "Okafor", "Silva"]
    rows, token_rows, words = [], [], set()
    for n in range(20_000):
        name = f"{names[n % len(names)]} {n}"
        phone = f"+44 20 7946 {n % 10_000:04d}" if n % 3 == 0 else None
        channels = [_email(f"person.{n}@example.com")] + ([_phone(phone)] if phone else [])
        folded = search_text(
            display_name=name,
            given_name=None,
            family_name=None,
            organization=None,
            title=None,
            tags=[],
            channels=channels,
        )
        rows.append(
            contact_row(
                owner.owner_id,
                id=f"ct_{n:026d}",
                display_name=name,
                channels=channels,
                search_text=folded,
            )
        )
        # As the app's write path keeps them (app/contacts/tokens.py).
        for token in tokens(folded):
            token_rows.append(
                {"owner_id": owner.owner_id, "token": token, "contact_id": rows[-1]["id"]}
            )
            words.add(token)
    await conn.execute(Contact.__table__.insert(), rows)
    # Before the tokens: their foreign-key checks are planned for the contacts there are (a
    # plan made for an almost empty table, earlier on this connection, scans it per row).
    await conn.execute(text("ANALYZE contact"))
    await conn.execute(ContactToken.__table__.insert(), token_rows)
    await conn.execute(
        OwnerToken.__table__.insert(),
        [{"owner_id": owner.owner_id, "token": t} for t in words],
    )
    for table in ("contact_token", "owner_token"):
        await conn.execute(text(f"ANALYZE {table}"))

    for q in ("jurgen 1234", "(020) 7946-0123", "person.12345@example.com", "muller"):
        plan = await _plan(conn, owner.owner_id, q)
        assert "Seq Scan" not in plan, (q, plan)
    # A common name, a phone number and an email: the vocabulary through its trigram index of
    # runs (migration 0017, 0020) or of words holding an `@` (0020), then the first entries
    # of the tokens' keys, in id order; no contact's text is read to find them. (Looked up
    # afresh: the searches above left their tokens remembered, vocabulary.KNOWN.)
    for q, index in (
        ("muller", "ix_owner_token_owner_id_token_trgm"),
        ("(020) 7946-0123", "ix_owner_token_owner_id_token_trgm"),
        ("person.12345@example.com", "ix_owner_token_owner_id_address_trgm"),
    ):
        vocabulary.KNOWN.clear()
        plan = await _plan(conn, owner.owner_id, q)
        assert index in plan, (q, plan)
        assert "pk_contact_token" in plan, (q, plan)
        assert "ix_contact_search_text_trgm" not in plan, (q, plan)
    # A name's lookup is not handed the addresses that hold it (each has its own index).
    assert "ix_owner_token_owner_id_address_trgm" not in await _plan(conn, owner.owner_id, "muller")
    # A rare name with a number: through the trigram index of the texts, planned for it.
    assert "ix_contact_search_text_trgm" in await _plan(conn, owner.owner_id, "jurgen 1234")
    assert await _found(client, owner, "person.12345@example.com") == ["ct_" + "12345".zfill(26)]
    phone = [f"ct_{n:026d}" for n in range(20_000) if n % 3 == 0 and n % 10_000 == 123]
    assert await _found(client, owner, "(020) 7946-0123") == phone == ["ct_" + "123".zfill(26)]
    muller = await _found(client, owner, "muller")
    assert muller == [f"ct_{n:026d}" for n in range(1, 1600, 8)][:200]


# --- migration 0012 folds the contacts already there ---------------------------------------


def test_migration_0012_folds_existing_contacts_and_its_downgrade_restores_the_old_text(
    fresh_database_url,  # type: ignore[no-untyped-def]
) -> None:
    url = fresh_database_url("fold")
    upgrade(url, "0011")
    now = utcnow()
    jurgen = {
        "owner_id": "own_1",
        "id": "ct_1",
        "display_name": "Jürgen Müller",
        "given_name": "Jürgen",
        "family_name": None,
        "organization": "Straße AG",
        "title": "Ingénieur",
        "tags": ["Café"],
        "channels": [_email("Jurgen@Example.COM"), _phone("+44 20 7946 0958")],
        "search_text": "jürgen müller jürgen straße ag jurgen@example.com",
        "erased_at": None,
    }
    erased = {
        **jurgen,
        "id": "ct_2",
        "display_name": "",
        "given_name": None,
        "organization": None,
        "title": None,
        "tags": [],
        "channels": [],
        "search_text": "",
        "erased_at": now,
    }

    def seed(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO owner (id, email, name, created_at) VALUES ('own_1', 'o@x', 'O', :at)"
            ),
            {"at": now},
        )
        for row in (jurgen, erased):
            conn.execute(Contact.__table__.insert(), contact_row(created_at=now, **row))
        conn.commit()

    def texts(conn: Connection) -> dict[str, str]:
        rows = conn.execute(text("SELECT id, search_text FROM contact ORDER BY id"))
        return {contact_id: value for contact_id, value in rows}

    def indexes(conn: Connection) -> set[str]:
        return {str(index["name"]) for index in inspect(conn).get_indexes("contact")}

    _on_connection(url, seed)
    upgrade(url)
    folded = search_text(
        display_name=jurgen["display_name"],
        given_name=jurgen["given_name"],
        family_name=None,
        organization=jurgen["organization"],
        title=jurgen["title"],
        tags=jurgen["tags"],
        channels=jurgen["channels"],
    )
    assert folded == (
        "jurgen muller jurgen strasse ag ingenieur cafe jurgen@example.com 442079460958 02079460958"
    )
    assert _on_connection(url, texts) == {"ct_1": folded, "ct_2": ""}
    covering = "ix_contact_owner_id_id_search_text"
    assert (covering in _on_connection(url, indexes)) == url.startswith("postgresql")
    downgrade(url, "0011")
    assert _on_connection(url, texts) == {"ct_1": jurgen["search_text"], "ct_2": ""}
    assert covering not in _on_connection(url, indexes)


@pytest.mark.parametrize("sort", ["created_at", "-created_at", "display_name"])
async def test_search_results_page_by_cursor_in_every_order(client, owner, sort):
    # In id order the page's ids are found first and their rows read after (listing.py):
    # the cursor, the order and the filters must hold through both.
    names = ["Müller A", "Muller B", "Other", "MÜLLER C", "müller d", "Mueller E", "Müller F"]
    ids = [
        await _make(client, owner, name, tags=["t"] if n % 2 else [])
        for n, name in enumerate(names)
    ]
    await client.delete(f"/v1/contacts/{ids[6]}", headers=owner.headers)  # archived: not listed
    expected = [ids[0], ids[1], ids[3], ids[4]]
    if sort == "-created_at":
        expected.reverse()
    paged: list[str] = []
    params: dict[str, Any] = {"q": "muller", "limit": 3, "sort": sort}
    for _ in range(5):
        response = await client.get("/v1/contacts", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        paged += [c["id"] for c in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert paged == expected if sort != "display_name" else sorted(paged) == sorted(expected)
    tagged = await client.get(
        "/v1/contacts", params={"q": "muller", "tag": "t", "sort": sort}, headers=owner.headers
    )
    assert sorted(c["id"] for c in tagged.json()["data"]) == [ids[1], ids[3]]
    archived = await client.get(
        "/v1/contacts", params={"q": "muller", "archived": "true"}, headers=owner.headers
    )
    assert [c["id"] for c in archived.json()["data"]] == [ids[6]]
