"""Contacts: the people in an owner's network. Every query is scoped to the owner."""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, bindparam, case, delete, null, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.identifiers import EMAIL, channel_keys
from app.contacts.models import (
    Contact,
    ContactExternalRef,
    ContactIdentifier,
    ContactPhrase,
    ContactTag,
    fold_phrase,
)
from app.contacts.schemas import ChannelRead, ContactCreate, ContactRead, ContactUpdate
from app.contacts.search import search_text
from app.contacts.tokens import write_tokens
from app.core.errors import (
    Conflict,
    ContactArchived,
    GoodwillError,
    NotFound,
    UnprocessableContent,
)
from app.core.etag import make_etag
from app.core.outbox import record_event
from app.core.reads import Reader, Rows
from app.core.reciprocity import Flag, contact_reciprocity
from app.core.repository import get_owned_or_404
from app.core.responses import json_values
from app.core.sql import plus_days
from app.core.types import UTCDateTime, new_id, utcnow
from app.settings.service import owner_ratio, reciprocity_ratio


class ContactNotFound(NotFound):
    type, title = "contact-not-found", "Contact not found"


class ExternalRefTaken(Conflict):
    type, title = "external-ref-taken", "External reference already in use"


class EmailTaken(Conflict):
    type, title = "email-taken", "Email address already in use"


class ContactNotArchived(Conflict):
    type, title = "contact-not-archived", "Contact not archived"


# Each field of a contact's document and the column it comes from: its own, but for
# `next_touch_due_at`, which is the `due_at` the stale filter and the agenda index.
_SOURCES = [
    (name, "due_at" if name == "next_touch_due_at" else name)
    for name in ContactRead.model_fields
    if name != "reciprocity"
]
_ROW_FIELDS = list(
    dict.fromkeys([*(column for _, column in _SOURCES), "ledger_deposits", "ledger_withdrawals"])
)
_CHANNEL_FIELDS = list(ChannelRead.model_fields)


def contact_document(
    source: Contact | Mapping[str, Any], ratio: int, now: datetime | None = None
) -> dict[str, Any]:
    """A contact as clients see it, from a row of `DOCUMENT_COLUMNS` or an entity: the one
    presenter of a contact, for every answer (GET, list pages, create, update, export) and
    every event. ContactRead's fields, in its order, as plain values, not the model: the
    hot reads send rows the database already holds in shape, and pydantic's validation and
    serialisation were a third of a page's CPU
    (docs/decisions/2026-11-22-contact-documents-from-rows.md). Serialised with orjson
    (`ORJSONResponse`), the bytes are ContactRead's own: tests/contacts/test_documents.py
    checks it."""
    # Not isinstance: pydantic's check of a model class costs a failed attribute lookup on
    # every row, and a page has fifty.
    if type(source) is Contact:
        # Attributes, not __dict__: a flush may have expired some, to be loaded again.
        source = {name: getattr(source, name) for name in _ROW_FIELDS}
    data = {name: source[column] for name, column in _SOURCES}
    data["channels"] = [{k: ch[k] for k in _CHANNEL_FIELDS} for ch in data["channels"]]
    data["reciprocity"] = contact_reciprocity(source, ratio, now or utcnow())
    return data


def contact_documents(rows: Rows, ratio: int) -> list[dict[str, Any]]:
    """`contact_document` for each row of a page, all at the same moment."""
    now = utcnow()
    return [contact_document(row, ratio, now) for row in rows]


async def present(session: AsyncSession, contact: Contact) -> dict[str, Any]:
    """`contact_document` under its owner's ratio, looked up."""
    return contact_document(contact, await reciprocity_ratio(session, owner_id=contact.owner_id))


# The columns a contact's document is made of (and its version, for the ETag), for reads
# that only present contacts: plain rows skip the ORM's identity map and instance state, and
# the columns left out (search and filter helpers) cost decoding on every row
# (docs/decisions/2026-11-22-contact-documents-from-rows.md).
DOCUMENT_COLUMNS = tuple(
    Contact.__table__.c[name]  # type: ignore[attr-defined]
    for name in [*_ROW_FIELDS, "version"]
)

