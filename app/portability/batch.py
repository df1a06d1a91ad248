"""`POST /v1/contacts/batch`: a CRM's page of contacts, each upserted by external reference,
then by email, with the import's machinery (matching.Known, `load_known`, `write`).

An item is decided against the contacts as earlier items leave them, and every check that
could fail a write is made before anything is written, so a bad item is a `rejected` result
and never a failed statement that would abort the others. On a contact it matches, an item
sets the fields it sends (a PATCH); its external references are added to the contact's.
An item matching a contact an earlier item of the batch already matched is rejected: a
contact is written once per batch, and records one event.
"""

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from app.contacts.identifiers import EMAIL, channel_keys
from app.contacts.models import Contact
from app.contacts.schemas import ContactCreate, ContactUpdate
from app.core.errors import bounded_field_errors, validation_errors
from app.portability import matching
from app.portability.drafts import Draft
from app.portability.schemas import BatchResult, BatchResults, RowStatus
from app.portability.service import load_known, write

Errors = list[dict[str, str]]


def _validated(items: Sequence[Any]) -> list[ContactCreate | Errors]:
    """Each item as a contact body, or its errors, named as in a problem's `errors` but from
    the item (`channels[0].value`); `item` for what concerns it whole."""
    out: list[ContactCreate | Errors] = []
    for item in items:
        if not isinstance(item, dict):
            out.append([{"field": "item", "message": "must be an object: a contact body"}])
            continue
        try:
            out.append(ContactCreate.model_validate(item))
        except ValidationError as exc:
            errors = validation_errors(exc.errors())
            out.append([{**e, "field": "item"} if e["field"] == "body" else e for e in errors])
    return out


class _Batch:
    """The decisions so far: what each contact matched became, and which item took it."""

    def __init__(self, known: matching.Known, loaded: dict[str, Contact]) -> None:
        self.known, self.loaded = known, loaded
        self.taken_by: dict[str, int] = {}
        self.new: list[tuple[str, ContactCreate]] = []
        self.updates: list[tuple[Contact, ContactUpdate]] = []

    def decide(self, index: int, data: ContactCreate) -> tuple[RowStatus, str | None, Errors]:
        known = self.known
        try:
            match = known.match(Draft(row=index), data, kinds=(EMAIL,), by_name=False)
        except matching.Ambiguous as exc:
            return RowStatus.rejected, None, [{"field": exc.where, "message": str(exc)}]
        by = "external_refs" if any(r in known.refs for r in data.external_refs.items()) else ""
        by = by or "channels"
        if match in self.taken_by:
            message = f"item {self.taken_by[match]} of this batch is the same contact"
            return RowStatus.rejected, None, [{"field": by, "message": message}]
        if match is None:
            key = f"new:{index}"
            known.remember(key, matching.state_from(data))
            self.taken_by[key] = index
            self.new.append((key, data))
            return RowStatus.created, key, []
        contact = self.loaded[match]
        if contact.archived_at is not None:
            message = f"contact {match} is archived; restore it first"
            return RowStatus.rejected, None, [{"field": by, "message": message}]
        fields, errors = self._changes(contact, data)
        if errors:
            return RowStatus.rejected, None, errors
        self.taken_by[match] = index
        if not fields:
            return RowStatus.unchanged, match, []
        try:
            change = ContactUpdate.model_validate(fields)
        except ValidationError as exc:
            return RowStatus.rejected, None, validation_errors(exc.errors())
        known.remember(match, {**known.states[match], **matching.state_from(data)})
        self.updates.append((contact, change))
        return RowStatus.updated, match, []

    def _changes(self, contact: Contact, data: ContactCreate) -> tuple[dict[str, Any], Errors]:
        """The ContactUpdate fields the item sets on `contact`, or why it cannot."""
        errors: Errors = []
        refs = {**contact.external_refs}
        for system, external_id in data.external_refs.items():
            if refs.setdefault(system, external_id) != external_id:
                message = f"contact {contact.id} already has {system}:{refs[system]}"
                errors.append({"field": f"external_refs.{system}", "message": message})
        added = {r: e for r, e in refs.items() if r not in contact.external_refs}
        for message in self.known.taken_refs(contact.id, added):
            errors.append({"field": "external_refs", "message": message})
        had = channel_keys(contact.channels)
        for kind, value in matching.lookup_keys(data) - had:
            holders = self.known.keys.get((kind, value), set()) - {contact.id}
            if kind == EMAIL and holders:  # an address added that another contact has
                holder = min(holders)
                other = "another item of this batch" if holder.startswith("new:") else holder
                errors.append({"field": "channels", "message": f"{value} belongs to {other}"})
        if errors:
            return {}, errors
        wanted, dumped = data.model_dump(), data.model_dump(mode="json")
        wanted["external_refs"] = dumped["external_refs"] = refs
        sent = data.model_fields_set | {"external_refs"}
        return {n: dumped[n] for n in sent if getattr(contact, n) != wanted[n]}, []


async def upsert_contacts(
    session: AsyncSession, *, owner_id: str, items: Sequence[Any]
) -> BatchResults:
    """Each item created, updated, left unchanged or rejected, in the order given. The
    contacts any item may be are looked up (and locked) in a few statements for the whole
    batch; then the new ones are created in one batch and each changed one updated once."""
    validated = _validated(items)
    valid = [(None, data) for data in validated if isinstance(data, ContactCreate)]
    known, loaded = await load_known(session, owner_id, valid, lock=True, by_name=False)
    batch = _Batch(known, loaded)
    decided = [
        batch.decide(index, data)
        if isinstance(data, ContactCreate)
        else (RowStatus.rejected, None, data)
        for index, data in enumerate(validated)
    ]
    created = await write(session, owner_id, [data for _, data in batch.new], batch.updates)
    ids = {key: contact.id for (key, _), contact in zip(batch.new, created, strict=True)}
    return BatchResults(
        results=[
            BatchResult(
                index=index,
                status=status,
                id=ids.get(key, key) if key else None,
                errors=bounded_field_errors(errors),  # type: ignore[arg-type]
            )
            for index, (status, key, errors) in enumerate(decided)
        ]
    )
