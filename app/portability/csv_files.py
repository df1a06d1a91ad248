"""LinkedIn "Connections.csv" and Google Contacts CSV exports, read with the standard library.

LinkedIn's file opens with a few lines of notes before its header:

    Notes:
    "When exporting your connection data, you may notice that some of the email addresses ..."

    First Name,Last Name,URL,Email Address,Company,Position,Connected On

Google's header is its first line; its columns repeat per value (`E-mail 1 - Value`,
`E-mail 2 - Value`, ...), a cell may hold several values joined by ` ::: `, and `Labels`
holds the contact's groups (`* myContacts ::: Friends`). The header of Google's older export
(`Name,Given Name,Additional Name,Family Name,...,Group Membership,...`) is read too.
"""

import csv
import io
import re
from collections.abc import Iterator

from app.portability.drafts import Draft
from app.portability.schemas import ImportFormat

# How far down a LinkedIn header may be; its preamble is three lines today.
_MAX_PREAMBLE = 10
_MULTI = ":::"
_LINKEDIN = {"first name", "last name", "url"}
_LINKEDIN_ANY = {"connected on", "position", "email address"}
_GOOGLE_NAMES = {"first name", "given name", "name", "last name", "family name"}
_GOOGLE_ANY = {
    "labels",
    "group membership",
    "e-mail 1 - value",
    "phone 1 - value",
    "organization name",
    "organization 1 - name",
}


# A lone CR inside a record is text (a stray one in a cell of a LinkedIn or Google export),
# unless CR alone is how the file ends its lines. The csv module ends a record at any CR
# outside quotes, so such CRs are hidden from it behind a stand-in from the private use
# area, itself escaped so that the file's own text can never be mistaken for one.
_STAND_IN = "\ue000"
_HIDDEN = {"e": _STAND_IN, "r": "\r"}
_LONE_CR = re.compile("\r(?!\n)")
_FIRST_BREAK = re.compile("\r\n|\r|\n")
_UNHIDE = re.compile(_STAND_IN + "(.)", re.DOTALL)


class NotThisFormat(ValueError):
    pass


class MalformedCsv(NotThisFormat):
    """A record the csv module cannot read; nothing after it can be read either."""


def _norm(cell: str) -> str:
    return cell.strip().lstrip("\ufeff").strip().lower()


def _unhide(cell: str) -> str:
    return _UNHIDE.sub(lambda m: _HIDDEN.get(m.group(1), m.group(0)), cell)


def _records(text: str) -> Iterator[list[str]]:
    """The file's records; raises MalformedCsv, naming the line, at one it cannot read."""
    first_break = _FIRST_BREAK.search(text)
    hide = first_break is not None and first_break.group() != "\r" and "\r" in text
    if hide:
        text = _LONE_CR.sub(_STAND_IN + "r", text.replace(_STAND_IN, _STAND_IN + "e"))
    # newline="" lets the csv module see the line endings itself, so a quoted cell keeps its
    # newlines whether the file uses \n, \r\n or \r.
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MalformedCsv(f"line {line}: {_reason(exc)}") from None
        yield [_unhide(cell) for cell in record] if hide else record


def _reason(error: csv.Error) -> str:
    if "field limit" in str(error):
        limit = csv.field_size_limit()
        return f"a cell is longer than {limit:,} characters; is a quote left open?"
    return str(error)


def _is_linkedin_header(cells: set[str]) -> bool:
    return _LINKEDIN <= cells and bool(_LINKEDIN_ANY & cells)


def _is_google_header(cells: set[str]) -> bool:
    return bool(_GOOGLE_NAMES & cells) and bool(_GOOGLE_ANY & cells)


def sniff(text: str) -> ImportFormat | None:
    """Which CSV export this is, from its header; None when neither."""
    try:
        for index, record in enumerate(_records(text)):
            if index > _MAX_PREAMBLE:
                break
            cells = {_norm(c) for c in record}
            if _is_linkedin_header(cells):
                return ImportFormat.linkedin_csv
            if index == 0 and _is_google_header(cells):
                return ImportFormat.google_csv
    except MalformedCsv:
        return None
    return None


def _split_header(text: str, fmt: ImportFormat) -> tuple[list[str], Iterator[list[str]]]:
    """The header and an iterator over the records after it."""
    records = _records(text)
    for index, record in enumerate(records):
        if index > _MAX_PREAMBLE:
            break
        cells = {_norm(c) for c in record}
        if fmt == ImportFormat.linkedin_csv and _is_linkedin_header(cells):
            return record, records
        if fmt == ImportFormat.google_csv:
            if _is_google_header(cells):
                return record, records
            break
    expected = (
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On"
        if fmt == ImportFormat.linkedin_csv
        else "First Name,Middle Name,Last Name,...,E-mail 1 - Value,...,Labels"
    )
    raise NotThisFormat(f"No {fmt.value} header found; expected a header like {expected}.")


