"""What the client check does with the client generated from openapi/openapi.json (run.sh
generates it and starts the server): the calls of issue 14, each header passed per call, the
way a generated client has to take them, and each answer read through the generated models.

    python exercise.py BASE_URL API_KEY
"""

import sys
import uuid

from goodwill_client import AuthenticatedClient
from goodwill_client.api.contacts import create_contact, list_contacts, read_contact, update_contact
from goodwill_client.api.events import list_events
from goodwill_client.api.ledger import record_entry
from goodwill_client.models import (
    ContactCreate,
    ContactRead,
    ContactUpdate,
    Direction,
    EntryKind,
    EventPage,
    LedgerEntryCreate,
    LedgerEntryRead,
    PageContactRead,
    Problem,
)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"client check failed: {what}")
    print(f"ok  {what}")


def main(base_url: str, api_key: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=api_key, raise_on_unexpected_status=True)
    key = f"client-check-{uuid.uuid4()}"

    # Create with an Idempotency-Key, then retry: the same contact, not a second one.
    body = ContactCreate(display_name="Ada Lovelace", tags=["math"])
    first = create_contact.sync_detailed(client=client, body=body, idempotency_key=key)
    check(first.status_code == 201 and isinstance(first.parsed, ContactRead), "create: 201")
    check(first.headers["location"] == f"/v1/contacts/{first.parsed.id}", "create: Location")
    retry = create_contact.sync_detailed(client=client, body=body, idempotency_key=key)
    check(retry.status_code == 201, "retry with the same key: 201")
    check(isinstance(retry.parsed, ContactRead), "retry: a contact")
    check(retry.parsed.id == first.parsed.id, "retry: the same id back")
    check(retry.headers.get("idempotent-replayed") == "true", "retry: Idempotent-Replayed")

    # The key was this call's alone: a ledger entry right after, without one, is new each
    # time (the issue: a key set on the shared client leaked into this POST).
    entry = LedgerEntryCreate(
        contact_id=first.parsed.id, direction=Direction.GAVE, kind=EntryKind.ADVICE, weight=2
    )
    entries = [record_entry.sync_detailed(client=client, body=entry) for _ in range(2)]
    check(all(e.status_code == 201 for e in entries), "ledger POSTs without a key: 201")
    ids = {e.parsed.id for e in entries if isinstance(e.parsed, LedgerEntryRead)}
    check(len(ids) == 2, "ledger POSTs without a key: two entries")

    # Update with If-Match, from the ETag a GET answered; a stale one is refused.
    read = read_contact.sync_detailed(contact_id=first.parsed.id, client=client)
    check(read.status_code == 200 and "etag" in read.headers, "read: 200 with an ETag")
    etag = read.headers["etag"]
    unchanged = read_contact.sync_detailed(
        contact_id=first.parsed.id, client=client, if_none_match=etag
    )
    check(unchanged.status_code == 304, "read with If-None-Match: 304")
    updated = update_contact.sync_detailed(
        contact_id=first.parsed.id,
        client=client,
        body=ContactUpdate(title="Countess"),
        if_match=etag,
    )
    check(updated.status_code == 200, "update with If-Match: 200")
    check(
        isinstance(updated.parsed, ContactRead) and updated.parsed.title == "Countess",
        "update: applied",
    )
    check(updated.headers["etag"] != etag, "update: a new ETag")
    stale = update_contact.sync_detailed(
        contact_id=first.parsed.id, client=client, body=ContactUpdate(title="Lady"), if_match=etag
    )
    check(
        stale.status_code == 412 and isinstance(stale.parsed, Problem),
        "stale If-Match: 412 problem",
    )

    # Page the list with `cursor`.
    create_contact.sync_detailed(client=client, body=ContactCreate(display_name="Charles Babbage"))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = list_contacts.sync_detailed(client=client, limit=1, cursor=cursor)
        check(page.status_code == 200 and isinstance(page.parsed, PageContactRead), "list: a page")
        seen += [contact.id for contact in page.parsed.data]
        cursor = page.parsed.next_cursor
        if not cursor:
            break
    check(len(seen) == 2 and len(set(seen)) == 2, "list: two pages of one, by cursor")

    # Read the change feed, on from its cursor.
    feed = list_events.sync_detailed(client=client, limit=2)
    check(feed.status_code == 200 and isinstance(feed.parsed, EventPage), "feed: a page")
    types = [event.type_ for event in feed.parsed.data]
    check("contact.created" in types, "feed: the contact's creation among the first changes")
    rest = list_events.sync_detailed(client=client, cursor=feed.parsed.next_cursor, limit=200)
    check(rest.status_code == 200 and isinstance(rest.parsed, EventPage), "feed: on by cursor")
    later = [event.type_ for event in rest.parsed.data]
    check("ledger_entry.created" in later and "contact.updated" in later, "feed: later changes")
    print("client check passed")


if __name__ == "__main__":
    main(*sys.argv[1:3])