# Built once: building a statement costs more than running it through SQLAlchemy's
# compiled cache (docs/decisions/2026-11-22-statements-built-once.md), the hottest read.
_READ_CONTACT = select(*DOCUMENT_COLUMNS, owner_ratio(bindparam("owner_id")).label("ratio")).where(
    Contact.owner_id == bindparam("owner_id"),
    Contact.id == bindparam("contact_id"),
    col(Contact.erased_at).is_(None),
)


async def read_contact(reader: Reader, *, owner_id: str, contact_id: str) -> Mapping[str, Any]:
    """GET /v1/contacts/{id}: the contact's row, with its owner's ratio as `ratio`, in one
    statement."""
    rows = await reader.rows(_READ_CONTACT, {"owner_id": owner_id, "contact_id": contact_id})
    if not rows:
        raise ContactNotFound(f"No contact {contact_id}.")
    return rows[0]


def contact_etag(version: int, document: Mapping[str, Any]) -> str:
    """The ETag of a contact's `document` at `version`. The version moves with every write to
    the contact, but the document also shows what it does not: the ledger totals (an entry
    moves them, not the version), the owner's ratio, and whether the contact is stale, which
    time alone changes. The ETag carries them too, so it changes whenever the document does
    and a 304 never hides a change."""
    reciprocity = document["reciprocity"]
    stale = ".stale" if Flag.stale in reciprocity["flags"] else ""
    return make_etag(
        f"{version}.{reciprocity['deposits']}.{reciprocity['withdrawals']}"
        f".{reciprocity['ratio']}{stale}"
    )


async def present_with_etag(
    session: AsyncSession, contact: Contact, ratio: int | None = None
) -> tuple[dict[str, Any], str]:
    """The contact's document and its ETag, under `ratio` or its owner's, looked up."""
    if ratio is None:
        ratio = await reciprocity_ratio(session, owner_id=contact.owner_id)
    document = contact_document(contact, ratio)
    return document, contact_etag(contact.version, document)


async def current_etag(session: AsyncSession, contact: Contact) -> tuple[str, int]:
    """The ETag of the contact's document as it stands (for If-Match), and the owner's ratio
    it was made under, which the request's answer can reuse: no request changes both."""
    ratio = await reciprocity_ratio(session, owner_id=contact.owner_id)
    return contact_etag(contact.version, contact_document(contact, ratio)), ratio


def _derive(contact: Contact) -> None:
    """Recompute the columns that exist only to make list filters indexable."""
    contact.search_text = search_text(
        display_name=contact.display_name,
        given_name=contact.given_name,
        family_name=contact.family_name,
        organization=contact.organization,
        title=contact.title,
        tags=contact.tags,
        channels=contact.channels,
    )
    uses = sorted({use for c in contact.channels for use in c["permitted_uses"]})
    contact.channel_uses = "," + "".join(f"{u}," for u in uses)
    contact.due_at = due_at(
        contact.last_interaction_at, contact.connected_at, contact.created_at, contact.cadence_days
    )


def due_at(
    last_interaction_at: datetime | None,
    connected_at: datetime | None,
    created_at: datetime,
    cadence_days: int | None,
) -> datetime | None:
    """When a contact's keep-in-touch cadence runs out (`next_touch_due_at`): its last
    interaction plus the cadence, or, never met, when the owner and the contact connected
    (else when the contact was added) plus the cadence; None without a cadence."""
    if not cadence_days:
        return None
    return (last_interaction_at or connected_at or created_at) + timedelta(days=cadence_days)


# `new`: the contact was just created, so it has no rows to delete (a round trip saved;
# imports create thousands).
SideTable = (
    type[ContactTag] | type[ContactIdentifier] | type[ContactExternalRef] | type[ContactPhrase]
)


