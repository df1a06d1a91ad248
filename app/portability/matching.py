"""Which contact a record is, and what importing it would change: pure, no database.

A record is matched, in this order, by our own contact id (a vCard exported here), by an
external reference (the LinkedIn profile URL, a vCard UID), by an email address, by a phone
number, and, for a record that has none of these, by its exact name. Merging never removes
anything: fields the record has a value for replace the contact's; channels, tags, needs, offers
and external references are added to; notes are only filled in when the contact has none.
"""

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from app.contacts.identifiers import channel_keys
from app.contacts.models import Contact, fold_phrase
from app.contacts.schemas import ContactCreate
from app.portability.drafts import Draft, channel_key

# What an import may change on a contact; never its trust stage, cadence or consent.
MERGED = (
    "display_name",
    "given_name",
    "family_name",
    "organization",
    "title",
    "timezone",
    "notes",
    "tags",
    "needs",
    "offers",
    "channels",
    "external_refs",
    "connected_at",
)
_REPLACED = ("display_name", "given_name", "family_name", "organization", "title", "timezone")
_REPLACED += ("connected_at",)
# A contact's timestamps as a record's dumped fields hold them, so the two compare.
_TIMESTAMP = TypeAdapter(datetime | None)


class Ambiguous(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


def state_of(contact: Contact) -> dict[str, Any]:
    state = {name: copy.deepcopy(getattr(contact, name)) for name in MERGED}
    state["connected_at"] = _TIMESTAMP.dump_python(state["connected_at"], mode="json")
    return state


def state_from(data: ContactCreate) -> dict[str, Any]:
    dumped = data.model_dump(mode="json")
    return {name: dumped[name] for name in MERGED}


def changes(
    state: dict[str, Any], data: ContactCreate, *, stand_in_name: bool = False
) -> dict[str, Any]:
    """The ContactUpdate fields that importing `data` into a contact now at `state` sets;
    a `stand_in_name` (the record had no name, only an email or organisation) is not one."""
    given = data.model_fields_set - ({"display_name"} if stand_in_name else set())
    dumped = data.model_dump(mode="json")
    out: dict[str, Any] = {}
    for name in _REPLACED:
        if name in given and dumped[name] is not None and dumped[name] != state[name]:
            out[name] = dumped[name]
    if "notes" in given and dumped["notes"] and not state["notes"]:
        out["notes"] = dumped["notes"]
    have = {channel_key(c) for c in state["channels"]}
    added = []
    for channel in dumped["channels"]:
        key = channel_key(channel)
        if key not in have:
            have.add(key)
            added.append(channel)
    if added:
        out["channels"] = [*state["channels"], *added]
    tags = [t for t in dumped["tags"] if t not in state["tags"]]
    if tags:
        out["tags"] = [*state["tags"], *tags]
    for name in ("needs", "offers"):
        # A phrase the contact has in another case or spacing is the same need or offer.
        have_phrases = {fold_phrase(p) for p in state[name]}
        phrases = []
        for phrase in dumped[name]:
            if fold_phrase(phrase) not in have_phrases:
                have_phrases.add(fold_phrase(phrase))
                phrases.append(phrase)
        if phrases:
            out[name] = [*state[name], *phrases]
    refs = {s: e for s, e in dumped["external_refs"].items() if s not in state["external_refs"]}
    if refs:
        out["external_refs"] = {**state["external_refs"], **refs}
    return out


def lookup_keys(data: ContactCreate) -> set[tuple[str, str]]:
    return channel_keys(c.model_dump(mode="json") for c in data.channels)


@dataclass
class Known:
    """What the import knows of the owner's contacts that its records may be, kept current
    as records are imported, so that a person twice in one file is created once."""

    ids: set[str] = field(default_factory=set)
    refs: dict[tuple[str, str], str] = field(default_factory=dict)
    keys: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    names: dict[str, set[str]] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The id of ours that a new record of this file carried (a vCard exported here, read
    # into another owner): records with different ones were different contacts where they
    # came from, so a shared email, phone number or name must not merge them.
    sources: dict[str, str] = field(default_factory=dict)

    def match(
        self,
        draft: Draft,
        data: ContactCreate,
        *,
        kinds: tuple[str, ...] = ("email", "phone"),
        by_name: bool = True,
    ) -> str | None:
        """The contact this record is, or None for a new one; raises Ambiguous. A batch of
        the API matches by email only (`kinds`) and never by name."""
        if draft.contact_id and draft.contact_id in self.ids:
            return draft.contact_id
        by_ref = {self.refs[r] for r in data.external_refs.items() if r in self.refs}
        if by_ref:
            return self._one(by_ref, "external_refs", "its external references")
        keys = lookup_keys(data)
        for kind in kinds:
            found: set[str] = set()
            for key in keys:
                if key[0] == kind:
                    found |= self.keys.get(key, set())
            found = self._same_source(found, draft)
            if found:
                return self._one(found, kind, f"its {kind} channels")
        if by_name and not keys and not data.external_refs:
            found = self._same_source(self.names.get(data.display_name, set()), draft)
            if found:
                return self._one(found, "display_name", "its name")
        return None

    def _same_source(self, found: set[str], draft: Draft) -> set[str]:
        if not draft.contact_id:
            return found
        return {c for c in found if self.sources.get(c, draft.contact_id) == draft.contact_id}

    @staticmethod
    def _one(found: set[str], where: str, what: str) -> str:
        if len(found) > 1:
            ids = ", ".join(sorted(i for i in found if not i.startswith("new:")))
            raise Ambiguous(
                where,
                f"{what} match several contacts ({ids or 'new ones in this file'}); "
                "merge them, or give the record an external reference",
            )
        return next(iter(found))

    def taken_refs(self, contact: str, refs: dict[str, str]) -> list[str]:
        """References the record would add that another contact already holds."""
        taken = []
        for ref, holder in ((r, self.refs.get(r, contact)) for r in refs.items()):
            if holder != contact:
                other = "another record of this file" if holder.startswith("new:") else holder
                taken.append(f"{ref[0]}:{ref[1]} already belongs to {other}")
        return taken

    def remember(self, contact: str, state: dict[str, Any]) -> None:
        old = self.states.get(contact)
        if old is not None and old["display_name"] != state["display_name"]:
            self.names.get(old["display_name"], set()).discard(contact)
        self.states[contact] = state
        self.names.setdefault(state["display_name"], set()).add(contact)
        for ref in state["external_refs"].items():
            self.refs[ref] = contact
        for key in channel_keys(state["channels"]):
            self.keys.setdefault(key, set()).add(contact)
