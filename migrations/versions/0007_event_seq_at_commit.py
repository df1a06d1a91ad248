"""event seq drawn at commit, behind the owner's feed lock (PostgreSQL only)

The change feed and the webhook fan-out read an owner's events by `seq > cursor`, so an
owner's events must become visible in `seq` order. Until now the app took a per-owner
advisory lock with the event INSERT at commit and held it until its COMMIT came back: one
round trip, and the wait for the event loop to send that COMMIT, during which every other
write of the owner waited too (bench/README.md: one owner's POST /v1/ledger went from about
300 to 520 requests a second without that window).

Here the database does it inside the COMMIT itself. A deferred constraint trigger runs once
per new event when its transaction commits: it takes the owner's lock (held to the end of
the transaction) and renumbers the event from the sequence. A transaction that numbers an
owner's events waits for any other one that has, until that one is committed and visible,
so a higher `seq` is never visible before a lower one. The number an event got at its
INSERT is only a placeholder; uncommitted rows are invisible anyway. Deferred triggers fire
after every statement of the transaction, so the lock is still taken after every row lock
the transaction holds, as before: no deadlock with them.

SQLite runs one writer at a time: commit order is insert order already, no trigger.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The feed lock's namespace (the first of the two keys of pg_advisory_xact_lock), 'good'
# in ASCII; the second key is 32 bits of the owner id's MD5. Two owners that share the
# second key only ever wait for each other a little.
LOCK_NAMESPACE = 0x676F6F64

FUNCTION = f"""
CREATE FUNCTION goodwill_event_seq_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(
        {LOCK_NAMESPACE}, ('x' || left(md5(NEW.owner_id), 8))::bit(32)::integer
    );
    UPDATE event SET seq = nextval('event_seq_seq') WHERE seq = NEW.seq;
    RETURN NULL;
END
$$
"""

TRIGGER = """
CREATE CONSTRAINT TRIGGER event_seq_at_commit
AFTER INSERT ON event
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION goodwill_event_seq_at_commit()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER event_seq_at_commit ON event")
    op.execute("DROP FUNCTION goodwill_event_seq_at_commit()")