async def _clear(session: AsyncSession, model: SideTable, contact: Contact) -> None:
    """Delete a contact's rows of one side table, before they are written anew."""
    await session.exec(
        delete(model).where(model.owner_id == contact.owner_id, model.contact_id == contact.id)
    )


async def _replace_tags(session: AsyncSession, contact: Contact) -> None:
    await _clear(session, ContactTag, contact)
    session.add_all(
        ContactTag(owner_id=contact.owner_id, contact_id=contact.id, tag=tag)
        for tag in contact.tags
    )


def phrase_rows(contact: Contact) -> list[ContactPhrase]:
    """The contact's needs and offers as matched: folded (`fold_phrase`), each once per kind
    ("  Seed  Funding " and "seed funding" are one row), while the lists keep what the
    client wrote."""
    key = {"owner_id": contact.owner_id, "contact_id": contact.id}
    return [
        ContactPhrase(**key, kind=kind, phrase=phrase)
        for kind, phrases in (("need", contact.needs), ("offer", contact.offers))
        for phrase in dict.fromkeys(fold_phrase(p) for p in phrases)
    ]


async def _replace_phrases(session: AsyncSession, contact: Contact) -> None:
    await _clear(session, ContactPhrase, contact)
    session.add_all(phrase_rows(contact))


async def _replace_identifiers(session: AsyncSession, contact: Contact) -> None:
    await _clear(session, ContactIdentifier, contact)
    session.add_all(
        ContactIdentifier(owner_id=contact.owner_id, contact_id=contact.id, kind=kind, value=value)
        for kind, value in channel_keys(contact.channels)
    )


def _emails(channels: Sequence[Mapping[str, Any]]) -> set[str]:
    return {value for kind, value in channel_keys(channels) if kind == EMAIL}


async def refuse_taken(
    session: AsyncSession,
    *,
    owner_id: str,
    refs: Sequence[tuple[str, str]] = (),
    emails: Sequence[str] = (),
    contact_id: str | None = None,
) -> None:
    """409, naming the holder as `existing_id`, when another of the owner's contacts than
    `contact_id` holds one of `refs` or (lower-cased) `emails`: a client that syncs by them
    learns which contact to update instead. Erased contacts hold none (erasure deletes their
    rows). Keys go in lists of at most 500, far below either database's parameter limit."""
    refs, emails = list(dict.fromkeys(refs)), sorted(set(emails))
    for start in range(0, len(refs), 500):
        query = select(ContactExternalRef).where(
            ContactExternalRef.owner_id == owner_id,
            tuple_(ContactExternalRef.system, ContactExternalRef.external_id).in_(
                refs[start : start + 500]
            ),
        )
        if contact_id is not None:
            query = query.where(ContactExternalRef.contact_id != contact_id)
        ref = (await session.exec(query.limit(1))).first()
        if ref is not None:
            raise ExternalRefTaken(
                f"{ref.system}:{ref.external_id} already belongs to contact {ref.contact_id}.",
                existing_id=ref.contact_id,
            )
    for start in range(0, len(emails), 500):
        query = select(ContactIdentifier).where(
            ContactIdentifier.owner_id == owner_id,
            ContactIdentifier.kind == EMAIL,
            col(ContactIdentifier.value).in_(emails[start : start + 500]),
        )
        if contact_id is not None:
            query = query.where(ContactIdentifier.contact_id != contact_id)
        held = (await session.exec(query.limit(1))).first()
        if held is not None:
            raise EmailTaken(
                f"{held.value} already belongs to contact {held.contact_id}.",
                existing_id=held.contact_id,
            )


