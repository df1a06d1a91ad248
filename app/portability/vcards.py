"""vCard files (2.1, 3.0 and 4.0; several cards per file) read with vobject.

The file is cut into cards here and each card is parsed on its own: one unreadable card is
then one rejected row, not a failed file, and vobject's cost stays linear (it slows down
sharply on one very large string).
"""

import re
from collections.abc import Iterator
from typing import Any

import vobject

from app.contacts.schemas import ChannelType
from app.portability.drafts import LINKEDIN, Draft, linkedin_url

_BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)
# A vCard line ends in CRLF (RFC 6350 section 3.2), leniently in CR or LF alone: the other
# breaks str.splitlines knows (U+2028, NEL, VT, FF, ...) are text inside a value.
_LINE_END = re.compile(r"\r\n|\r|\n")
# Our own export's extensions, so that a file exported here comes back as the same contacts.
X_ID = "x-goodwill-id"
X_REF = "x-goodwill-ref"
X_CHANNEL = "x-goodwill-channel"
_SOCIAL = ("x-socialprofile", "socialprofile")
_OUR_CHANNELS = {t.value for t in ChannelType}
# Google's own groups, not the owner's labels.
_SYSTEM_GROUPS = {"mycontacts", "starred"}


def looks_like_vcard(text: str) -> bool:
    return bool(_BEGIN.match(text.lstrip().split("\n", 1)[0].strip()))


def _join_quoted_printable(lines: list[str]) -> list[str]:
    """vCard 2.1 quoted-printable values continue on the next line after a trailing `=`
    (a soft line break), which vobject does not follow; join such lines first."""
    out: list[str] = []
    for line in lines:
        previous = out[-1] if out else ""
        # Only a property's own parameters can say QUOTED-PRINTABLE; a folded line (leading
        # space or tab) is the middle of some value, which may say anything.
        head = "" if previous[:1] in (" ", "\t") else previous.split(":", 1)[0].upper()
        if previous.endswith("=") and "QUOTED-PRINTABLE" in head:
            out[-1] = previous[:-1] + line.lstrip(" \t")
        else:
            out.append(line)
    return out


def cards(text: str) -> Iterator[str]:
    """The text of each card, in order; anything between cards is ignored."""
    current: list[str] | None = None
    depth = 0
    for line in _LINE_END.split(text):
        if _BEGIN.match(line):
            depth += 1
            if current is None:
                current = []
        if current is not None:
            current.append(line)
        if _END.match(line) and current is not None:
            depth -= 1
            if depth == 0:
                yield "\r\n".join(_join_quoted_printable(current)) + "\r\n"
                current = None
    if current:
        yield "\r\n".join(_join_quoted_printable(current)) + "\r\n"


def split(text: str, size: int) -> Iterator[tuple[int, int, str]]:
    """Chunks of at most `size` cards: (cards before it, its cards, its text)."""
    done, batch = 0, []
    for card in cards(text):
        batch.append(card)
        if len(batch) >= size:
            yield done, len(batch), "".join(batch)
            done, batch = done + len(batch), []
    if batch:
        yield done, len(batch), "".join(batch)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v).strip() for v in value if str(v).strip())
    return str(value).strip() if value is not None else ""


def _types(line: Any) -> set[str]:
    found = {str(p).lower() for p in getattr(line, "singletonparams", [])}
    for name in ("TYPE", "SERVICE-TYPE"):
        for value in line.params.get(name, []):
            found.update(v.strip().strip('"').lower() for v in str(value).split(","))
    return found


def _lines(card: Any, name: str) -> list[Any]:
    return list(card.contents.get(name, []))


def _first(card: Any, name: str) -> str:
    for line in _lines(card, name):
        text = _text(line.value)
        if text:
            return text
    return ""


def draft(row: int, text: str, region: str | None) -> Draft:
    result = Draft(row=row, region=region)
    try:
        card = vobject.readOne(text)
    except Exception as exc:  # vobject raises a variety of errors for a malformed card
        result.error("vcard", f"unreadable card: {str(exc)[:200]}")
        return result
    ours = _first(card, X_ID)
    result.contact_id = ours or None
    for line in _lines(card, "n"):
        name = line.value
        result.set("given_name", _text(getattr(name, "given", "")))
        result.set("family_name", _text(getattr(name, "family", "")))
        break
    for line in _lines(card, "org"):
        parts = line.value if isinstance(line.value, list) else [line.value]
        result.set("organization", _text(parts[0]) if parts else "")
        break
    result.set("title", _first(card, "title"))
    result.set("notes", "\n".join(_text(line.value) for line in _lines(card, "note")))
    timezone = _first(card, "tz")
    if "/" in timezone:  # an IANA name; UTC offsets say too little to keep
        result.set("timezone", timezone)
    for line in _lines(card, "email"):
        result.add_email(line.value, "EMAIL")
    for line in _lines(card, "tel"):
        result.add_phone(line.value, "TEL")
    # A LinkedIn URL on a card we exported is only a channel: its external refs travel in
    # X-GOODWILL-REF, and re-reading them must change nothing.
    for line in _lines(card, "url"):
        result.add_url(line.value, "URL", as_ref=not ours)
    for name in _SOCIAL:
        for line in _lines(card, name):
            _social(result, line, as_ref=not ours)
    for line in _lines(card, X_CHANNEL):
        kinds = _types(line) & _OUR_CHANNELS
        result.add_channel(kinds.pop() if kinds else "other", line.value)
    for line in _lines(card, "categories"):
        values = line.value if isinstance(line.value, list) else [line.value]
        result.add_tags([str(v) for v in values if str(v).strip().lower() not in _SYSTEM_GROUPS])
    for line in _lines(card, X_REF):
        system, sep, external_id = _text(line.value).partition(":")
        if sep:
            result.add_ref(system, external_id)
    uid = _first(card, "uid")
    if uid and not ours:
        result.add_ref("vcard", uid)
    full = " ".join(
        p for p in (result.fields.get("given_name"), result.fields.get("family_name")) if p
    )
    result.name_from(_first(card, "fn"), full, _first(card, "nickname"))
    result.name_from(result.fields.get("organization"), result.first_email(), stand_in=True)
    if not result.has("display_name"):
        result.error("FN", "the card has no name (FN or N), organisation or email")
    return result


def _social(result: Draft, line: Any, *, as_ref: bool) -> None:
    # Lenient: address books write handles and app links here too (`x-apple:jappleseed`).
    value = _text(line.value)
    kinds = _types(line)
    if linkedin_url(value) is not None:
        result.add_linkedin(value, "X-SOCIALPROFILE", as_ref=as_ref)
    elif kinds & {"twitter", "x"}:
        result.add_channel("twitter", value)
    else:
        result.add_channel(LINKEDIN if LINKEDIN in kinds else "other", value)
