"""Alembic migrations: the same schema on SQLite and PostgreSQL, matching the models."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from kernel import migrate
from kernel.database import create_engine
from kernel.models import Base

TABLES = {
    "device_events", "rejected_messages", "incidents", "incident_timeline", "device_notices",
    "family_messages",
    "family_replies", "family_opt_outs",
    "alarm_receiver_accounts",
    "voice_calls", "terminal_lines",
    "alembic_version", "audit_log", "away_periods", "centres", "devices", "elders",
    "emergency_contacts", "register_imports", "register_issues", "shifts", "staff",
    "vital_thresholds",
    "staff_sessions", "sign_in_failures", "sign_in_places", "client_sign_in_failures",
    "vital_baselines", "vital_trends",
    "handover_notes", "handover_note_reads",
    "work_orders", "work_order_steps", "service_providers",
    "care_calls", "care_call_attempts", "weather_warnings",
    "shift_absences", "coverage_reach", "coverage_notices",
}  # fmt: skip


async def _run(url: str, work):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def test_upgrade_creates_every_table_and_downgrade_removes_them(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert set(asyncio.run(_run(database_url, lambda c: inspect(c).get_table_names()))) == TABLES
    assert asyncio.run(migrate.current_revision(database_url)) == migrate.head_revision()

    migrate.downgrade(database_url, "base")
    assert set(asyncio.run(_run(database_url, lambda c: inspect(c).get_table_names()))) == {
        "alembic_version"
    }
    migrate.upgrade(database_url)
    assert asyncio.run(migrate.current_revision(database_url)) == migrate.head_revision()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    migrate.upgrade(database_url)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    assert asyncio.run(_run(database_url, diff)) == []


def test_audit_log_refuses_update_and_delete(migrated_url: str) -> None:
    async def attempt(statement: str) -> None:
        engine = create_engine(migrated_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO audit_log (at, actor, action, subject_type, subject_id, detail)"
                        " VALUES (CURRENT_TIMESTAMP, 'test', 'probe', 'test', '1', '{}')"
                    )
                )
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            asyncio.run(attempt(statement))


def test_the_judged_mark_takes_over_from_the_cursor_without_skipping_or_repeating(
    database_url: str,
) -> None:
    """Events the old cursor had passed count as judged; the ones after it are still to judge."""
    migrate.upgrade(database_url, "0008")

    async def fill() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO devices (id, kind, secret, online, registered_at, secret_issued_at) VALUES ('D1', 'sos_terminal', 's', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
                for event_id in (1, 2, 3, 4):
                    await connection.execute(
                        text(
                            "INSERT INTO device_events (id, device_id, message_id, type, received_at,"
                            " transport, payload) VALUES (:id, 'D1', :m, 'sos', CURRENT_TIMESTAMP,"
                            " 'mqtt', '{}')"
                        ),
                        {"id": event_id, "m": f"m{event_id}"},
                    )
                await connection.execute(
                    text(
                        "INSERT INTO pipeline_cursors (name, last_event_id) VALUES ('alarm-engine', 2)"
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(fill())
    migrate.upgrade(database_url)
    judged = asyncio.run(
        _run(
            database_url,
            lambda c: c.execute(
                text("SELECT id, judged_at IS NOT NULL FROM device_events ORDER BY id")
            ).all(),
        )
    )
    assert [(row[0], bool(row[1])) for row in judged] == [
        (1, True),
        (2, True),
        (3, False),
        (4, False),
    ]

    migrate.downgrade(database_url, "0008")
    cursor = asyncio.run(
        _run(
            database_url,
            lambda c: c.execute(text("SELECT last_event_id FROM pipeline_cursors")).scalar(),
        )
    )
    assert cursor == 2  # back before the first unjudged event
