"""Migration 0011 adds the life status in place: up and down again, with elders registered,
nobody's contacts, devices or incidents are lost (rebuilding `elders` the batch way would
delete them by cascade). (SQLite and PostgreSQL.)"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from kernel import migrate
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions
from tests.callcenter.privacy.conftest import make_street, on_database

COUNTS = (
    "SELECT (SELECT count(*) FROM elders), (SELECT count(*) FROM emergency_contacts), "
    "(SELECT count(*) FROM devices WHERE elder_id IS NOT NULL)"
)


async def _counts(sessions: Sessions) -> tuple[int, ...]:
    async with sessions() as session:
        return tuple((await session.execute(text(COUNTS))).one())


def test_the_life_status_comes_and_goes_without_losing_a_contact(
    migrated_url: str, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"database_url": migrated_url})
    on_database(settings, lambda s: make_street(s, settings, tmp_path))
    before = on_database(settings, _counts)
    assert before == (2, 2, 5)  # her terminal, monitor and door; his terminal and monitor

    migrate.downgrade(migrated_url, "0010")
    assert on_database(settings, _counts) == before
    migrate.upgrade(migrated_url)

    assert on_database(settings, _counts) == before

    async def statuses(sessions: Sessions) -> list[str]:
        async with sessions() as session:
            return list((await session.scalars(text("SELECT life_status FROM elders"))).all())

    assert on_database(settings, statuses) == ["active", "active"]
