"""Migration 0018 lets `incidents.kind` hold `trend` without touching the incidents already
there (on SQLite, rebuilding the table would delete their steps by cascade), and taking it back
removes the trend notices first."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kernel import migrate
from kernel.database import create_engine

CENTRE = (
    "INSERT INTO centres (code, name, name_en, centre_name, tier, lat, lon) "
    "VALUES ('PH03', '禾花社区', 'Hehua', '禾花社区夕阳红中心', 'community', 22.67, 114.13)"
)
INCIDENT = (
    "INSERT INTO incidents (id, kind, priority, status, centre_code, routing, cancelled_by_elder,"
    " opened_at, escalation_level) VALUES (:id, :kind, 3, 'new', 'PH03', '', false,"
    " CURRENT_TIMESTAMP, 0)"
)
STEP = (
    "INSERT INTO incident_timeline (incident_id, at, actor, action, detail)"
    " VALUES (:id, CURRENT_TIMESTAMP, 'system', 'opened', '{}')"
)


def _run(url: str, *statements: tuple[str, dict[str, object]]) -> None:
    asyncio.run(_execute(url, *statements))


async def _execute(url: str, *statements: tuple[str, dict[str, object]]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement, values in statements:
                await connection.execute(text(statement), values)
    finally:
        await engine.dispose()


def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    return asyncio.run(_fetch(url, query))


async def _fetch(url: str, query: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(query))]
    finally:
        await engine.dispose()


def test_trend_kind_comes_and_goes_with_the_migration(database_url: str) -> None:
    migrate.upgrade(database_url, "0017")
    _run(database_url, (CENTRE, {}), (INCIDENT, {"id": 1, "kind": "sos"}), (STEP, {"id": 1}))
    with pytest.raises(IntegrityError):  # the kinds' CHECK of 0017 knows no trend
        _run(database_url, (INCIDENT, {"id": 2, "kind": "trend"}))

    migrate.upgrade(database_url, "0018")

    _run(database_url, (INCIDENT, {"id": 2, "kind": "trend"}), (STEP, {"id": 2}))
    with pytest.raises(IntegrityError):  # still a CHECK: a kind nobody wrote is refused
        _run(database_url, (INCIDENT, {"id": 3, "kind": "gossip"}))
    steps = "SELECT incident_id FROM incident_timeline ORDER BY incident_id"
    assert _rows(database_url, steps) == [(1,), (2,)]  # the old incident kept its step

    migrate.downgrade(database_url, "0017")

    assert _rows(database_url, "SELECT id, kind FROM incidents") == [(1, "sos")]
    assert _rows(database_url, steps) == [(1,)]
    with pytest.raises(IntegrityError):
        _run(database_url, (INCIDENT, {"id": 4, "kind": "trend"}))
