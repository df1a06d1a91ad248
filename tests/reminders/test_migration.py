"""Migration 0013: owners already there get the agenda's settings at their defaults, and the
reminder table comes and goes with it."""

from sqlalchemy import Connection, inspect, text

from app.core.migrations import downgrade, upgrade
from app.core.types import utcnow
from tests.test_migrations import _on_connection


def test_migration_0013_gives_existing_owners_the_defaults_and_its_downgrade_drops_it(
    fresh_database_url,  # type: ignore[no-untyped-def]
) -> None:
    url = fresh_database_url("reminders")
    upgrade(url, "0012")
    now = utcnow()

    def seed(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO owner (id, email, name, created_at) VALUES ('own_1', 'o@x', 'O', :at)"
            ),
            {"at": now},
        )
        conn.execute(
            text(
                "INSERT INTO owner_settings (owner_id, reciprocity_ratio, consent_ttl_days, "
                "decline_cooldown_days, max_pending_consents_per_target, follow_up_after_days, "
                "version, updated_at) VALUES ('own_1', 5, 14, 90, 3, 21, 4, :at)"
            ),
            {"at": now},
        )
        conn.commit()

    def settings(conn: Connection) -> list[tuple]:
        return [tuple(row) for row in conn.execute(text("SELECT * FROM owner_settings"))]

    def agenda_settings(conn: Connection) -> list[tuple]:
        query = (
            "SELECT reciprocity_ratio, version, thanks_window_days, timezone FROM owner_settings"
        )
        return [tuple(row) for row in conn.execute(text(query))]

    def columns(conn: Connection) -> set[str]:
        return {c["name"] for c in inspect(conn).get_columns("owner_settings")}

    def reminder_indexes(conn: Connection) -> dict[str, list[str]] | None:
        if "reminder" not in inspect(conn).get_table_names():
            return None
        return {str(i["name"]): i["column_names"] for i in inspect(conn).get_indexes("reminder")}

    _on_connection(url, seed)
    before = _on_connection(url, settings)
    upgrade(url, "0013")
    rows = _on_connection(url, agenda_settings)
    assert rows == [(5, 4, 7, "UTC")]
    assert _on_connection(url, reminder_indexes) == {
        "ix_reminder_owner_id_due_at_open": ["owner_id", "due_at", "id"],
        "ix_reminder_owner_id_contact_id": ["owner_id", "contact_id"],
    }
    downgrade(url, "0012")
    assert _on_connection(url, reminder_indexes) is None
    assert {"thanks_window_days", "timezone"}.isdisjoint(_on_connection(url, columns))
    assert _on_connection(url, settings) == before
