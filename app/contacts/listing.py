"""Listing contacts: filters, sort orders and keyset pages over any of them."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, func, literal, union_all
from sqlmodel import col, select

from app.contacts import vocabulary
from app.contacts.models import Contact, ContactExternalRef, ContactTag, ContactToken
from app.contacts.schemas import ContactSort, TrustStage
from app.contacts.search import address_part, digits_part, escape_like, search_query
from app.contacts.service import DOCUMENT_COLUMNS
from app.core.outbox import FEED_POSITION
from app.core.pagination import after, decode_cursor, page_of, sorted_by
from app.core.reads import Reader, Rows
from app.core.reciprocity import Flag, goodwill, is_one_sided, is_overdrawn, is_stale
from app.core.sql import position
from app.core.types import UTCDateTime, utcnow
from app.settings.service import owner_ratio

# Contacts never met sort as if last met at the epoch: first ascending, last descending.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ContactFilters:
    q: str | None = None
    # Contacts having every one of them.
    tags: tuple[str, ...] = ()
    trust_stage: TrustStage | None = None
    updated_since: datetime | None = None
    stale: bool | None = None
    channel_use: str | None = None
    external_ref: tuple[str, str] | None = None
    archived: bool = False
    flags: frozenset[Flag] = field(default_factory=frozenset)


# The type of each sort's value in a cursor (None: the cursor holds the id alone).
_CURSOR_TYPES: dict[str, type | None] = {
    "goodwill": int,
    "last_interaction_at": datetime,
    "display_name": str,
    "created_at": None,
}


def _sort_key(sort: ContactSort, ratio: Any) -> Any:
    """The expression a sort orders by (ties broken by id)."""
    name = sort.value.lstrip("-")
    if name == "goodwill":
        return goodwill(col(Contact.ledger_deposits), col(Contact.ledger_withdrawals), ratio)
    if name == "last_interaction_at":
        never = literal(_NEVER, UTCDateTime())
        return func.coalesce(col(Contact.last_interaction_at), never)
    if name == "display_name":
        return func.lower(col(Contact.display_name))
    return None  # created_at: ids are time-ordered


def _flag_condition(flag: Flag, ratio: Any) -> ColumnElement[bool]:
    """The rule of app.core.reciprocity that decides `flag`, applied to the columns."""
    deposits, withdrawals = col(Contact.ledger_deposits), col(Contact.ledger_withdrawals)
    if flag == Flag.overdrawn:
        return is_overdrawn(goodwill(deposits, withdrawals, ratio))
    if flag == Flag.one_sided:
        return is_one_sided(deposits, withdrawals, ratio)
    return is_stale(col(Contact.due_at), bindparam("now", type_=UTCDateTime()))


@dataclass(frozen=True)
class _Shape:
    """Which filters a request uses (not their values): the statement for a shape is built
    once and reused with new parameters. Building a statement and its cache key per request
    was a seventh of the CPU of a page (docs/decisions/2026-11-22-statements-built-once.md)."""

    sort: ContactSort
    q: bool
    tags: int  # how many
    trust_stage: bool
    updated_since: bool
    stale: bool | None
    channel_use: bool
    external_ref: bool
    archived: bool
    flags: frozenset[Flag]
    after: bool
    # The query looks like a phone number: its digits are looked for too.
    phone: bool = False
    # The query holds an email address: the index is asked for the part before the domain.
    address: bool = False
    # Answered from tokens (`vocabulary.tokens_to_read`): how many tokens' contacts are read
    # (0: the query is matched against every text, through the trigram index).
    tokens: int = 0


def _filtered(query: Any, shape: _Shape, ratio: Any) -> Any:
    archived = col(Contact.archived_at)
    query = query.where(archived.is_not(None) if shape.archived else archived.is_(None))
    if shape.q:
        # The value arrives escaped (search.escape_like): '%' and '_' match themselves. The
        # statement is planned for each search text (`plan_for_values` in list_contacts): a
        # generic plan cannot tell a rare email from a common name, and scanned a large
        # network's every contact (170 ms instead of 3 ms,
        # docs/decisions/2026-12-07-search-prepared-per-run.md). Both sides are folded
        # (app/contacts/search.py), so the match is case- and accent-insensitive.
        text = col(Contact.search_text)
        if shape.tokens:
            # The contacts come from their tokens (_by_tokens); the whole query decides, or
            # a number's digits (its tokens include theirs: search.token_search).
            match = position(text, bindparam("q_whole")) > 0
            if shape.phone:
                match = match | (position(text, bindparam("q_digits")) > 0)
        else:
            match = _matched_by_trigrams(text, shape)
        query = query.where(match)
    for index in range(shape.tags):
        query = query.where(
            exists().where(
                ContactTag.owner_id == bindparam("owner_id"),
                ContactTag.tag == bindparam(f"tag_{index}"),
                ContactTag.contact_id == Contact.id,
            )
        )
    if shape.trust_stage:
        query = query.where(Contact.trust_stage == bindparam("trust_stage"))
    if shape.updated_since:
        query = query.where(Contact.updated_at >= bindparam("updated_since", type_=UTCDateTime()))
    if shape.stale is not None:
        due, now = col(Contact.due_at), bindparam("now", type_=UTCDateTime())
        query = query.where(is_stale(due, now) if shape.stale else (due.is_(None) | (due >= now)))
    if shape.channel_use:
        query = query.where(col(Contact.channel_uses).contains(bindparam("channel_use")))
    if shape.external_ref:
        query = query.where(
            exists().where(
                ContactExternalRef.owner_id == bindparam("owner_id"),
                ContactExternalRef.system == bindparam("ref_system"),
                ContactExternalRef.external_id == bindparam("ref_id"),
                ContactExternalRef.contact_id == Contact.id,
            )
        )
    for flag in sorted(shape.flags):
        query = query.where(_flag_condition(flag, ratio))
    return query


def _matched_by_trigrams(text: Any, shape: _Shape) -> Any:
    if shape.address:
        # The index finds the contacts with the address's part (app/contacts/search.py,
        # `address_part`); the whole text is matched by a test no index answers, so that the
        # planner does not read the domain's trigrams too.
        match = text.contains(bindparam("q_part"), escape="/") & (
            position(text, bindparam("q_whole")) > 0
        )
    else:
        match = text.contains(bindparam("q"), escape="/")
    if shape.phone:
        # Likewise for a number: the index is asked for its last digits.
        match = match | (
            text.contains(bindparam("q_digits_part"), escape="/")
            & (position(text, bindparam("q_digits")) > 0)
        )
    return match


@lru_cache(maxsize=256)
def _statement(shape: _Shape) -> Any:
    # The ratio is a subquery of the one statement (evaluated once), not a round trip first.
    ratio = owner_ratio(bindparam("owner_id"))
    descending = shape.sort.value.startswith("-")
    key = _sort_key(shape.sort, ratio)
    # The sort value is read back from the database, so a cursor holds exactly what the
    # database compares (its lower() and arithmetic, not Python's).
    columns = [
        *DOCUMENT_COLUMNS,
        ratio.label("ratio"),
        (key if key is not None else literal(None)).label("sort_value"),
    ]
    if shape.tokens:
        # Where the owner's feed stood when the page was read: tokens looked up for an
        # earlier request hold for this page only if it has not moved since (_search).
        columns.append(FEED_POSITION.label("feed"))
    query = select(*columns)
    order = [col(Contact.id)] if key is None else [key, col(Contact.id)]
    if shape.tokens == 1:
        # One token: its contacts in id order, each read once, up to a page.
        return _of_token(query, shape, ratio, 0, descending)
    if shape.tokens:
        ids = _by_tokens(shape, ratio, descending)
        query = query.where(
            Contact.owner_id == bindparam("owner_id"),
            col(Contact.id).in_(ids.correlate(None)),
        )
        return sorted_by(query, order, descending)
    if shape.q and key is None:
        # A search in id order finds the page's ids first, then reads their rows: on
        # PostgreSQL the ids come from an index of (owner_id, id) that carries search_text
        # (migration 0012), so a common name is matched along that index without visiting
        # a contact row for every one it skips (docs/decisions/2026-12-07-folded-search.md).
        ids = _page(select(col(Contact.id)), shape, ratio, order, descending)
        query = query.where(
            Contact.owner_id == bindparam("owner_id"),
            col(Contact.id).in_(ids.correlate(None)),
        )
        return sorted_by(query, order, descending)
    return _page(query, shape, ratio, order, descending)


def _by_tokens(shape: _Shape, ratio: Any, descending: bool) -> Any:
    """The page's ids in id order, from the contacts of each token to read: for each token,
    its first contacts past the cursor (an equality on contact_token's key, which lists
    them in id order) that pass the filters and hold the whole query, at most a page of
    them; then the first page of all those. A common name reads one token's first fifty
    entries where the trigram path filtered thousands of texts
    (docs/decisions/2026-12-07-search-by-tokens.md)."""
    members = []
    for index in range(shape.tokens):
        ids = select(col(ContactToken.contact_id).label("id"))
        member = _of_token(ids, shape, ratio, index, descending).subquery()
        members.append(select(member.c.id))
    found = union_all(*members).subquery()
    return sorted_by(select(found.c.id).distinct(), [found.c.id], descending).limit(
        bindparam("limit")
    )


def _of_token(query: Any, shape: _Shape, ratio: Any, index: int, descending: bool) -> Any:
    """`query` over the contacts of token `token_{index}` (contact_token's key lists them in
    id order), filtered, past the cursor, one page."""
    its_contact = (Contact.owner_id == ContactToken.owner_id) & (
        Contact.id == ContactToken.contact_id
    )
    query = (
        query.select_from(ContactToken)
        .join(Contact, its_contact)
        .where(
            ContactToken.owner_id == bindparam("owner_id"),
            ContactToken.token == bindparam(f"token_{index}"),
            Contact.owner_id == bindparam("owner_id"),
            col(Contact.erased_at).is_(None),
        )
    )
    query = _filtered(query, shape, ratio)
    order = [col(ContactToken.contact_id)]
    if shape.after:
        query = query.where(after(order, [bindparam("after_id")], descending))
    return sorted_by(query, order, descending).limit(bindparam("limit"))


def _page(query: Any, shape: _Shape, ratio: Any, order: list[Any], descending: bool) -> Any:
    """`query` narrowed to the owner's listed contacts, filtered, past the cursor, one page."""
    query = query.where(Contact.owner_id == bindparam("owner_id"), col(Contact.erased_at).is_(None))
    query = _filtered(query, shape, ratio)
    if shape.after:
        values = [bindparam("after_id")]
        if len(order) > 1:
            values.insert(0, bindparam("after_value", type_=order[0].type))
        query = query.where(after(order, values, descending))
    return sorted_by(query, order, descending).limit(bindparam("limit"))


