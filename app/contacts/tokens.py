"""A contact's tokens and its owner's vocabulary, kept in step with its `search_text`.

`GET /v1/contacts?q=<family name>` (and an email, a phone number) reads the contacts of a few
tokens in id order instead of matching thousands of texts (app/contacts/listing.py,
`_by_tokens`; docs/decisions/2026-12-07-search-by-tokens.md,
docs/decisions/2026-12-07-emails-and-phones-by-tokens.md). So every write of a contact's
`search_text` (`create_contacts`, `update_contact`, imports and batches through them,
erasure) writes its tokens here too, in the same transaction:

- `contact_token` holds each contact's tokens (`search.tokens`), replaced whole when the
  text changes;
- `owner_token` holds every token the owner's contacts have had: the vocabulary a query's
  piece is looked up in. It only grows with writes (a token an edit drops stays, and a
  search reads its empty list), so two writes at once never need to agree on it; erasure
  removes the tokens no contact has any more (`forget_unused_tokens`), so that nothing of an
  erased person is left in it.

A token missing from the vocabulary would hide its contacts from searches. Erasure's clean-up
could remove one that a concurrent write has just added for another contact, not yet
committed; so a write that adds tokens first takes a key-share lock on the owner's row, and
the clean-up an update lock on it, which waits for every such write to commit (and makes
later ones wait for it) before it looks for unused tokens. SQLite runs one write at a time.

Searches remember a piece's tokens from one request to the next (vocabulary.KNOWN) for as long
as the owner's change feed stands still: a transaction that adds to the vocabulary must record
an event of the owner, as `create_contacts` and `update_contact` do, or a search could go on
reading the tokens it had before.
"""

from collections.abc import Sequence

from sqlalchemy import delete, exists, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.models import Owner
from app.contacts.models import Contact, ContactToken, OwnerToken
from app.contacts.search import tokens
from app.core.writes import insert_ignoring_duplicates

_TOKENS = ContactToken.__table__  # type: ignore[attr-defined]
_INSERT_TOKENS = insert(_TOKENS)
_ADD_TO_VOCABULARY = insert_ignoring_duplicates(OwnerToken.__table__)  # type: ignore[attr-defined]


def _lock(owner_id: str, *, exclusive: bool) -> object:
    """FOR UPDATE (`exclusive`) or FOR KEY SHARE on the owner's row."""
    query = select(Owner.id).where(Owner.id == owner_id)
    if exclusive:
        return query.with_for_update()
    return query.with_for_update(read=True, key_share=True)


async def write_tokens(session: AsyncSession, contacts: Sequence[Contact], *, new: bool) -> None:
    """Write the tokens of `contacts` (one owner's, flushed) from their `search_text`; `new`:
    they were just created, so they have no tokens to delete first."""
    if not contacts:
        return
    owner_id = contacts[0].owner_id
    if not new:
        ids = [contact.id for contact in contacts]
        await session.exec(
            delete(ContactToken).where(
                ContactToken.owner_id == owner_id, col(ContactToken.contact_id).in_(ids)
            )
        )
    rows = [
        {"owner_id": owner_id, "token": token, "contact_id": contact.id}
        for contact in contacts
        for token in sorted(tokens(contact.search_text))
    ]
    if not rows:
        return
    await session.exec(_lock(owner_id, exclusive=False))  # type: ignore[call-overload]
    connection = await session.connection()  # many rows a statement: Core's executemany
    await connection.execute(_INSERT_TOKENS, rows)
    vocabulary = sorted({row["token"] for row in rows})
    await connection.execute(
        _ADD_TO_VOCABULARY, [{"owner_id": owner_id, "token": token} for token in vocabulary]
    )


async def forget_unused_tokens(session: AsyncSession, owner_id: str) -> None:
    """Remove from the owner's vocabulary the tokens none of their contacts has (after an
    erasure deleted the person's), once every write adding tokens has committed."""
    await session.exec(_lock(owner_id, exclusive=True))  # type: ignore[call-overload]
    used = exists().where(
        ContactToken.owner_id == OwnerToken.owner_id, ContactToken.token == OwnerToken.token
    )
    await session.exec(delete(OwnerToken).where(OwnerToken.owner_id == owner_id, ~used))
