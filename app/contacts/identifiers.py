"""Normalised emails and phone numbers: the keys an import matches people by.

Kept apart from the schemas because both the contacts service (which indexes them in
`contact_identifier`) and the importers (which look them up) need exactly the same rules.
"""

from collections.abc import Iterable
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

EMAIL = "email"
PHONE = "phone"


def email_key(value: str) -> str:
    """Email addresses compare case-insensitively in practice (RFC 5321 leaves the local part
    to the server, and every major provider ignores its case)."""
    return value.strip().lower()


def parse_phone(value: str, region: str | None = None) -> str | None:
    """E.164 (`+442079460000`) for a valid number, else None. A number without a country
    code is read as one of `region` (ISO 3166 alpha-2) when given."""
    text = value.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    if not text or len(text) > 64:
        return None
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def channel_keys(channels: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """(kind, key) for every email and every phone number that parses with a country code."""
    keys: set[tuple[str, str]] = set()
    for channel in channels:
        value = channel.get("value") or ""
        if channel.get("type") == EMAIL:
            keys.add((EMAIL, email_key(value)))
        elif channel.get("type") == PHONE:
            phone = parse_phone(value)
            if phone is not None:
                keys.add((PHONE, phone))
    return keys
