"""Imports: read the file, match every record to the owner's contacts, write through the
contacts service (so each change records its contact.created / contact.updated event).

Every record is parsed, validated and matched before anything is written, so a bad record
is reported and skipped and can never fail a write that would poison the transaction. Then
the new contacts are created in one batch and each changed contact is updated once, all in
the request's one transaction. A dry run stops before the writes.
"""

import asyncio
import copy
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.service import lock_owner
from app.contacts import service as contacts
from app.contacts.models import Contact, ContactExternalRef, ContactIdentifier
from app.contacts.schemas import ContactCreate, ContactUpdate
from app.core.errors import (
    GoodwillError,
    UnprocessableContent,
    bounded_field_errors,
    validation_errors,
)
from app.portability import formats, matching
from app.portability.drafts import Draft
from app.portability.schemas import (
    MAX_RECORDS,
    ImportFormat,
    ImportRow,
    ImportSummary,
    RowStatus,
)

# Records per request (MAX_RECORDS, in the schemas): a parsed record holds about 4 KiB until
# the request ends, and all of a request's records are written in one transaction.
# `goodwill import` sends 500 at a time.
# Keys per IN (...) list: far below either database's limit on bound parameters.
_IN_BATCH = 500

Parsed = list[tuple[Draft, ContactCreate | None]]


class UnreadableImport(UnprocessableContent):
    type, title = "unreadable-import", "The file cannot be imported"


class TooManyRecords(GoodwillError):
    status, type, title = 413, "too-many-records", "Too many records in one request"


class _TooMany(Exception):
    pass


def parse_file(
    content: bytes, fmt: ImportFormat | None, region: str | None
) -> tuple[ImportFormat, Parsed]:
    """CPU-bound (vobject, validation): run in a worker thread, off the event loop."""
    text = formats.decode(content)
    if not text.strip():
        raise formats.UnreadableFile("The file is empty.")
    fmt = fmt or formats.detect(text)
    parsed: Parsed = []
    for draft in formats.drafts(text, fmt, region):
        if len(parsed) == MAX_RECORDS:
            raise _TooMany
        data = None if draft.rejected else _contact_from(draft)
        parsed.append((draft, data))
    return fmt, parsed


# Each pass leaves out at least one bad value; a record has far fewer.
_MAX_PASSES = 20


