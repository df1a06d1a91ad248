"""POST /v1/imports with mangled files: whatever the bytes, the answer is a summary or a
problem (4xx, problem+json), never a 500."""

import asyncio
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent / "fixtures"
FORMATS = {".vcf": "vcard", "linkedin": "linkedin_csv", "google": "google_csv"}
# (a file, its format)
SEEDS = [
    (path.read_bytes(), FORMATS[path.suffix if path.suffix == ".vcf" else path.stem.split("_")[0]])
    for path in sorted(FIXTURES.iterdir())
] + [
    (
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\n"
        b"BDAY:1815-12-10\r\nAGENT:BEGIN:VCARD\\nFN:Babbage\\nEND:VCARD\r\nEND:VCARD\r\n",
        "vcard",
    )
]
TOKENS = [
    b"\r",
    b"\n",
    b"\r\n",
    b'"',
    b",",
    b";",
    b":",
    b"=",
    b"\\",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xe2\x80\xa8",
    b"\xc2\x85",
    b"\x0b",
    b" ",
    b" :::",
    b"BEGIN:VCARD\r\n",
    b"END:VCARD\r\n",
    b"VERSION:2.1\r\n",
    b"VERSION:4.0\r\n",
    b"ENCODING=b:",
    b";ENCODING=b",
    b";ENCODING=QUOTED-PRINTABLE:",
    b";CHARSET=x-unknown",
    b";BASE64",
    b"=\r\n",
    b"=C3=",
    b"PHOTO;ENCODING=b;TYPE=JPEG:!!!\r\n",
    b"BDAY:2023-02-30\r\n",
    b"BDAY:--0229\r\n",
    b"REV:99999999T999999Z\r\n",
    b"N;ENCODING=b:@@@\r\n",
    b"ORG;ENCODING=b:QUJD\r\n",
    b"CATEGORIES;ENCODING=b:%%%\r\n",
    b"X-GOODWILL-ID:ct_x\r\n",
    b"X-GOODWILL-REF:a\r\n",
    b"TZ:+99:00\r\n",
    b"TEL;TYPE=CELL:++++\r\n",
    b"EMAIL:@@\r\n",
    b"URL:http://[::1\r\n",
    b"X-SOCIALPROFILE;TYPE=linkedin:linkedin.com/in/\r\n",
    b"BEGIN:VCALENDAR\r\n",
    b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n",
    b"First Name,Last Name,E-mail 1 - Value,Labels\r\n",
    b"X-A" + b";a=" * 40 + b"\r\n",
    b"x" * 140_000,
    b'"' + b"y" * 140_000,
]
positions = st.floats(0, 1)
edits = st.one_of(
    st.tuples(st.just("insert"), positions, st.sampled_from(TOKENS) | st.binary(max_size=16)),
    st.tuples(st.just("delete"), positions, st.integers(1, 200)),
    st.tuples(st.just("repeat"), positions, st.integers(1, 200)),
)


def mangle(seed: bytes, changes: list[tuple]) -> bytes:
    data = seed
    for what, where, arg in changes:
        at = int(where * len(data))
        if what == "insert":
            data = data[:at] + arg + data[at:]
        elif what == "delete":
            data = data[:at] + data[at + arg :]
        else:
            data = data[:at] + data[at : at + arg] * 3 + data[at:]
    return data


formats = st.sampled_from(["linkedin_csv", "google_csv", "vcard", None])


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A mangled export, mostly sent as its own format or for detection (so that the
    mangling reaches the parsers), sometimes as another; or bytes of no format at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=500)), draw(formats)
    seed, own = draw(st.sampled_from(SEEDS))
    content = mangle(seed, draw(st.lists(edits, min_size=1, max_size=6)))
    return content, draw(st.sampled_from([own, own, None]) | formats)


async def test_no_file_gets_a_500(client, owner):
    loop = asyncio.get_running_loop()

    def run(coro):
        # Hypothesis drives from a worker thread; requests run on the test's own loop,
        # where the test database connection lives.
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(files(), st.booleans())
    def check(file: tuple[bytes, str | None], dry_run: bool) -> None:
        content, fmt = file
        params = {"dry_run": str(dry_run).lower(), **({"format": fmt} if fmt else {})}
        response = run(
            client.post("/v1/imports", content=content, params=params, headers=owner.headers)
        )
        assert response.status_code < 500, response.text
        if response.status_code == 200:
            summary = response.json()
            assert len(summary["rows"]) == sum(
                summary[n] for n in ("created", "updated", "unchanged", "rejected")
            )
        else:
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert {"type", "title", "status", "detail"} <= problem.keys()

    await asyncio.to_thread(check)
