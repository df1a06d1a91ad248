"""contact_identifier: contacts' emails and phone numbers, indexed for imports to match by

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 02:35:00.000000

Existing contacts are indexed from their channels here. The rules are copied, not imported
from app code that may change later: emails lower-cased; phone numbers that parse with their
country code, as E.164 (the phonenumbers package).
"""

from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def _phone(value: str) -> str | None:
    text = value.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    if not text or len(text) > 64:
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _keys(channels: list[dict]) -> set[tuple[str, str]]:
    keys = set()
    for channel in channels or []:
        value = channel.get("value") or ""
        if channel.get("type") == "email":
            keys.add(("email", value.strip().lower()))
        elif channel.get("type") == "phone":
            phone = _phone(value)
            if phone:
                keys.add(("phone", phone))
    return keys


def upgrade() -> None:
    table = op.create_table('contact_identifier',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'contact_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_contact_identifier_owner_id_contact_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'kind', 'value', 'contact_id', name=op.f('pk_contact_identifier'))
    )
    with op.batch_alter_table('contact_identifier', schema=None) as batch_op:
        batch_op.create_index('ix_contact_identifier_owner_id_contact_id', ['owner_id', 'contact_id'], unique=False)

    contact = sa.table(
        'contact',
        sa.column('owner_id', sa.String),
        sa.column('id', sa.String),
        sa.column('channels', sa.JSON),
        sa.column('erased_at', sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    after = ("", "")
    while True:  # a page of contacts at a time, by primary key
        rows = connection.execute(
            sa.select(contact.c.owner_id, contact.c.id, contact.c.channels)
            .where(
                contact.c.erased_at.is_(None),
                sa.tuple_(contact.c.owner_id, contact.c.id) > sa.tuple_(*after),
            )
            .order_by(contact.c.owner_id, contact.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        keys = [
            {"owner_id": owner_id, "kind": kind, "value": value, "contact_id": contact_id}
            for owner_id, contact_id, channels in rows
            for kind, value in _keys(channels)
        ]
        if keys:
            connection.execute(table.insert(), keys)
        after = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    with op.batch_alter_table('contact_identifier', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_identifier_owner_id_contact_id')

    op.drop_table('contact_identifier')