async def list_contacts(
    reader: Reader,
    *,
    owner_id: str,
    filters: ContactFilters,
    sort: ContactSort,
    limit: int,
    cursor: str | None,
) -> tuple[Rows, int, str | None]:
    """A page of contacts (rows of `DOCUMENT_COLUMNS`), the owner's ratio they were filtered
    and sorted by (for presenting them), and the next page's cursor."""
    kind = f"contact:{sort.value}"
    key_type = _CURSOR_TYPES[sort.value.lstrip("-")]
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit + 1, "now": utcnow()}
    if cursor:
        if key_type is None:
            (params["after_id"],) = decode_cursor(cursor, kind, owner_id, (str,))
        else:
            params["after_value"], params["after_id"] = decode_cursor(
                cursor, kind, owner_id, (key_type, str)
            )
    for index, tag in enumerate(filters.tags):
        params[f"tag_{index}"] = tag
    if filters.trust_stage:
        params["trust_stage"] = filters.trust_stage.value
    if filters.updated_since:
        params["updated_since"] = filters.updated_since
    if filters.channel_use:
        params["channel_use"] = f",{filters.channel_use},"
    if filters.external_ref:
        params["ref_system"], params["ref_id"] = filters.external_ref
    # The shape but for the search's part (`_found` adds it).
    shape: dict[str, Any] = dict(
        sort=sort,
        tags=len(filters.tags),
        trust_stage=bool(filters.trust_stage),
        updated_since=bool(filters.updated_since),
        stale=filters.stale,
        channel_use=bool(filters.channel_use),
        external_ref=bool(filters.external_ref),
        archived=filters.archived,
        flags=filters.flags,
        after=bool(cursor),
    )
    if filters.q:
        rows = await _search(reader, owner_id, filters.q, sort, params, shape)
    else:
        rows = await reader.rows(_statement(_Shape(q=False, **shape)), params)
    page, next_cursor = page_of(
        rows,
        limit,
        kind=kind,
        owner_id=owner_id,
        key=(lambda row: [row["id"]]) if key_type is None else _sort_and_id,
    )
    # No rows, nothing to present: the ratio does not matter then.
    return page, rows[0]["ratio"] if rows else 0, next_cursor