def _contact_from(draft: Draft) -> ContactCreate | None:
    """The record as a contact, each value the contact schema refuses (a title too long, a
    time zone that is none) left out with a warning on the row; None, rejected, when its
    name is what is refused: a person without a usable name cannot be told apart."""
    fields = draft.fields
    for _ in range(_MAX_PASSES):
        try:
            return ContactCreate.model_validate(fields)
        except ValidationError as exc:
            errors = exc.errors()
        bad: list[tuple[Any, ...]] = []
        for error in errors:
            if error["loc"]:
                bad.append(tuple(error["loc"]))
                draft.errors.extend(validation_errors([error]))
            else:  # the check of the whole body for NUL: the values that hold one
                for where in _holding_nul(fields):
                    bad.append(where)
                    draft.error(_path(where), "text must not contain the NUL character")
        if not bad or any(where[0] == "display_name" for where in bad):
            break
        fields = _without(fields, bad)
    draft.rejected = True
    return None


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _holding_nul(fields: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Where NUL is in `fields`: a field, or one item of a list or mapping field."""
    found: list[tuple[Any, ...]] = []
    for name, value in fields.items():
        if isinstance(value, list):
            found += [(name, i) for i, item in enumerate(value) if _holds_nul(item)]
        elif isinstance(value, dict):
            found += [(name, k) for k, v in value.items() if _holds_nul(k) or _holds_nul(v)]
        elif _holds_nul(value):
            found.append((name,))
    return found


def _path(where: tuple[Any, ...]) -> str:
    """A list item by its index; a mapping's key is not repeated: it holds the NUL."""
    name, *rest = where
    return f"{name}[{rest[0]}]" if rest and isinstance(rest[0], int) else str(name)


def _without(fields: dict[str, Any], bad: list[tuple[Any, ...]]) -> dict[str, Any]:
    """`fields` less the values at `bad` (validation error locations): one channel, tag or
    external reference of a list or mapping, or else the whole field."""
    kept = copy.deepcopy(fields)
    items: dict[str, set[Any]] = {}
    for loc in bad:
        name = loc[0]
        if name in ("channels", "tags", "needs", "offers", "external_refs") and len(loc) > 1:
            items.setdefault(name, set()).add(loc[1])
        else:
            kept.pop(name, None)
    for name, keys in items.items():
        value = kept.get(name)
        if isinstance(value, list):
            kept[name] = [v for i, v in enumerate(value) if i not in keys]
        elif isinstance(value, dict):
            kept[name] = {k: v for k, v in value.items() if k not in keys}
    return kept


def _batches(values: Iterable[Any]) -> list[list[Any]]:
    items = list(dict.fromkeys(values))
    return [items[i : i + _IN_BATCH] for i in range(0, len(items), _IN_BATCH)]


async def load_known(
    session: AsyncSession,
    owner_id: str,
    valid: Sequence[tuple[str | None, ContactCreate]],
    *,
    lock: bool,
    by_name: bool = True,
) -> tuple[matching.Known, dict[str, Contact]]:
    """The owner's contacts that the records (each with the id of ours it carries, if any)
    may be, in a handful of queries whatever their number: an import's file, or a batch of
    `POST /v1/contacts/batch` (which matches no one by name)."""
    if lock:
        # One upsert of the owner's at a time: two that found no contact with a reference
        # would both create one (the loser's whole batch a 409); the second now waits and
        # finds the first's contacts.
        await lock_owner(session, owner_id)
    known = matching.Known()
    matched: set[str] = set()
    ids = [contact_id for contact_id, _ in valid if contact_id]
    for batch in _batches(ids):
        found = await session.exec(
            select(Contact.id).where(
                Contact.owner_id == owner_id,
                col(Contact.id).in_(batch),
                col(Contact.erased_at).is_(None),
            )
        )
        known.ids.update(found.all())
    matched |= known.ids
    refs = [ref for _, data in valid for ref in data.external_refs.items()]
    for batch in _batches(refs):
        rows = await session.exec(
            select(
                ContactExternalRef.system,
                ContactExternalRef.external_id,
                ContactExternalRef.contact_id,
            ).where(
                ContactExternalRef.owner_id == owner_id,
                tuple_(ContactExternalRef.system, ContactExternalRef.external_id).in_(batch),
            )
        )
        for system, external_id, contact_id in rows.all():
            known.refs[(system, external_id)] = contact_id
            matched.add(contact_id)
    keys = [key for _, data in valid for key in matching.lookup_keys(data)]
    for batch in _batches(value for _, value in keys):
        rows = await session.exec(
            select(
                ContactIdentifier.kind, ContactIdentifier.value, ContactIdentifier.contact_id
            ).where(ContactIdentifier.owner_id == owner_id, col(ContactIdentifier.value).in_(batch))
        )
        for kind, value, contact_id in rows.all():
            known.keys.setdefault((kind, value), set()).add(contact_id)
            matched.add(contact_id)
    # Records with nothing else to go by are matched by name: a scan of the owner's
    # contacts, only when the file has such records.
    names = [
        data.display_name
        for _, data in valid
        if by_name and not data.external_refs and not matching.lookup_keys(data)
    ]
    for batch in _batches(names):
        rows = await session.exec(
            select(Contact.display_name, Contact.id).where(
                Contact.owner_id == owner_id,
                col(Contact.display_name).in_(batch),
                col(Contact.erased_at).is_(None),
            )
        )
        for name, contact_id in rows.all():
            known.names.setdefault(name, set()).add(contact_id)
            matched.add(contact_id)
    loaded: dict[str, Contact] = {}
    for batch in _batches(sorted(matched)):
        query = select(Contact).where(Contact.owner_id == owner_id, col(Contact.id).in_(batch))
        if lock:  # in id order, so two imports lock the same contacts in the same order
            query = query.order_by(Contact.id).with_for_update()
        for contact in (await session.exec(query)).all():
            loaded[contact.id] = contact
            known.states[contact.id] = matching.state_of(contact)
    return known, loaded


async def import_file(
    session: AsyncSession,
    *,
    owner_id: str,
    content: bytes,
    fmt: ImportFormat | None,
    dry_run: bool,
    region: str | None = None,
) -> ImportSummary:
    try:
        fmt, parsed = await asyncio.to_thread(parse_file, content, fmt, region)
    except formats.UnreadableFile as exc:
        raise UnreadableImport(str(exc), errors=[{"field": "file", "message": str(exc)}]) from None
    except _TooMany:
        raise TooManyRecords(
            f"A request may hold at most {MAX_RECORDS:,} records; split the file, or use "
            "`goodwill import`, which sends it in parts."
        ) from None
    valid = [(draft.contact_id, data) for draft, data in parsed if data is not None]
    known, loaded = await load_known(session, owner_id, valid, lock=not dry_run)
    before = copy.deepcopy(known.states)
    # First decide every record against the contacts as they become (a dry run stops here),
    # then write: the new contacts in one batch, each changed contact once.
    plan = [_plan(draft, data, known) for draft, data in parsed]
    ids: dict[str, str | None] = {key: key for key in before}
    new = [key for key in known.states if key not in before]
    if dry_run:
        ids.update(dict.fromkeys(new, None))
    else:
        items = [ContactCreate.model_validate(known.states[key]) for key in new]
        updates = []
        for contact_id, original in before.items():
            final = known.states[contact_id]
            changed = {
                name: final[name] for name in matching.MERGED if final[name] != original[name]
            }
            if changed:
                updates.append((loaded[contact_id], ContactUpdate.model_validate(changed)))
        created = await write(session, owner_id, items, updates)
        ids.update(zip(new, (contact.id for contact in created), strict=True))
    rows = [
        _row(draft.row, status, ids[key] if key else None, errors)
        for (draft, _), (status, key, errors) in zip(parsed, plan, strict=True)
    ]
    counts = {status: 0 for status in RowStatus}
    for row in rows:
        counts[row.status] += 1
    return ImportSummary(
        format=fmt,
        dry_run=dry_run,
        created=counts[RowStatus.created],
        updated=counts[RowStatus.updated],
        unchanged=counts[RowStatus.unchanged],
        rejected=counts[RowStatus.rejected],
        rows=rows,
    )


async def write(
    session: AsyncSession,
    owner_id: str,
    new: Sequence[ContactCreate],
    updates: Sequence[tuple[Contact, ContactUpdate]],
) -> list[Contact]:
    """Write what matching decided: the new contacts in one batch, then each changed contact
    once, through the contacts service, so each records its contact.created or
    contact.updated event. Every record was matched by email first, so an address the
    writes add is never refused here: a shared one was a choice made in matching."""
    created = await contacts.create_contacts(session, owner_id=owner_id, items=new)
    for contact, change in updates:
        await contacts.update_contact(session, contact=contact, changes=change, unique_emails=False)
    return created


def _row(
    row: int, status: RowStatus, contact_id: str | None, errors: Sequence[dict[str, str]] = ()
) -> ImportRow:
    return ImportRow.model_validate(
        {
            "row": row,
            "status": status,
            "contact_id": contact_id,
            "errors": bounded_field_errors(errors),
        }
    )


Planned = tuple[RowStatus, str | None, list[dict[str, str]]]


def _plan(draft: Draft, data: ContactCreate | None, known: matching.Known) -> Planned:
    """What importing this record does: its status, the contact (`new:<row>` for one this
    import creates), and why it is rejected."""
    if data is None:
        return RowStatus.rejected, None, draft.errors
    warnings = draft.errors  # values left out of an imported record
    try:
        match = known.match(draft, data)
    except matching.Ambiguous as exc:
        return RowStatus.rejected, None, [*warnings, {"field": exc.where, "message": str(exc)}]
    if match is None:
        key = f"new:{draft.row}"
        known.remember(key, matching.state_from(data))
        if draft.contact_id:
            known.sources[key] = draft.contact_id
        return RowStatus.created, key, warnings
    state = known.states[match]
    fields = matching.changes(state, data, stand_in_name=draft.stand_in_name)
    if not fields:
        return RowStatus.unchanged, match, warnings
    taken = known.taken_refs(match, fields.get("external_refs", {}))
    if taken:
        taken_errors = [{"field": "external_refs", "message": m} for m in taken]
        return RowStatus.rejected, None, [*warnings, *taken_errors]
    try:
        ContactUpdate.model_validate(fields)
    except ValidationError as exc:
        return RowStatus.rejected, None, [*warnings, *validation_errors(exc.errors())]
    known.remember(match, {**state, **fields})
    return RowStatus.updated, match, warnings
