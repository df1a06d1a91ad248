"""Hypothesis strategies for the values a hostile or careless client sends: the calendar's
ends, integers past every column's range, NUL and odd Unicode, edited cursors and hostile
hostnames. tests/test_edge_values.py puts them into every endpoint."""

import base64
import json
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

# Strings that each once reached a 500 somewhere, or that break a layer below the app.
CALENDAR_ENDS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+00:01",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999Z",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-12-31T23:59:60Z",
    "2026-12-06T24:00:00Z",
    "2026-12-06T10:00:00+24:00",
    "2026-12-06T10:00:00+99:99",
    "2026-12-06T10:00:00.9999999999Z",
    "2026-12-06",
    "2026-12-06T10:00:00",
    "-2026-12-06T10:00:00Z",
    "+002026-12-06T10:00:00Z",
    "1e308",
]

_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
timestamps = st.one_of(
    st.sampled_from(CALENDAR_ENDS),
    st.sampled_from(CALENDAR_ENDS),
    st.builds(
        lambda naive, tz: naive.replace(tzinfo=tz).isoformat(),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
        _offsets,
    ),
)

HUGE = [2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**100]
integers = st.one_of(st.sampled_from([*HUGE, 0, -1]), st.integers())

ODD_TEXT = [
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: valid in JSON's escapes, not in UTF-8
    "\udfff\ud800",
    "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e\r",
    "\u202e\u200b\ufeff\u2060\u00ad",
    "\U0010ffff\ufffe\uffff",
    "%00%s%n{0}${x}",
    "' OR 1=1 --",
    "\\",
    "\U0001d574\U0001d593\U0001d599",  # mathematical Fraktur letters
    "Z\u0351\u0361\u0337" * 50,
    "a" * 10_000,
]
# Every code point JSON can carry, surrogates included.
any_text = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=300),
)
# What a query string can carry: no lone surrogates (they cannot be percent-encoded as
# UTF-8), but raw bytes that are not UTF-8 at all are sent as escapes (RAW_QUERY_VALUES).
query_text = st.one_of(
    st.sampled_from([t for t in ODD_TEXT if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]),
    st.text(st.characters(min_codepoint=1, max_codepoint=0x10FFFF, exclude_categories=["Cs"])),
)
RAW_QUERY_VALUES = ["%FF", "%C0%80", "%ED%A0%80", "%F4%90%80%80", "%", "%zz", "%00"]

HOSTILE_URLS = [
    "http://a..b/",
    "http://" + "a" * 64 + ".example.com/",
    "http://" + ("a" * 60 + ".") * 5 + "com/",
    "http://./",
    "http://-a-.example.com/",
    "http://xn--/",
    "http://xn--zz-zz.example/",
    "http://①②③.example/",
    "http://\U0001f600.example/",
    "http://ex\u2024ample.com/",
    "http://ex%00ample.com/",
    "http://[2002:7f00:1::]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    "http://[fe80::1%25eth0]/",
    "http://[::1/",
    "http://0/",
    "http://0x7f.1/",
    "http://2130706433/",
    "http://127.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://example.com:0/",
    "http://example.com:65536/",
    "http://example.com:99999999999999999999/",
    "http://user:pass@example.com@127.0.0.1/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http:///nohost",
    "https://hooks.example.com/" + "p" * 3000,
]
hostile_urls = st.sampled_from(HOSTILE_URLS)

floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(st.none(), st.booleans(), integers, floats, any_text, timestamps, hostile_urls)
# Any JSON value, nested a little, made of the edge values above.
edge_json = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)
    ),
    max_leaves=8,
)


def unsigned_cursor(payload: object) -> str:
    """A cursor in the unsigned form this service once issued (base64url JSON)."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decoded(cursor: str) -> object:
    """What a cursor's first part holds, if it is base64url JSON (as the unsigned cursors
    this service once issued were, and a signed cursor's payload is)."""
    head = cursor.split(".", 1)[0]
    try:
        return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except ValueError:
        return None


def _reencoded(cursor: str, values: list) -> str:
    """`cursor` with its key values replaced, in the same shape, keeping any signature."""
    decoded = _decoded(cursor)
    payload = {**decoded, "v": values} if isinstance(decoded, dict) else values
    head = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    rest = cursor.split(".", 1)[1:]
    return ".".join([head, *rest])


def mutated(cursor: str) -> st.SearchStrategy[str]:
    """A real cursor, edited: its values replaced by edge values of any type, a character
    changed, cut short, or lengthened."""
    positions = st.integers(0, max(len(cursor) - 1, 0))
    decoded = _decoded(cursor)
    size = len(decoded["v"]) if isinstance(decoded, dict) else len(decoded or [None])
    value = st.one_of(st.sampled_from(HUGE), integers, any_text, timestamps)
    key_values = st.lists(value, min_size=size, max_size=size)
    return st.one_of(
        key_values.map(lambda values: _reencoded(cursor, values)),
        key_values.map(lambda values: _reencoded(cursor, values)),
        key_values.map(lambda values: _reencoded(cursor, values)),
        st.builds(
            lambda i, c: cursor[:i] + c + cursor[i + 1 :],
            positions,
            st.sampled_from("AZaz09-_.=~!"),
        ),
        positions.map(lambda i: cursor[:i]),
        st.text(max_size=20).map(lambda tail: cursor + tail),
    )
