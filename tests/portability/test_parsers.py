"""The parsers on the fixture files, which reproduce the real exports' layouts: no database."""

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.portability import formats, service, vcard_write, vcards
from app.portability.drafts import linkedin_url
from app.portability.schemas import ImportFormat

FIXTURES = Path(__file__).parent / "fixtures"


def parse(name: str, region: str | None = None):
    fmt, parsed = service.parse_file((FIXTURES / name).read_bytes(), None, region)
    return fmt, {draft.row: (draft, data) for draft, data in parsed}


def rejected(parsed) -> dict[int, set[str]]:
    return {
        row: {e["field"] for e in draft.errors}
        for row, (draft, data) in parsed.items()
        if data is None
    }


def warned(parsed) -> dict[int, set[str]]:
    """The records imported without some of their values, and where those were."""
    return {
        row: {e["field"] for e in draft.errors}
        for row, (draft, data) in parsed.items()
        if data is not None and draft.errors
    }


def test_linkedin_preamble_is_skipped_and_rows_are_read():
    fmt, rows = parse("linkedin_connections.csv")
    assert fmt == ImportFormat.linkedin_csv
    assert sorted(rows) == [1, 2, 3, 4, 5, 6]  # the trailing blank line is no row
    ada = rows[1][1]
    assert ada.display_name == "Ada Lovelace"
    assert ada.external_refs == {"linkedin": "https://www.linkedin.com/in/ada-lovelace-1815"}
    assert {(c.type, c.value) for c in ada.channels} == {
        ("linkedin", "https://www.linkedin.com/in/ada-lovelace-1815"),
        ("email", "ada@example.com"),
    }
    assert all(c.permitted_uses == [] for c in ada.channels)
    grace = rows[2][1]
    assert grace.organization == "Remington Rand, UNIVAC Division"
    # Slugs are case-insensitive and the trailing slash is noise.
    assert grace.external_refs["linkedin"] == "https://www.linkedin.com/in/gracehopper"
    assert rows[3][1].title == 'Head of R&D, "Digital Twins"'
    assert rows[6][1].title == "Staff Engineer\nPayments Platform"  # a quoted newline
    assert rows[1][1].connected_at == datetime(2023, 12, 10, tzinfo=UTC)  # "10 Dec 2023"
    assert rows[6][1].connected_at == datetime(2024, 9, 30, tzinfo=UTC)
    # Chidi's address is no address: Chidi is kept, without it.
    assert rejected(rows) == {5: {"First Name"}}
    assert warned(rows) == {4: {"Email Address"}}
    assert rows[4][1].display_name == "Chidi Okafor"
    assert [c.type for c in rows[4][1].channels] == ["linkedin"]


def test_google_csv_columns_multiple_values_and_labels():
    fmt, rows = parse("google_contacts.csv")
    assert fmt == ImportFormat.google_csv
    alan = rows[2][1]
    assert alan.display_name == "Alan Mathison Turing"
    assert [c.value for c in alan.channels if c.type == "email"] == [
        "alan@example.com",
        "turing@example.org",
    ]
    assert [c.value for c in alan.channels if c.type == "phone"] == [
        "+16502530000",
        "+441614960000",
    ]
    assert alan.external_refs == {"linkedin": "https://www.linkedin.com/in/alan-turing"}
    assert alan.tags == ["Friends", "Cambridge"]  # Google's "* ..." groups are not labels
    assert alan.notes == "Met at Bletchley.\nLikes long-distance running."
    assert rows[3][1].display_name == "Bletchley Reception"  # a nickname only
    assert rows[6][1].display_name == "Acme Widgets"  # an organisation only
    assert rejected(rows) == {7: {"First Name"}}
    assert warned(rows) == {4: {"Phone 1 - Value"}, 5: {"E-mail 1 - Value"}}
    assert (rows[4][1].channels, rows[5][1].channels) == ([], [])
    assert rows[2][1].connected_at is None  # Google says nothing of it


def test_a_region_reads_national_phone_numbers():
    _, rows = parse("google_contacts.csv", region="GB")
    assert [c.value for c in rows[4][1].channels] == ["+442079460123"]


def test_excel_cp1252_csv_is_decoded():
    fmt, rows = parse("google_contacts_excel_cp1252.csv")
    assert fmt == ImportFormat.google_csv
    assert rows[1][1].display_name == "Zoë Brontë"
    assert rows[1][1].organization == "Café Société"
    assert rows[2][1].notes == "Prefers “quotes” — and dashes"


def test_utf8_bom_and_utf16_are_decoded():
    text = (FIXTURES / "linkedin_connections.csv").read_text(encoding="utf-8")
    for content in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        fmt, parsed = service.parse_file(content, None, None)
        assert fmt == ImportFormat.linkedin_csv
        assert parsed[2][1].display_name == "Jürgen Müller"


