"""A contact as read from one record of an import file, before it meets the database.

Every parser turns a record into a `Draft`: the fields of a `ContactCreate` that the record
has a value for (an empty cell is no value, never a request to clear), plus the problems
found on the way, named by the file's own column or property so that a person can find them.
A bad value (an email that is none, a phone number without its country) is left out with
a warning and the rest of the person imported; only a record with no usable name, or one
that cannot be read at all, is `reject`ed.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from app.contacts.identifiers import EMAIL, PHONE, email_key, parse_phone

LINKEDIN = "linkedin"
_DATE_FORMATS = ("%d %b %Y", "%d %B %Y", "%Y-%m-%d", "%m/%d/%Y")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def linkedin_url(value: str) -> str | None:
    """The canonical form of a LinkedIn profile URL (https, www, no query, no trailing
    slash, lower case: profile slugs are case-insensitive), or None for any other URL."""
    text = value.strip()
    if not _SCHEME.match(text):
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return None
    path = parts.path.rstrip("/")
    if not path:
        return None
    return f"https://www.linkedin.com{path.lower()}"


def channel_key(channel: dict[str, Any]) -> tuple[str, str]:
    """What makes two channels the same: emails by address, phones by E.164 number,
    LinkedIn profiles by canonical URL, anything else by its text, case-insensitively."""
    kind, value = channel["type"], channel["value"]
    if kind == EMAIL:
        return kind, email_key(value)
    if kind == PHONE:
        return kind, parse_phone(value) or value.strip().lower()
    if kind == LINKEDIN:
        return kind, linkedin_url(value) or value.strip().lower()
    return kind, value.strip().lower()


def _clean(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


@dataclass
class Draft:
    row: int
    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    # A contact id of ours, from a vCard this service exported (X-GOODWILL-ID).
    contact_id: str | None = None
    region: str | None = None
    stand_in_name: bool = False
    # Nothing of the record can be imported: it has no name, or cannot be read.
    rejected: bool = False

    def error(self, where: str, message: str) -> None:
        """A value left out: the record is imported without it."""
        self.errors.append({"field": where, "message": message})

    def reject(self, where: str, message: str) -> None:
        self.rejected = True
        self.error(where, message)

    def set(self, name: str, value: Any) -> None:
        text = _clean(value)
        if text:
            self.fields[name] = text

    def keep(self, name: str, value: str) -> None:
        """A value from a card exported here, which holds what the API stored: kept as it
        is; only an empty one is no value."""
        if value:
            self.fields[name] = value

    def keep_channel(self, kind: str, value: str) -> None:
        if value:
            channel = {"type": kind, "value": value, "permitted_uses": []}
            self.fields.setdefault("channels", []).append(channel)

    def keep_item(self, name: str, value: str) -> None:
        """One more item of a list field (a need, an offer); an empty one is no value."""
        if value:
            self.fields.setdefault(name, []).append(value)

    def keep_tags(self, tags: list[str]) -> None:
        self.fields.setdefault("tags", []).extend(tag for tag in tags if tag)

    def has(self, name: str) -> bool:
        return bool(self.fields.get(name))

    def _add_channel(self, kind: str, value: str) -> None:
        channels = self.fields.setdefault("channels", [])
        channel = {"type": kind, "value": value, "permitted_uses": []}
        if channel_key(channel) not in {channel_key(c) for c in channels}:
            channels.append(channel)

    def add_email(self, value: Any, where: str) -> None:
        text = _clean(value)
        if not text:
            return
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            self.error(where, f"not a valid email address: {exc}")
            return
        self._add_channel(EMAIL, checked.normalized)

    def add_phone(self, value: Any, where: str) -> None:
        text = _clean(value)
        if not text:
            return
        number = parse_phone(text, self.region)
        if number is None:
            hint = (
                f"for region {self.region.upper()}"
                if self.region
                else "; write it with its country code (+44 20 7946 0000) or pass region=GB"
            )
            self.error(where, f"not a valid phone number {hint}".replace(" ;", ";"))
            return
        self._add_channel(PHONE, number)

    def add_linkedin(self, value: Any, where: str, *, as_ref: bool = True) -> None:
        text = _clean(value)
        if not text:
            return
        url = linkedin_url(text)
        if url is None:
            self.error(where, "not a LinkedIn profile URL")
            return
        self._add_channel(LINKEDIN, url)
        if as_ref:
            self.fields.setdefault("external_refs", {}).setdefault(LINKEDIN, url)

    def add_url(self, value: Any, where: str, *, as_ref: bool = True) -> None:
        """A web address: a LinkedIn profile, or a website."""
        text = _clean(value)
        if not text:
            return
        if linkedin_url(text) is not None:
            self.add_linkedin(text, where, as_ref=as_ref)
        else:
            self._add_channel("website", text)

    def add_date(self, name: str, value: Any, where: str) -> None:
        """A calendar day, as an instant at its start in UTC: `12 Mar 2021` (LinkedIn's
        "Connected On"), `12 March 2021`, `2021-03-12`, or `03/12/2021` (month first, as
        LinkedIn's older exports wrote it)."""
        text = _clean(value)
        if not text:
            return
        for pattern in _DATE_FORMATS:
            try:
                day = datetime.strptime(text, pattern)
            except ValueError:
                continue
            self.fields[name] = day.replace(tzinfo=UTC)
            return
        self.error(where, "not a date such as 12 Mar 2021")

    def add_channel(self, kind: str, value: Any) -> None:
        text = _clean(value)
        if text:
            self._add_channel(kind, text)

    def add_tags(self, tags: list[str]) -> None:
        current = self.fields.setdefault("tags", [])
        for tag in tags:
            tag = tag.strip()
            if tag and tag not in current:
                current.append(tag)
        if not current:
            del self.fields["tags"]

    def add_ref(self, system: str, external_id: str) -> None:
        system, external_id = system.strip(), external_id.strip()
        if system and external_id:
            self.fields.setdefault("external_refs", {}).setdefault(system, external_id)

    def first_email(self) -> str | None:
        for channel in self.fields.get("channels", []):
            if channel["type"] == EMAIL:
                return channel["value"]
        return None

    def name_from(self, *parts: Any, stand_in: bool = False) -> None:
        """display_name from the first non-empty candidate, unless one is set already.
        A `stand_in` (an organisation, an email) names a new contact but never renames one."""
        if self.has("display_name"):
            return
        for part in parts:
            text = _clean(part)
            if text:
                self.fields["display_name"] = text
                self.stand_in_name = stand_in
                return
