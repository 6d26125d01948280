"""A small street behind the whole API: its database seeded once, copied for each run."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import shutil
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from callcenter.accounts import repository as accounts
from callcenter.accounts.service import SESSION_LIFETIME, token_hash
from callcenter.pipeline.tasks import process_pending
from callcenter.register import columns
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import Device, DeviceEvent, StaffMember
from kernel.settings import Settings
from tests.conftest import free_port
from tests.databases import migrate_fresh
from tests.factories import AS_OF, create_passwords, create_register_csv, create_row

DATABASE = "eldercare.db"
# One person of each role, as the demo street names them (eldercare.jobs).
MEMBERS = {"operator": "op1", "supervisor": "sup1", "admin": "admin", "community_worker": "ph03-w1"}


def street_settings(data_dir: Path) -> Settings:
    """Embedded defaults on this data folder; SMS to the outbox."""
    return Settings(_env_file=None, data_dir=data_dir, mqtt_port=free_port())  # type: ignore[call-arg]


async def _seed(settings: Settings, tmp: Path) -> None:
    """Three elders (one with a second contact), the demo staff with passwords, the roster, a
    reading and an SOS judged into an incident (its family SMS queued)."""
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    rows = [
        create_row(),
        create_row(**{columns.CONTACT2_NAME: "李华", columns.CONTACT2_RELATION: "女儿",
                      columns.CONTACT2_PHONE: "13912345678"}),
        create_row(**{columns.COMMUNITY: "良安田社区", columns.NAME: "陈建国", columns.SEX: "男"}),
    ]  # fmt: skip
    await import_register_file(
        sessions, create_register_csv(tmp / "register.csv", rows), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    await create_passwords(sessions)
    async with sessions() as session, session.begin():
        terminal = rows[0][columns.SOS_TERMINAL]
        elder = await session.scalar(select(Device.elder_id).where(Device.id == terminal))
        now = dt.datetime.now(dt.UTC)
        for number, (kind, payload) in enumerate(
            [("vitals", {"bp_sys": 128, "bp_dia": 82, "hr": 72}), ("sos", {})]
        ):
            await session.execute(
                insert(DeviceEvent).values(
                    device_id=terminal, message_id=f"seed-{number}", type=kind, elder_id=elder,
                    device_ts=now, received_at=now, transport="mqtt",
                    payload={"type": kind, **payload},
                )
            )  # fmt: skip
    await process_pending(sessions, settings)
    await engine.dispose()


@pytest.fixture(scope="session")
def seeded_street(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded database file, made once for the whole run."""
    data_dir = tmp_path_factory.mktemp("street")
    settings = street_settings(data_dir)
    migrate_fresh(settings.effective_database_url)
    asyncio.run(_seed(settings, data_dir))
    return data_dir / DATABASE


def copy_street(seeded: Path, data_dir: Path) -> Settings:
    """Settings on a copy of the seeded street, for a run of its own."""
    data_dir.mkdir(mode=0o700, exist_ok=True)
    shutil.copy(seeded, data_dir / DATABASE)
    return street_settings(data_dir)


async def _open_session(settings: Settings, username: str) -> str:
    engine = create_engine(settings.effective_database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            member = await session.scalar(
                select(StaffMember).where(StaffMember.username == username)
            )
            assert member is not None, username
            token = secrets.token_urlsafe(32)
            now = dt.datetime.now(dt.UTC)
            await accounts.add_session(
                session, token_hash(token), member.id, now, now + SESSION_LIFETIME
            )
        return token
    finally:
        await engine.dispose()


def bearer_token(settings: Settings, username: str) -> str:
    """A signed-in session for this person, opened in the database (as a sign-in would), so
    that a run can sign in again after it changed the person's password or signed them out."""
    return asyncio.run(_open_session(settings, username))
