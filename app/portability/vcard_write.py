"""Contacts as vCard 3.0 (RFC 2426).

3.0 rather than 4.0: it is the version that Google Contacts, Outlook and Apple Contacts all
import (Outlook and older phones do not read 4.0), and 4.0 adds nothing a contact here needs.
The cards carry our id, external references, needs, offers and when the owner and the contact
connected as X- properties, so a file exported here and imported again matches the same
contacts and changes nothing.

Written by hand rather than through vobject: serialising 100,000 cards with vobject costs
tens of seconds, and the format is a few escaping and folding rules.
"""

import base64
import re

from app.contacts.models import Contact

_FOLD = 75  # octets per line, CRLF excluded (RFC 2426 section 2.6)
# What no escape can write in a text value: the control characters (RFC 2426 SAFE-CHAR and
# RFC 6350 VALUE-CHAR allow only tab among them) and CR, which `\n` would turn into LF. A
# value holding one travels in base64 (ENCODING=b, RFC 2426 section 5). Other line breaks
# (NEL, U+2028, U+2029) are ordinary non-ASCII text; only CR and LF end a line.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def text_line(name: str, value: str) -> str:
    """A property with one text value: escaped, or the value itself in base64."""
    if _UNWRITABLE.search(value):
        return f"{name};ENCODING=b:{_base64(value)}"
    return f"{name}:{escape(value)}"


def list_line(name: str, values: list[str], separator: str) -> str:
    """A property of several values (N's and ORG's components, CATEGORIES): each escaped and
    joined, the whole in base64 when one of them cannot be written."""
    value = separator.join(escape(v) for v in values)
    if _UNWRITABLE.search(value):
        return f"{name};ENCODING=b:{_base64(value)}"
    return f"{name}:{value}"


def fold(line: str) -> str:
    """Lines longer than 75 octets go on over continuation lines that start with a space,
    never splitting a UTF-8 character."""
    data = line.encode()
    if len(data) <= _FOLD:
        return line + "\r\n"
    parts, start, limit = [], 0, _FOLD
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a character
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, _FOLD - 1  # the leading space counts
    return "\r\n ".join(parts) + "\r\n"


def card(contact: Contact) -> str:
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "PRODID:-//Goodwill//Export//EN",
        text_line("UID", contact.id),
        text_line("X-GOODWILL-ID", contact.id),
        text_line("FN", contact.display_name),
        list_line("N", [contact.family_name or "", contact.given_name or "", "", "", ""], ";"),
    ]
    if contact.organization:
        lines.append(list_line("ORG", [contact.organization], ";"))
    if contact.title:
        lines.append(text_line("TITLE", contact.title))
    if contact.timezone:
        lines.append(text_line("TZ;VALUE=text", contact.timezone))
    for channel in contact.channels:
        kind, value = channel["type"], channel["value"]
        # Every value is escaped as text, URLs too: readers (vobject among them) unescape
        # them, and an unescaped comma would end the value there.
        if kind == "email":
            lines.append(text_line("EMAIL;TYPE=INTERNET", value))
        elif kind == "phone":
            lines.append(text_line("TEL;TYPE=VOICE", value))
        elif kind == "website":
            lines.append(text_line("URL", value))
        elif kind == "linkedin":
            # URL for Google and Outlook, X-SOCIALPROFILE for Apple; read back as one channel.
            lines.append(text_line("URL;TYPE=linkedin", value))
            lines.append(text_line("X-SOCIALPROFILE;TYPE=linkedin", value))
        elif kind == "twitter":
            lines.append(text_line("X-SOCIALPROFILE;TYPE=twitter", value))
        else:
            lines.append(text_line(f"X-GOODWILL-CHANNEL;TYPE={kind}", value))
    if contact.tags:
        lines.append(list_line("CATEGORIES", contact.tags, ","))
    # One property a phrase, in the contact's order: a phrase may hold any character.
    lines += [text_line("X-GOODWILL-NEED", phrase) for phrase in contact.needs]
    lines += [text_line("X-GOODWILL-OFFER", phrase) for phrase in contact.offers]
    for system, external_id in sorted(contact.external_refs.items()):
        lines.append(text_line("X-GOODWILL-REF", f"{system}:{external_id}"))
    if contact.notes:
        lines.append(text_line("NOTE", contact.notes))
    if contact.connected_at:
        connected = contact.connected_at.isoformat().replace("+00:00", "Z")
        lines.append(text_line("X-GOODWILL-CONNECTED-AT", connected))
    lines.append(f"REV:{contact.updated_at.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    lines.append("END:VCARD")
    return "".join(fold(line) for line in lines)