def rows(text: str, fmt: ImportFormat) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(row number, cells by lower-cased column name) for every data record, or (row, error)
    for a record the csv module cannot read, after which nothing more can be read."""
    header, records = _split_header(text, fmt)  # raises now, not at the first row
    names = [_norm(c) for c in header]

    def generate() -> Iterator[tuple[int, dict[str, str] | str]]:
        row = 0
        try:
            for record in records:
                row += 1
                if not any(cell.strip() for cell in record):
                    continue  # blank lines, such as the one LinkedIn leaves at the end
                yield row, dict(zip(names, record, strict=False))
        except MalformedCsv as exc:
            yield row + 1, f"{exc}; nothing after it can be read"

    return generate()


def split(text: str, fmt: ImportFormat, size: int) -> Iterator[tuple[int, int, str]]:
    """Chunks of at most `size` records, each a file of the same format on its own:
    (rows before it, its rows, its text). Used by `goodwill import` to send a long file in
    parts, so that its progress bar follows real work."""
    header, records = _split_header(text, fmt)  # raises now, not at the first chunk

    def chunk(batch: list[list[str]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(batch)
        return out.getvalue()

    def generate() -> Iterator[tuple[int, int, str]]:
        done, batch = 0, []
        for record in records:
            batch.append(record)
            if len(batch) >= size:
                yield done, len(batch), chunk(batch)
                done, batch = done + len(batch), []
        if batch:
            yield done, len(batch), chunk(batch)

    return generate()


def _multi(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(_MULTI) if v.strip()]


def linkedin_draft(row: int, cells: dict[str, str], region: str | None) -> Draft:
    draft = Draft(row=row, region=region)
    first, last = cells.get("first name", ""), cells.get("last name", "")
    draft.set("given_name", first)
    draft.set("family_name", last)
    draft.set("organization", cells.get("company"))
    draft.set("title", cells.get("position"))
    draft.add_linkedin(cells.get("url"), "URL")
    draft.add_email(cells.get("email address"), "Email Address")
    draft.add_date("connected_at", cells.get("connected on"), "Connected On")
    draft.name_from(f"{first.strip()} {last.strip()}")
    draft.name_from(draft.first_email(), stand_in=True)
    if not draft.has("display_name"):
        draft.reject("First Name", "the row has no name (First Name, Last Name) and no email")
    return draft


def _numbered(cells: dict[str, str], prefix: str) -> list[str]:
    """The columns `E-mail 1 - Value`, `E-mail 2 - Value`, ... present, in their order."""
    found = []
    for name in cells:
        if name.startswith(prefix) and name.endswith(" - value"):
            number = name[len(prefix) : -len(" - value")].strip()
            if number.isdigit():
                found.append((int(number), name))
    return [name for _, name in sorted(found)]


def google_draft(row: int, cells: dict[str, str], region: str | None) -> Draft:
    draft = Draft(row=row, region=region)
    given = cells.get("first name") or cells.get("given name") or ""
    middle = cells.get("middle name") or cells.get("additional name") or ""
    family = cells.get("last name") or cells.get("family name") or ""
    draft.set("given_name", given)
    draft.set("family_name", family)
    organization = cells.get("organization name") or cells.get("organization 1 - name")
    draft.set("organization", organization)
    draft.set("title", cells.get("organization title") or cells.get("organization 1 - title"))
    draft.set("notes", cells.get("notes"))
    for column in _numbered(cells, "e-mail "):
        for value in _multi(cells[column]):
            draft.add_email(value, _title(column))
    for column in _numbered(cells, "phone "):
        for value in _multi(cells[column]):
            draft.add_phone(value, _title(column))
    for column in _numbered(cells, "website "):
        for value in _multi(cells[column]):
            draft.add_url(value, _title(column))
    groups = cells.get("labels") or cells.get("group membership") or ""
    # `* myContacts`, `* starred`, ...: Google's own system groups, not the owner's labels.
    draft.add_tags([g for g in _multi(groups) if not g.startswith("*")])
    full = " ".join(p.strip() for p in (given, middle, family) if p.strip())
    draft.name_from(cells.get("name"), full, cells.get("nickname"), cells.get("file as"))
    draft.name_from(organization, draft.first_email(), stand_in=True)
    if not draft.has("display_name"):
        draft.reject("First Name", "the row has no name, organisation or email")
    return draft


def _title(column: str) -> str:
    """`e-mail 1 - value` -> `E-mail 1 - Value`, as the column is spelled in the file."""
    return " ".join(w[:1].upper() + w[1:] for w in column.split(" "))
