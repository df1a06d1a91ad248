"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:28:51.771558
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('owner',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner')),
    sa.UniqueConstraint('email', name=op.f('uq_owner_email'))
    )
    op.create_table('api_key',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_api_key_owner_id_owner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_api_key_secret_hash'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index('ix_api_key_owner_id_id', ['owner_id', 'id'], unique=False)

    op.create_table('contact',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=True),
    sa.Column('family_name', sa.String(length=100), nullable=True),
    sa.Column('organization', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('trust_stage', sa.String(length=16), nullable=False),
    sa.Column('cadence_days', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('external_refs', sa.JSON(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('channel_uses', sa.String(length=64), nullable=False),
    sa.Column('last_interaction_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_contact_owner_id_owner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'id', name=op.f('pk_contact'))
    )
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index('ix_contact_owner_id_due_at', ['owner_id', 'due_at'], unique=False)
        batch_op.create_index('ix_contact_owner_id_updated_at', ['owner_id', 'updated_at'], unique=False)

    op.create_table('event',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=40), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_event_owner_id_owner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_event')),
    sa.UniqueConstraint('id', name=op.f('uq_event_id'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index('ix_event_owner_id_contact_id', ['owner_id', 'contact_id'], unique=False)
        batch_op.create_index('ix_event_owner_id_seq', ['owner_id', 'seq'], unique=False)

    op.create_table('idempotency_record',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('location', sa.String(length=500), nullable=True),
    sa.Column('etag', sa.String(length=100), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['owner.id'], name=op.f('fk_idempotency_record_owner_id_owner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'key', name=op.f('pk_idempotency_record'))
    )
    op.create_table('contact_external_ref',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'contact_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_contact_external_ref_owner_id_contact_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'system', 'external_id', name=op.f('pk_contact_external_ref')),
    sa.UniqueConstraint('owner_id', 'contact_id', 'system', name=op.f('uq_contact_external_ref_owner_id_contact_id_system'))
    )
    op.create_table('contact_tag',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'contact_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_contact_tag_owner_id_contact_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'tag', 'contact_id', name=op.f('pk_contact_tag'))
    )
    with op.batch_alter_table('contact_tag', schema=None) as batch_op:
        batch_op.create_index('ix_contact_tag_owner_id_contact_id', ['owner_id', 'contact_id'], unique=False)

    op.create_table('interaction',
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('contact_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('initiated_by', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id', 'contact_id'], ['contact.owner_id', 'contact.id'], name=op.f('fk_interaction_owner_id_contact_id_contact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner_id', 'id', name=op.f('pk_interaction'))
    )
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.create_index('ix_interaction_owner_id_contact_id_occurred_at', ['owner_id', 'contact_id', 'occurred_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_index('ix_interaction_owner_id_contact_id_occurred_at')

    op.drop_table('interaction')
    with op.batch_alter_table('contact_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_tag_owner_id_contact_id')

    op.drop_table('contact_tag')
    op.drop_table('contact_external_ref')
    op.drop_table('idempotency_record')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_owner_id_seq')
        batch_op.drop_index('ix_event_owner_id_contact_id')

    op.drop_table('event')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_owner_id_updated_at')
        batch_op.drop_index('ix_contact_owner_id_due_at')

    op.drop_table('contact')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index('ix_api_key_owner_id_id')

    op.drop_table('api_key')
    op.drop_table('owner')
