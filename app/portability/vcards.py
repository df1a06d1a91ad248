"""vCard files (2.1, 3.0 and 4.0; several cards per file) read with vobject.

The file is cut into cards here and each card is parsed on its own: one unreadable card is
then one rejected row, not a failed file, and vobject's cost stays linear (it slows down
sharply on one very large string).
"""

import base64
import re
from collections.abc import Iterator
from typing import Any

import vobject
from vobject.base import VObjectError
from vobject.icalendar import stringToTextValues
from vobject.vcard import splitFields

from app.contacts.schemas import ChannelType
from app.portability.drafts import LINKEDIN, Draft, linkedin_url

_BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)
# A vCard line ends in CRLF (RFC 6350 section 3.2), leniently in CR or LF alone: the other
# breaks str.splitlines knows (U+2028, NEL, VT, FF, ...) are text inside a value.
_LINE_END = re.compile(r"\r\n|\r|\n")
# vobject's pattern for a content line backtracks exponentially on a line it cannot match
# (`X-A;a=;a=;...` without a colon: 16 s at 76 characters, twice that for each one more).
# Each line is checked first against the same grammar, written so that it cannot backtrack.
_NAME = r"[A-Za-z0-9_-]++"
_PROPERTY = re.compile(rf'(?:{_NAME}\.)?+{_NAME};?(?:;{_NAME}(?:[=,](?:"[^"]*+"|[^";:,=]*+))*+)*+:')
# Our own export's extensions, so that a file exported here comes back as the same contacts.
X_ID = "x-goodwill-id"
X_REF = "x-goodwill-ref"
X_CHANNEL = "x-goodwill-channel"
X_CONNECTED = "x-goodwill-connected-at"
X_PHRASES = {"needs": "x-goodwill-need", "offers": "x-goodwill-offer"}
_SOCIAL = ("x-socialprofile", "socialprofile")
_CHANNEL_PROPERTIES = ("email", "tel", "url", X_CHANNEL, *_SOCIAL)
_OUR_CHANNELS = {t.value for t in ChannelType}
# Google's own groups, not the owner's labels.
_SYSTEM_GROUPS = {"mycontacts", "starred"}


def looks_like_vcard(text: str) -> bool:
    return bool(_BEGIN.match(text.lstrip().split("\n", 1)[0].strip()))


def _join_quoted_printable(lines: list[str]) -> list[str]:
    """vCard 2.1 quoted-printable values continue on the next line after a trailing `=`
    (a soft line break), which vobject does not follow; join such lines first, in pieces
    (a value of thousands of lines must not be copied once per line)."""
    out: list[list[str]] = []
    quoted = False  # out[-1] is a property whose parameters say QUOTED-PRINTABLE
    for line in lines:
        if quoted and out[-1][-1].endswith("="):
            out[-1][-1] = out[-1][-1][:-1]
            out[-1].append(line.lstrip(" \t"))
        else:
            out.append([line])
            # Only a property's own parameters can say QUOTED-PRINTABLE; a folded line
            # (leading space or tab) is the middle of some value, which may say anything.
            head = line.split(":", 1)[0].upper()
            quoted = line[:1] not in (" ", "\t") and "QUOTED-PRINTABLE" in head
    return ["".join(pieces) for pieces in out]


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


def _in_base64(line: Any) -> bool:
    encodings = {str(e).lower() for e in line.params.get("ENCODING", [])}
    singletons = {str(p).lower() for p in getattr(line, "singletonparams", [])}
    return bool({"b", "base64"} & (encodings | singletons))


def _value(line: Any) -> str:
    """A single-valued property's text, exactly: vobject has unescaped it, and turned a
    base64 value (ENCODING=b) into bytes."""
    value = line.value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _encoded(line: Any) -> str:
    """The still-escaped text of N or ORG, which vobject leaves alone when it does not
    transform the card (its transform would split a base64 value as if it were text)."""
    raw = str(line.value)
    return base64.b64decode(raw).decode("utf-8", errors="replace") if _in_base64(line) else raw


def _components(line: Any) -> list[str]:
    """N's or ORG's components, unescaped; a component of several values joined by commas."""
    return [v if isinstance(v, str) else ", ".join(v) for v in splitFields(_encoded(line))]


def _values(line: Any) -> list[str]:
    """CATEGORIES' values: vobject splits them, but not after taking them out of base64."""
    if _in_base64(line):
        raw = base64.b64decode("".join(map(str, line.value))).decode("utf-8", errors="replace")
        return stringToTextValues(raw)
    return [str(v) for v in line.value] if isinstance(line.value, list) else [_value(line)]


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
        text = _value(line).strip()
        if text:
            return text
    return ""


def _unreadable_line(text: str) -> int | None:
    """The number of the first (unfolded) line of a card that is no property, if any."""
    lines: list[list[str]] = []
    for line in _LINE_END.split(text):
        if line[:1] in (" ", "\t") and lines:
            lines[-1].append(line[1:])
        else:
            lines.append([line])
    for number, parts in enumerate(lines, 1):
        line = "".join(parts)
        if line.strip() and not _PROPERTY.match(line):
            return number
    return None


