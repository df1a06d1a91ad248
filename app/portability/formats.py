"""From the bytes of an uploaded file to drafts: decoding, format detection, and parsing."""

import codecs
from collections.abc import Iterator

from app.portability import csv_files, vcards
from app.portability.drafts import Draft
from app.portability.schemas import ImportFormat

_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class UnreadableFile(ValueError):
    """The file as a whole cannot be read: no known format, or not the one asked for."""


def decode(content: bytes) -> str:
    """UTF-8 (with or without a BOM), UTF-16 with a BOM (Outlook), or, failing UTF-8, the
    Windows code page Excel writes CSV in on Western systems (cp1252)."""
    if content.startswith(codecs.BOM_UTF8):
        return content[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if content.startswith(_UTF16):
        return content.decode("utf-16", errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; they become U+FFFD rather than a failed file.
        return content.decode("cp1252", errors="replace")


def detect(text: str) -> ImportFormat:
    if vcards.looks_like_vcard(text):
        return ImportFormat.vcard
    found = csv_files.sniff(text)
    if found is None:
        raise UnreadableFile(
            "Could not tell the format: expected a vCard file (BEGIN:VCARD), a LinkedIn "
            "Connections.csv or a Google Contacts CSV export. Pass format= to say which."
        )
    return found


def drafts(text: str, fmt: ImportFormat, region: str | None) -> Iterator[Draft]:
    """One draft per record, numbered from 1; raises UnreadableFile before the first when
    the file is not of format `fmt` at all."""
    if fmt == ImportFormat.vcard:
        if not vcards.looks_like_vcard(text):
            raise UnreadableFile("This is not a vCard file: it must start with BEGIN:VCARD.")
        return (vcards.draft(n, card, region) for n, card in enumerate(vcards.cards(text), 1))
    try:
        rows = csv_files.rows(text, fmt)
    except csv_files.NotThisFormat as exc:
        raise UnreadableFile(str(exc)) from None
    to_draft = (
        csv_files.linkedin_draft if fmt == ImportFormat.linkedin_csv else (csv_files.google_draft)
    )

    def generate() -> Iterator[Draft]:
        for row, cells in rows:
            if isinstance(cells, str):
                broken = Draft(row=row)
                broken.reject("csv", cells)
                yield broken
            else:
                yield to_draft(row, cells, region)

    return generate()


def split(text: str, fmt: ImportFormat, size: int) -> list[tuple[int, int, str]]:
    """The file in chunks of at most `size` records that each import on their own. Read
    whole, so that a record the csv module cannot read refuses the file before any chunk is
    sent, not half-way through the import."""
    if fmt == ImportFormat.vcard:
        return list(vcards.split(text, size))
    try:
        return list(csv_files.split(text, fmt, size))
    except csv_files.NotThisFormat as exc:
        raise UnreadableFile(str(exc)) from None
