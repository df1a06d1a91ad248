"""GET /v1/export.vcf, then POST /v1/imports: whatever a contact's fields hold, the file is a
valid vCard that carries every contact whole, and no contact's text reaches another."""

import asyncio
import json
import re
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factories import Actor, make_actor

# The characters the API stores (it refuses NUL; JSON cannot carry lone surrogates), with
# the ones that have a meaning in a vCard or split lines somewhere drawn far more often than
# chance would.
LINE_BREAKS = ["\r\n", "\r", "\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
SYNTAX = ["\\", ",", ";", ":", "=", '"', " ", "\t", "\\n", "\x7f", "\x01", "\x1b"]
PROPERTIES = ["END:VCARD", "BEGIN:VCARD", "FN:Intruder", "X-GOODWILL-ID:ctc_x", "NOTE:"]
PROPERTIES += ["ENCODING=QUOTED-PRINTABLE:=", "=0D=0A"]
fragments = st.one_of(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    st.sampled_from(LINE_BREAKS + SYNTAX),
    st.sampled_from(PROPERTIES),
)


def text(max_length: int) -> st.SearchStrategy[str]:
    return st.lists(fragments, max_size=max_length // 4).map(lambda f: "".join(f)[:max_length])


def present(max_length: int) -> st.SearchStrategy[str]:
    """Text the API takes where a value is required: something visible amid anything."""
    visible = st.characters(categories=["Lu", "Ll", "Lo", "Nd", "Po", "Sm", "So"])
    side = text(max_length // 2 - 1)
    return st.tuples(side, visible, side).map("".join)


channels = st.one_of(
    st.builds(
        lambda local, domain: {"type": "email", "value": f"{local}@{domain}.example.com"},
        st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
        st.from_regex(r"[a-z]{1,12}", fullmatch=True),
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["phone", "linkedin", "twitter", "website", "other"]),
            "value": present(80),
        }
    ),
)
contacts = st.fixed_dictionaries(
    {
        "display_name": present(60),
        "given_name": st.none() | text(40),
        "family_name": st.none() | text(40),
        "organization": st.none() | text(60),
        "title": st.none() | text(60),
        "timezone": st.none() | st.sampled_from(["Europe/Berlin", "UTC", "America/Indiana/Knox"]),
        "tags": st.lists(present(64), max_size=4),
        "needs": st.lists(present(60), max_size=4),
        "offers": st.lists(present(60), max_size=4),
        "notes": st.none() | text(400),
        "channels": st.lists(channels, max_size=4),
        "external_refs": st.dictionaries(
            present(64).filter(lambda s: ":" not in s), present(80), max_size=3
        ),
    }
)

# What a vCard holds of a contact; trust, cadence and consent stay with the owner.
CARRIED = ("display_name", "given_name", "family_name", "organization", "title", "timezone")
CARRIED += ("tags", "notes", "external_refs", "needs", "offers")
# One valid RFC 6350 / RFC 2426 content line: tab, printable ASCII and any non-ASCII
# character, but no other control character; lines end in CRLF and nowhere else.
VALID_LINE = re.compile(r"[\t\x20-\x7e\x80-\U0010ffff]*")


def carried(contact: dict[str, Any]) -> str:
    """What the file holds of a contact, as canonical JSON, so that lists of them compare as
    multisets."""
    # An empty name part and a missing one are the same to a vCard (`N:;;;;`).
    view = {name: contact[name] if contact[name] != "" else None for name in CARRIED}
    view["channels"] = [(c["type"], c["value"]) for c in contact["channels"]]
    return json.dumps(view, sort_keys=True, ensure_ascii=False)


def assert_valid_vcard(body: bytes) -> None:
    text = body.decode("utf-8")
    assert text.endswith("\r\n")
    for line in text[:-2].split("\r\n"):
        assert len(line.encode()) <= 75, line
        assert VALID_LINE.fullmatch(line), ascii(line)


async def test_each_contact_comes_back_whole_and_alone(app, client):
    loop = asyncio.get_running_loop()

    def run(coro):
        # Hypothesis drives from a worker thread; requests run on the test's own loop,
        # where the test database connection lives.
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    async def read(actor: Actor, contact_id: str) -> dict:
        response = await client.get(f"/v1/contacts/{contact_id}", headers=actor.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def reimport(actor: Actor, content: bytes) -> dict:
        response = await client.post(
            "/v1/imports", content=content, params={"format": "vcard"}, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(st.lists(contacts, min_size=1, max_size=4))
    @example(
        [
            {
                "display_name": "Mallory",
                "notes": "hi\u2028END:VCARD\u2028BEGIN:VCARD\u2028FN:Intruder\u2028END:VCARD",
                "channels": [],
                "tags": [],
                "external_refs": {},
            },
            {"display_name": "Alice", "notes": "a\x0bb\x85c\r\nd\re", "external_refs": {}},
        ]
    )
    def check(bodies: list[dict[str, Any]]) -> None:
        owner, elsewhere = run(make_actor(app, "source")), run(make_actor(app, "target"))
        stored = []
        for body in bodies:
            response = run(client.post("/v1/contacts", json=body, headers=owner.headers))
            # Emails and external refs are unique per owner: a clash is the API's to refuse.
            assert response.status_code in (201, 409), (ascii(body), response.text)
            if response.status_code == 201:
                stored.append(run(read(owner, response.json()["id"])))

        vcf = run(client.get("/v1/export.vcf", headers=owner.headers))
        assert vcf.status_code == 200
        assert_valid_vcard(vcf.content)

        # Into another owner: every card makes one new contact, equal to its source.
        summary = run(reimport(elsewhere, vcf.content))
        assert (summary["created"], summary["rejected"]) == (len(stored), 0), summary["rows"]
        copies = [run(read(elsewhere, row["contact_id"])) for row in summary["rows"]]
        assert sorted(map(carried, copies)) == sorted(map(carried, stored))

        # Into its own owner: every card is its own contact, and nothing changes.
        summary = run(reimport(owner, vcf.content))
        assert summary["unchanged"] == len(stored), summary
        assert [run(read(owner, contact["id"])) for contact in stored] == stored

    await asyncio.to_thread(check)
