"""relationship, contact_phrase, contact.needs and contact.offers

Who knows whom among an owner's contacts (undirected: one row a pair and kind, stored with
`contact_a_id < contact_b_id` and indexed from both ends, each index covering the other end and
the strength, for warm paths), and what each contact needs and offers: kept on the contact
as written (JSON lists, empty for existing contacts) and in `contact_phrase`, trimmed and
case-folded, where suggestions join needs to offers.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:30:58
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('contact_phrase',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('phrase', sa.String(length=200), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'contact_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_contact_phrase_owner_id_contact_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'kind', 'phrase', 'contact_id', name=op.f('pk_contact_phrase'))
    )
    with op.batch_alter_table('contact_phrase', schema=None) as batch_op:
        batch_op.create_index('ix_contact_phrase_owner_id_contact_id', ['owner_id', 'contact_id'], unique=False)

    op.create_table('relationship',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('contact_a_id', sa.String(length=40), nullable=False),
    sa.Column('contact_b_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('strength', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'contact_a_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_relationship_owner_id_contact_a_id_contact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id', 'contact_b_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_relationship_owner_id_contact_b_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'id', name=op.f('pk_relationship')),
    sa.UniqueConstraint('owner_id', 'contact_a_id', 'contact_b_id', 'kind', name=op.f('uq_relationship_owner_id_contact_a_id_contact_b_id_kind'))
    )
    with op.batch_alter_table('relationship', schema=None) as batch_op:
        batch_op.create_index('ix_relationship_owner_id_contact_a_id', ['owner_id', 'contact_a_id', 'contact_b_id', 'strength'], unique=False)
        batch_op.create_index('ix_relationship_owner_id_contact_b_id', ['owner_id', 'contact_b_id', 'contact_a_id', 'strength'], unique=False)

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('offers', sa.JSON(), server_default='[]', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('offers')
        batch_op.drop_column('needs')

    with op.batch_alter_table('relationship', schema=None) as batch_op:
        batch_op.drop_index('ix_relationship_owner_id_contact_b_id')
        batch_op.drop_index('ix_relationship_owner_id_contact_a_id')

    op.drop_table('relationship')
    with op.batch_alter_table('contact_phrase', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_phrase_owner_id_contact_id')

    op.drop_table('contact_phrase')