def test_apple_vcard_3():
    fmt, rows = parse("apple_contacts.vcf")
    assert fmt == ImportFormat.vcard
    johnny = rows[1][1]
    assert johnny.display_name == "Johnny Appleseed"
    assert johnny.organization == "Apple Inc."
    assert johnny.notes.endswith("folds it over several lines of the file.")  # unfolded
    assert johnny.tags == ["Orchards", "Friends"]
    assert johnny.external_refs == {
        "vcard": "8E3F0C2A-6D9B-4F3E-9C1A-2B7D5E4F6A10",
        "linkedin": "https://www.linkedin.com/in/jappleseed",
    }
    assert ("phone", "+14085550100") in {(c.type, c.value) for c in johnny.channels}
    assert rejected(rows) == {3: {"EMAIL", "FN"}}


def test_google_vcard_drops_system_groups():
    _, rows = parse("google_contacts.vcf")
    assert rows[1][1].tags == ["Founders"]
    assert rows[2][1].tags == []


def test_outlook_vcard_21_quoted_printable():
    _, rows = parse("outlook_contacts.vcf")
    john = rows[1][1]
    assert (
        john.notes == "Prefers calls in the morning.\nAsk about the Q3 order before the holidays."
    )
    assert {c.value for c in john.channels if c.type == "phone"} == {
        "+14255550199",
        "+14255550188",
    }
    assert rows[2][1].display_name == "Ayşe Öztürk"


def test_vcard_4_and_an_unreadable_card():
    _, rows = parse("vcard4_contacts.vcf")
    juergen = rows[1][1]
    assert juergen.display_name == "Dr. Jürgen Müller"
    assert juergen.timezone == "Europe/Berlin"
    assert ("phone", "+498963600") in {(c.type, c.value) for c in juergen.channels}
    assert ("website", "https://www.siemens.example") in {
        (c.type, c.value) for c in juergen.channels
    }
    assert rejected(rows) == {2: {"vcard"}}
    assert rows[3][1].tags == ["Rome", "Investors"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("hello,world\n1,2\n", "Could not tell the format"), ("\x00\x01", "format")],
)
def test_unreadable_files_are_refused_whole(text, message):
    with pytest.raises(formats.UnreadableFile, match=message):
        service.parse_file(text.encode(), None, None)


def test_asking_for_the_wrong_format_is_refused():
    content = (FIXTURES / "google_contacts.csv").read_bytes()
    with pytest.raises(formats.UnreadableFile, match="linkedin_csv"):
        service.parse_file(content, ImportFormat.linkedin_csv, None)
    with pytest.raises(formats.UnreadableFile, match="BEGIN:VCARD"):
        service.parse_file(content, ImportFormat.vcard, None)


def test_an_unterminated_quote_rejects_the_rest_not_the_file():
    text = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    text += "Ada,Lovelace,,ada@example.com,,,\n" + 'Bad,"unterminated\n' + "x" * 200_000
    _, parsed = service.parse_file(text.encode(), None, None)
    assert parsed[0][1] is not None
    assert parsed[-1][0].errors[0]["field"] == "csv"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.linkedin.com/in/Ada-L/", "https://www.linkedin.com/in/ada-l"),
        ("linkedin.com/in/ada-l?trk=x", "https://www.linkedin.com/in/ada-l"),
        ("http://uk.linkedin.com/pub/ada-l", "https://www.linkedin.com/pub/ada-l"),
        ("https://evil.example/linkedin.com/in/x", None),
        ("https://www.linkedin.com/", None),
        ("mailto:ada@example.com", None),
    ],
)
def test_linkedin_urls_are_canonical(url, expected):
    assert linkedin_url(url) == expected


def test_vcard_lines_fold_at_75_octets_without_splitting_characters():
    line = "NOTE:" + "é" * 100
    folded = vcard_write.fold(line)
    parts = folded.split("\r\n")[:-1]
    assert all(len(p.encode()) <= 75 for p in parts)
    assert parts[0] + "".join(p[1:] for p in parts[1:]) == line


def test_chunks_reassemble_to_the_same_records():
    text = (FIXTURES / "linkedin_connections.csv").read_text(encoding="utf-8")
    chunks = list(formats.split(text, ImportFormat.linkedin_csv, 2))
    assert [(start, count) for start, count, _ in chunks] == [(0, 2), (2, 2), (4, 2), (6, 1)]
    names = []
    for _, _, chunk in chunks:
        names += [
            d.fields.get("display_name")
            for d in formats.drafts(chunk, ImportFormat.linkedin_csv, None)
        ]
    assert names[:4] == ["Ada Lovelace", "Grace Hopper", "Jürgen Müller", "Chidi Okafor"]
    vcf = (FIXTURES / "apple_contacts.vcf").read_text()
    assert [count for _, count, _ in formats.split(vcf, ImportFormat.vcard, 2)] == [2, 1]