async def _replace_external_refs(session: AsyncSession, contact: Contact) -> None:
    refs = contact.external_refs
    await refuse_taken(
        session, owner_id=contact.owner_id, refs=list(refs.items()), contact_id=contact.id
    )
    await _clear(session, ContactExternalRef, contact)
    session.add_all(
        ContactExternalRef(
            owner_id=contact.owner_id, contact_id=contact.id, system=system, external_id=ext_id
        )
        for system, ext_id in refs.items()
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        # Lost a race with a concurrent write of the same reference.
        raise ExternalRefTaken(
            "An external reference is already in use by another contact."
        ) from exc


async def _record(
    session: AsyncSession, contact: Contact, type_: str, document: dict[str, Any] | None = None
) -> None:
    """The change-feed event of a write to `contact`, carrying what a client would read."""
    record_event(
        session,
        owner_id=contact.owner_id,
        type=type_,
        resource="contact",
        resource_id=contact.id,
        contact_id=contact.id,
        data=json_values(document or await present(session, contact)),
    )


async def create_contact(session: AsyncSession, *, owner_id: str, data: ContactCreate) -> Contact:
    """One new contact; 409 with `existing_id` when another holds its email or reference."""
    return (await create_contacts(session, owner_id=owner_id, items=[data], unique_emails=True))[0]


async def create_contacts(
    session: AsyncSession,
    *,
    owner_id: str,
    items: Sequence[ContactCreate],
    unique_emails: bool = False,
) -> list[Contact]:
    """What `create_contact` does for each item, in a few statements whatever their number:
    an import creates thousands, and a round trip per row and table would dominate. Emails
    are refused when held by another contact only with `unique_emails`: a caller that
    matched its items by email already (an import, a batch) knows they are new."""
    now = utcnow()
    contacts = []
    for data in items:
        fields: dict[str, Any] = data.model_dump(mode="json")
        fields["connected_at"] = data.connected_at  # a datetime for the column, not its text
        contact = Contact(
            id=new_id("ct"), owner_id=owner_id, created_at=now, updated_at=now, **fields
        )
        _derive(contact)
        contacts.append(contact)
    await refuse_taken(
        session,
        owner_id=owner_id,
        refs=[ref for contact in contacts for ref in contact.external_refs.items()],
        emails=[e for c in contacts for e in _emails(c.channels)] if unique_emails else (),
    )
    session.add_all(contacts)
    await session.flush()  # before the rows that reference them
    await write_tokens(session, contacts, new=True)
    for contact in contacts:
        key = {"owner_id": owner_id, "contact_id": contact.id}
        session.add_all(ContactTag(**key, tag=tag) for tag in contact.tags)
        session.add_all(
            ContactIdentifier(**key, kind=kind, value=value)
            for kind, value in channel_keys(contact.channels)
        )
        session.add_all(
            ContactExternalRef(**key, system=system, external_id=external_id)
            for system, external_id in contact.external_refs.items()
        )
        session.add_all(phrase_rows(contact))
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ExternalRefTaken(
            "An external reference is already in use by another contact."
        ) from exc
    ratio = await reciprocity_ratio(session, owner_id=owner_id)
    for contact in contacts:
        await _record(session, contact, "contact.created", contact_document(contact, ratio))
    return contacts


async def get_contact(
    session: AsyncSession, *, owner_id: str, contact_id: str, for_update: bool = False
) -> Contact:
    return await get_owned_or_404(
        session,
        Contact,
        owner_id=owner_id,
        id=contact_id,
        not_found=ContactNotFound(f"No contact {contact_id}."),
        for_update=for_update,
        extra=[col(Contact.erased_at).is_(None)],
    )


def bump_version(contact: Contact) -> None:
    """A new version, so a new ETag: a write made against the old one is refused (412)."""
    contact.version += 1
    contact.updated_at = utcnow()


async def update_contact(
    session: AsyncSession, *, contact: Contact, changes: ContactUpdate, unique_emails: bool = True
) -> Contact:
    """Set the fields sent. An email address the change adds that another contact holds is
    a 409 with `existing_id` unless `unique_emails` is off (an import, which may keep two
    people behind one shared inbox); addresses the contact already had are never refused."""
    # Only the fields sent, but each of them whole: exclude_unset would also drop the
    # defaults inside a nested channel.
    dumped = changes.model_dump(mode="json")
    fields = {name: dumped[name] for name in changes.model_fields_set}
    if "connected_at" in fields:  # a datetime for the column, not its text
        fields["connected_at"] = changes.connected_at
    if unique_emails and "channels" in fields:
        added = _emails(fields["channels"]) - _emails(contact.channels)
        await refuse_taken(
            session, owner_id=contact.owner_id, emails=list(added), contact_id=contact.id
        )
    for name, value in fields.items():
        setattr(contact, name, value)
    searched = contact.search_text
    bump_version(contact)
    _derive(contact)
    session.add(contact)
    await session.flush()
    if contact.search_text != searched:
        await write_tokens(session, [contact], new=False)
    if "tags" in fields:
        await _replace_tags(session, contact)
    if "channels" in fields:
        await _replace_identifiers(session, contact)
    if "external_refs" in fields:
        await _replace_external_refs(session, contact)
    if "needs" in fields or "offers" in fields:
        await _replace_phrases(session, contact)
    await _record(session, contact, "contact.updated")
    return contact


def replacement(contact: Contact, data: ContactCreate) -> ContactUpdate | None:
    """The change that makes `contact` what the full body `data` says (fields it leaves out
    go back to their defaults), or None when it already is: a sync that sends the same body
    again writes nothing, so it moves no version and records no event."""
    wanted, dumped = data.model_dump(), data.model_dump(mode="json")
    changed = {name: dumped[name] for name in wanted if getattr(contact, name) != wanted[name]}
    return ContactUpdate.model_validate(changed) if changed else None


async def find_by_ref(
    session: AsyncSession, *, owner_id: str, system: str, external_id: str
) -> Contact | None:
    """The contact holding `system:external_id`, locked for the write that follows."""
    query = (
        select(Contact)
        .join(
            ContactExternalRef,
            (ContactExternalRef.owner_id == Contact.owner_id)
            & (ContactExternalRef.contact_id == Contact.id),
        )
        .where(
            ContactExternalRef.owner_id == owner_id,
            ContactExternalRef.system == system,
            ContactExternalRef.external_id == external_id,
            col(Contact.erased_at).is_(None),
        )
        .with_for_update(of=Contact)  # type: ignore[arg-type]
    )
    return (await session.exec(query)).first()


async def put_contact_by_ref(
    session: AsyncSession,
    *,
    owner_id: str,
    ref: tuple[str, str],
    data: ContactCreate,
    check: Callable[[str | None], None],
) -> tuple[Contact, bool, int | None]:
    """PUT /v1/contacts/by-ref/{system}/{external_id}: the contact holding `ref` made what
    `data` says, or created with it; the ref is always on the result. Returns the contact,
    whether it was created, and the owner's ratio when it was read. `check` is given the
    ETag of the contact replaced, or None when there is none, for If-Match."""
    system, external_id = ref
    held = data.external_refs.get(system)
    if held is not None and held != external_id:
        raise UnprocessableContent(
            f"The body gives {system} another id than the path; leave it out or make them agree.",
            errors=[{"field": f"external_refs.{system}", "message": "must equal the path's id"}],
        )
    data = data.model_copy(update={"external_refs": {**data.external_refs, system: external_id}})
    contact = await find_by_ref(session, owner_id=owner_id, system=system, external_id=external_id)
    if contact is None:
        check(None)
        return await create_contact(session, owner_id=owner_id, data=data), True, None
    if contact.archived_at is not None:
        raise ContactArchived(contact.id)
    current, ratio = await current_etag(session, contact)
    check(current)
    changes = replacement(contact, data)
    if changes is not None:
        contact = await update_contact(session, contact=contact, changes=changes)
    return contact, False, ratio


async def archive_contact(session: AsyncSession, *, contact: Contact) -> None:
    if contact.archived_at is not None:
        return
    contact.archived_at = utcnow()
    bump_version(contact)
    session.add(contact)
    await session.flush()
    await _record(session, contact, "contact.archived")


async def restore_contact(session: AsyncSession, *, contact: Contact) -> Contact:
    """Undo an archive: the contact is listed, and takes new writes, again."""
    if contact.archived_at is None:
        raise ContactNotArchived(f"Contact {contact.id} is not archived.")
    contact.archived_at = None
    bump_version(contact)
    session.add(contact)
    await session.flush()
    await _record(session, contact, "contact.restored")
    return contact


# What an interaction moves on its contact, in one UPDATE (`touch_interaction`).
_CONTACTS = Contact.__table__  # type: ignore[attr-defined]
# Parameters not named after columns: an UPDATE reserves those names for its SET clause.
_AT = bindparam("b_at", type_=UTCDateTime())
_LAST = case(
    (_CONTACTS.c.last_interaction_at.is_(None) | (_CONTACTS.c.last_interaction_at < _AT), _AT),
    else_=_CONTACTS.c.last_interaction_at,
)
_TOUCH = (
    update(_CONTACTS)
    .where(
        _CONTACTS.c.owner_id == bindparam("b_owner_id"),
        _CONTACTS.c.id == bindparam("b_contact_id"),
        _CONTACTS.c.erased_at.is_(None),
        _CONTACTS.c.archived_at.is_(None),
    )
    .values(
        # Both from the row as the UPDATE finds it: on PostgreSQL, an UPDATE that waited for
        # another's row lock evaluates them again on the row that one left, so two
        # interactions logged at once both count. `due_at` as `due_at()` computes it: a
        # last interaction is never NULL here, so connected_at and created_at do not matter.
        last_interaction_at=_LAST,
        due_at=case(
            (_CONTACTS.c.cadence_days > 0, plus_days(_LAST, _CONTACTS.c.cadence_days)),
            else_=null(),
        ),
        version=_CONTACTS.c.version + 1,
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)
_UNTOUCHED = select(Contact.archived_at).where(
    Contact.owner_id == bindparam("owner_id"),
    Contact.id == bindparam("contact_id"),
    col(Contact.erased_at).is_(None),
)


def touch_interaction(
    *, owner_id: str, contact_id: str, at: datetime, now: datetime
) -> tuple[Update, dict[str, Any]]:
    """An interaction happened at `at`: the UPDATE (with its parameters) that moves the
    contact's last interaction, if `at` is later, its due date and its version, for the
    caller to run with its own row (`insert_after_update`). Staleness is measured from the
    latest interaction. The UPDATE computes both itself, so the contact is neither read nor
    locked first: one round trip fewer for every interaction logged. It matches no row when
    there is no such contact or it is archived: `untouched` then tells which."""
    params = {"b_owner_id": owner_id, "b_contact_id": contact_id, "b_at": at, "b_now": now}
    return _TOUCH, params


async def untouched(session: AsyncSession, *, owner_id: str, contact_id: str) -> GoodwillError:
    """Why `touch_interaction`'s UPDATE matched no row: ContactNotFound, or ContactArchived
    (also when the contact was restored since: it was archived when the write ran)."""
    params = {"owner_id": owner_id, "contact_id": contact_id}
    if (await session.exec(_UNTOUCHED, params=params)).first() is None:
        return ContactNotFound(f"No contact {contact_id}.")
    return ContactArchived(contact_id)


async def set_last_interaction(
    session: AsyncSession, *, contact: Contact, at: datetime | None
) -> None:
    """An interaction of the locked `contact` was corrected or deleted: its latest remaining
    one (None when none is left) is its last interaction again, and its due date and version
    move with it, so its ETag does too."""
    contact.last_interaction_at = at
    contact.due_at = due_at(at, contact.connected_at, contact.created_at, contact.cadence_days)
    bump_version(contact)
    session.add(contact)
    await session.flush()