def draft(row: int, text: str, region: str | None) -> Draft:
    result = Draft(row=row, region=region)
    broken = _unreadable_line(text)
    if broken is not None:
        result.reject("vcard", f"unreadable card: its line {broken} is not NAME;PARAM=value:value")
        return result
    try:
        card = vobject.readOne(text, transform=False)
        ours = _first(card, X_ID)
        if ours:
            _read_ours(result, card, ours)
        else:
            _read_theirs(result, card)
    except Exception as exc:  # vobject raises a variety of errors for a malformed card
        reason = str(exc) if isinstance(exc, ValueError | VObjectError) else "malformed"
        result.reject("vcard", f"unreadable card: {reason[:200]}")
        return result
    if not result.has("display_name"):
        result.reject("FN", "the card has no name (FN or N), organisation or email")
    return result


def _read_ours(result: Draft, card: Any, contact_id: str) -> None:
    """A card this service exported holds what the API stored, so it is read back exactly:
    nothing trimmed, re-formatted, re-typed, dropped or merged, channels in the card's order."""
    result.contact_id = contact_id
    for name, field in (("fn", "display_name"), ("title", "title"), ("tz", "timezone")):
        for line in _lines(card, name)[:1]:
            result.keep(field, _value(line))
    for line in _lines(card, "n")[:1]:
        family, given = [*_components(line), "", ""][:2]
        result.keep("family_name", family)
        result.keep("given_name", given)
    for line in _lines(card, "org")[:1]:
        result.keep("organization", _components(line)[0])
    result.keep("notes", "\n".join(_value(line) for line in _lines(card, "note")))
    for kind, value in _our_channels(card):
        result.keep_channel(kind, value)
    for line in _lines(card, "categories"):
        result.keep_tags(_values(line))
    for line in _lines(card, X_REF):
        system, sep, external_id = _value(line).partition(":")
        if sep:
            result.add_ref(system, external_id)
    for line in _lines(card, X_CONNECTED)[:1]:
        result.keep("connected_at", _value(line))
    _phrases(result, card)


def _phrases(result: Draft, card: Any) -> None:
    """Needs and offers, one property a phrase, in the card's order."""
    for field, name in X_PHRASES.items():
        for line in _lines(card, name):
            result.keep_item(field, _value(line))


def _our_channels(card: Any) -> Iterator[tuple[str, str]]:
    """(type, value) of each channel of a card exported here, in the order it wrote them."""
    lines = [line for name in _CHANNEL_PROPERTIES for line in _lines(card, name)]
    for line in sorted(lines, key=lambda line: line.lineNumber or 0):
        name, types = line.name.lower(), _types(line)
        if name == "email":
            kind = "email"
        elif name == "tel":
            kind = "phone"
        elif name == "url":
            kind = LINKEDIN if LINKEDIN in types else "website"
        elif name == X_CHANNEL:
            kind = next(iter(types & _OUR_CHANNELS), "other")
        elif LINKEDIN in types:
            continue  # the twin of URL;TYPE=linkedin, written for Apple
        else:
            kind = "twitter" if "twitter" in types else "other"
        yield kind, _value(line)


def _read_theirs(result: Draft, card: Any) -> None:
    """Another address book's card: lenient, and matched the way people write them."""
    for line in _lines(card, "n")[:1]:
        family, given = [*_components(line), "", ""][:2]
        result.set("given_name", given)
        result.set("family_name", family)
    for line in _lines(card, "org")[:1]:
        result.set("organization", _components(line)[0])
    result.set("title", _first(card, "title"))
    result.set("notes", "\n".join(_value(line).strip() for line in _lines(card, "note")))
    timezone = _first(card, "tz")
    if "/" in timezone:  # an IANA name; UTC offsets say too little to keep
        result.set("timezone", timezone)
    for line in _lines(card, "email"):
        result.add_email(_value(line), "EMAIL")
    for line in _lines(card, "tel"):
        result.add_phone(_value(line), "TEL")
    for line in _lines(card, "url"):
        result.add_url(_value(line), "URL")
    for name in _SOCIAL:
        for line in _lines(card, name):
            _social(result, line)
    for line in _lines(card, X_CHANNEL):
        kinds = _types(line) & _OUR_CHANNELS
        result.add_channel(kinds.pop() if kinds else "other", _value(line))
    for line in _lines(card, "categories"):
        values = _values(line)
        result.add_tags([v for v in values if v.strip().lower() not in _SYSTEM_GROUPS])
    for line in _lines(card, X_REF):
        system, sep, external_id = _value(line).partition(":")
        if sep:
            result.add_ref(system, external_id)
    _phrases(result, card)
    uid = _first(card, "uid")
    if uid:
        result.add_ref("vcard", uid)
    full = " ".join(
        p for p in (result.fields.get("given_name"), result.fields.get("family_name")) if p
    )
    result.name_from(_first(card, "fn"), full, _first(card, "nickname"))
    result.name_from(result.fields.get("organization"), result.first_email(), stand_in=True)


def _social(result: Draft, line: Any) -> None:
    # Lenient: address books write handles and app links here too (`x-apple:jappleseed`).
    value = _value(line).strip()
    kinds = _types(line)
    if linkedin_url(value) is not None:
        result.add_linkedin(value, "X-SOCIALPROFILE")
    elif kinds & {"twitter", "x"}:
        result.add_channel("twitter", value)
    else:
        result.add_channel(LINKEDIN if LINKEDIN in kinds else "other", value)