def test_only_cr_and_lf_end_a_vcard_line():
    # Other line breaks (U+2028, NEL, VT, FF, the file separators) are text in a value: read
    # as line ends, they let one card's note write cards of its own.
    note = "hi\u2028END:VCARD\u2029BEGIN:VCARD\x85FN:Intruder\vEND:VCARD\f\x1c\x1d\x1e!"
    card = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mallory\r\nNOTE:{note}\r\nEND:VCARD\r\n"
    _, parsed = service.parse_file(card.encode(), None, None)
    assert [(data.display_name, data.notes) for _, data in parsed] == [("Mallory", note)]


def test_a_folded_note_is_never_read_as_quoted_printable():
    # vCard 2.1 continues a quoted-printable value after a trailing "="; a 3.0 note that
    # merely mentions QUOTED-PRINTABLE and is folded there must not swallow the next line.
    note = "x" * 69 + "ENCODING=QUOTED-PRINTABLE:="
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\n"
    card += vcard_write.fold(f"NOTE:{note}") + "TITLE:Countess\r\nEND:VCARD\r\n"
    _, parsed = service.parse_file(card.encode(), None, None)
    assert [(data.notes, data.title) for _, data in parsed] == [(note, "Countess")]


LINKEDIN_HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On"


@pytest.mark.parametrize("fmt", [ImportFormat.linkedin_csv, ImportFormat.google_csv])
def test_a_cell_too_long_to_read_before_the_header_refuses_the_file(fmt):
    text = '"' + "x" * 140_000 + '"\r\n' + LINKEDIN_HEADER + "\r\nAda,Lovelace,,,,,\r\n"
    with pytest.raises(formats.UnreadableFile, match="line 1: a cell is longer than 131,072"):
        service.parse_file(text.encode(), fmt, None)
    with pytest.raises(formats.UnreadableFile, match="line 1: a cell is longer than 131,072"):
        list(formats.split(text, fmt, 10))


@pytest.mark.parametrize("end", ["\r\n", "\n"])
def test_a_stray_cr_in_a_cell_keeps_the_person_whole(end):
    text = end.join(
        [
            LINKEDIN_HEADER,
            "Ada,Love\rlace,,ada@example.com,Analytical\rEngines,Countess\r,01 Jan 2020",
            'Grace,Hopper,,,"Navy\r",,',
            "",
        ]
    )
    _, parsed = service.parse_file(text.encode(), None, None)
    assert [(d.row, d.fields.get("display_name"), d.errors) for d, _ in parsed] == [
        (1, "Ada Love\nlace", []),
        (2, "Grace Hopper", []),
    ]
    ada = parsed[0][1]
    assert (ada.organization, ada.title) == ("Analytical\nEngines", "Countess")
    assert [c.value for c in ada.channels] == ["ada@example.com"]
    assert parsed[1][1].organization == "Navy"
    chunks = [chunk for _, _, chunk in formats.split(text, ImportFormat.linkedin_csv, 1)]
    assert [
        d.fields.get("family_name")
        for c in chunks
        for d in formats.drafts(c, ImportFormat.linkedin_csv, None)
    ] == ["Love\nlace", "Hopper"]


def test_a_file_whose_lines_end_in_cr_alone_is_still_read():
    text = "\r".join([LINKEDIN_HEADER, "Ada,Lovelace,,,,,", "Grace,Hopper,,,,,", ""])
    _, parsed = service.parse_file(text.encode(), None, None)
    assert [data.display_name for _, data in parsed] == ["Ada Lovelace", "Grace Hopper"]


@pytest.mark.parametrize("line", ["X-A" + ";a=" * 25, "X-A;a=" + "," * 25])
def test_a_property_line_vobject_cannot_match_is_refused_at_once(line):
    # vobject's pattern backtracks exponentially on such a line: 16 s at 76 characters, twice
    # that for each character more.
    card = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\n{line}\r\nEND:VCARD\r\n"
    started = time.monotonic()
    _, parsed = service.parse_file(card.encode(), None, None)
    assert time.monotonic() - started < 2
    assert parsed[0][0].errors == [
        {"field": "vcard", "message": "unreadable card: its line 4 is not NAME;PARAM=value:value"}
    ]


def test_a_long_quoted_printable_value_is_joined_in_linear_time():
    lines = ["abcdefghij" * 7] * 40_000  # 2.9 MB: a quadratic join copies it 40,000 times
    card = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Ada\r\nNOTE;ENCODING=QUOTED-PRINTABLE:"
    card += "=\r\n".join(lines) + "\r\nEND:VCARD\r\n"
    started = time.monotonic()
    (joined,) = vcards.cards(card)
    assert time.monotonic() - started < 2
    assert "".join(lines) in joined
