"""The tenant column: every table but `owner` (and the service's own `server_secret`) holds
one owner's rows, and says whose in `owner_id`.

Every query filters on it, so it leads every key and index (tests/test_migrations.py), and a
table keyed by tenant can be distributed by tenant.
"""

from sqlalchemy import String
from sqlmodel import Field, SQLModel

# The owner's id, as `new_id` makes it.
OWNER_ID_TYPE = String(40)


class OwnerScoped(SQLModel):
    """A row of one owner's data, deleted with its owner (ON DELETE CASCADE)."""

    owner_id: str = Field(
        sa_type=OWNER_ID_TYPE, foreign_key="owner.id", ondelete="CASCADE", nullable=False
    )


class OwnerScopedChild(OwnerScoped):
    """A row that belongs to another of the owner's rows (a contact's tag, a delivery's
    attempt). Its `owner_id` is the leading half of the composite key that references the
    parent, `(owner_id, parent_id)`, and the parent's references the owner, so the row is
    the owner's and goes with them by the parent's cascade. It does not reference `owner`
    again: that would add a check and, on PostgreSQL, a key-share lock on the owner's row to
    every insert into the owner's busiest tables (ledger entries, interactions)."""

    owner_id: str = Field(sa_type=OWNER_ID_TYPE, nullable=False)
