"""Contacts as vCard 3.0 (RFC 2426).

3.0 rather than 4.0: it is the version that Google Contacts, Outlook and Apple Contacts all
import (Outlook and older phones do not read 4.0), and 4.0 adds nothing a contact here needs.
The cards carry our id and external references as X- properties, so a file exported here and
imported again matches the same contacts and changes nothing.

Written by hand rather than through vobject: serialising 100,000 cards with vobject costs
tens of seconds, and the format is a few escaping and folding rules.
"""

from app.contacts.models import Contact

_FOLD = 75  # octets per line, CRLF excluded (RFC 2426 section 2.6)


def escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "\\n")
        .replace(",", "\\,")
        .replace(";", "\\;")
    )


def _uri(text: str) -> str:
    # A URI has no commas or semicolons to escape, but must stay on one logical line.
    return text.replace("\r", "").replace("\n", "")


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
        f"UID:{escape(contact.id)}",
        f"X-GOODWILL-ID:{escape(contact.id)}",
        f"FN:{escape(contact.display_name)}",
        f"N:{escape(contact.family_name or '')};{escape(contact.given_name or '')};;;",
    ]
    if contact.organization:
        lines.append(f"ORG:{escape(contact.organization)}")
    if contact.title:
        lines.append(f"TITLE:{escape(contact.title)}")
    if contact.timezone:
        lines.append(f"TZ;VALUE=text:{escape(contact.timezone)}")
    for channel in contact.channels:
        kind, value = channel["type"], channel["value"]
        if kind == "email":
            lines.append(f"EMAIL;TYPE=INTERNET:{escape(value)}")
        elif kind == "phone":
            lines.append(f"TEL;TYPE=VOICE:{escape(value)}")
        elif kind == "website":
            lines.append(f"URL:{_uri(value)}")
        elif kind == "linkedin":
            # URL for Google and Outlook, X-SOCIALPROFILE for Apple; read back as one channel.
            lines.append(f"URL;TYPE=linkedin:{_uri(value)}")
            lines.append(f"X-SOCIALPROFILE;TYPE=linkedin:{_uri(value)}")
        elif kind == "twitter":
            lines.append(f"X-SOCIALPROFILE;TYPE=twitter:{_uri(value)}")
        else:
            lines.append(f"X-GOODWILL-CHANNEL;TYPE={kind}:{escape(value)}")
    if contact.tags:
        lines.append("CATEGORIES:" + ",".join(escape(tag) for tag in contact.tags))
    for system, external_id in sorted(contact.external_refs.items()):
        lines.append(f"X-GOODWILL-REF:{escape(system)}:{escape(external_id)}")
    if contact.notes:
        lines.append(f"NOTE:{escape(contact.notes)}")
    lines.append(f"REV:{contact.updated_at.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    lines.append("END:VCARD")
    return "".join(fold(line) for line in lines)