async def _search(
    reader: Reader,
    owner_id: str,
    q: str,
    sort: ContactSort,
    params: dict[str, Any],
    shape: dict[str, Any],
) -> Rows:
    """The rows of a search: from the contacts of its tokens when `tokens_to_read` names
    them, else from every text. Tokens remembered from an earlier request are checked
    against the owner's feed as it stood for the page (the `feed` the page reads with them):
    unmoved, the vocabulary is the one they were looked up in. Moved (or no row to say), they
    are looked up again, and the page stands if they are the same; otherwise it is read
    again with the new ones."""
    tokens = await vocabulary.tokens_to_read(reader, owner_id, q, sort, True)
    rows = await _found(reader, q, tokens, params, shape)
    if tokens is None or tokens.feed is None or (rows and rows[0]["feed"] == tokens.feed):
        return rows
    fresh = await vocabulary.tokens_to_read(reader, owner_id, q, sort, False)
    if fresh is not None and fresh.tokens == tokens.tokens:
        # As when the vocabulary is read before the page: a change committed while this
        # request runs may or may not be seen, every change committed before it is.
        return rows
    return await _found(reader, q, fresh, params, shape)


async def _found(
    reader: Reader,
    q: str,
    tokens: vocabulary.Tokens | None,
    params: dict[str, Any],
    shape: dict[str, Any],
) -> Rows:
    """The rows of the search `q`: from `tokens`' contacts, or from every text (None)."""
    folded, digits = search_query(q)
    params = dict(params, q_whole=folded)
    if tokens is not None:
        if not tokens.tokens:  # no contact has a token the query could be part of
            return []
        # As many as a statement of a few sizes takes: the last one again changes nothing.
        read = list(tokens.tokens)
        read += read[-1:] * (_size(len(read)) - len(read))
        params.update({f"token_{index}": token for index, token in enumerate(read)})
        if digits is not None:
            params["q_digits"] = digits
        # Equalities on a key: the same plan for any tokens, prepared once.
        statement = _statement(_Shape(q=True, tokens=len(read), phone=digits is not None, **shape))
        return await reader.rows(statement, params)
    part = address_part(folded)
    if part is None:
        params["q"] = escape_like(folded)
    else:
        params["q_part"] = escape_like(part)
    if digits is not None:
        params["q_digits_part"], params["q_digits"] = digits_part(digits), digits
    statement = _statement(
        _Shape(q=True, phone=digits is not None, address=part is not None, **shape)
    )
    # Planned for its values: a generic plan cannot tell a rare email from a common name.
    return await reader.rows(statement, params, plan_for_values=True)


def _size(count: int) -> int:
    """The number of tokens a statement reads, for `count` tokens: a power of two, so that a
    few statements serve every search."""
    size = 1
    while size < count:
        size *= 2
    return size


def _sort_and_id(row: Any) -> list[Any]:
    return [row["sort_value"], row["id"]]
