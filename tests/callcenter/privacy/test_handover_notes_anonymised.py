"""Anonymising an elder blanks every hand-over note that names them or holds one of their
numbers (phones written with spaces or dashes, the ID number in either case), at any centre,
keeping the note's author, centre, time and read marks; other notes stay as written; the
audit row counts them. (SQLite and PostgreSQL.)"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from callcenter.privacy.service import ANONYMISED_NOTE
from callcenter.privacy.tasks import anonymise_due
from kernel.models import (
    AuditEntry,
    Elder,
    HandoverNote,
    HandoverNoteRead,
    StaffMember,
    utcnow,
)
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions
from tests.callcenter.privacy.conftest import Street, mark_departed

DAY = dt.timedelta(days=1)


async def _write_notes(sessions: Sessions, texts: list[tuple[str, str]]) -> dict[str, int]:
    """Notes by a worker of 禾花, at the given centres; the ids by text. Each is read once."""
    written = utcnow() - 10 * DAY
    async with sessions() as session, session.begin():
        author = await session.scalar(
            select(StaffMember.id).where(StaffMember.username == "ph03-w1")
        )
        reader = await session.scalar(select(StaffMember.id).where(StaffMember.username == "op1"))
        assert author is not None and reader is not None
        ids: dict[str, int] = {}
        for centre, text in texts:
            ids[text] = (
                await session.execute(
                    insert(HandoverNote)
                    .values(
                        centre_code=centre, author_staff_id=author, text=text, written_at=written
                    )
                    .returning(HandoverNote.id)
                )
            ).scalar_one()
            await session.execute(
                insert(HandoverNoteRead).values(note_id=ids[text], staff_id=reader, read_at=written)
            )
        return ids


async def test_notes_naming_the_elder_or_holding_their_numbers_are_blanked(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    async with sessions() as session, session.begin():
        elder = await session.get(Elder, street.leaving)
        assert elder is not None
        elder.second_phone = "075528912345"
    naming = [
        ("PH03", "王秀英下午三点需回电"),
        ("PH00", "13800004321 来电说钥匙丢了"),
        ("PH03", "请回拨 138 0000-4321"),
        ("PH00", "座机 0755-2891 2345 无人接"),
        ("PH03", f"核对身份证 {street.national_id.lower()}"),
    ]
    others = [
        ("PH03", "3号楼电梯停用，上门走楼梯"),
        ("PH03", "李建国明早复诊，需陪同"),
        ("PH00", "13800009999 是另一位长者的电话"),
    ]
    ids = await _write_notes(sessions, naming + others)
    async with sessions() as session:
        before = {
            note.id: (note.author_staff_id, note.centre_code, note.written_at)
            for note in await session.scalars(select(HandoverNote))
        }
    now = utcnow()
    await mark_departed(sessions, street.leaving, on=now.date() - 400 * DAY, now=now)
    period = dt.timedelta(days=settings.privacy_retention_days)

    assert await anonymise_due(sessions, settings, now + period + DAY) == [street.leaving]

    async with sessions() as session:
        notes = {note.id: note for note in await session.scalars(select(HandoverNote))}
        reads = (await session.scalars(select(HandoverNoteRead.note_id))).all()
        audited = await session.scalar(
            select(AuditEntry.detail).where(AuditEntry.action == "elder.anonymised")
        )
    assert {text: notes[ids[text]].text for _, text in naming} == {
        text: ANONYMISED_NOTE for _, text in naming
    }
    assert {text: notes[ids[text]].text for _, text in others} == {text: text for _, text in others}
    after = {
        note.id: (note.author_staff_id, note.centre_code, note.written_at)
        for note in notes.values()
    }
    assert after == before
    assert sorted(reads) == sorted(ids.values())
    assert audited is not None and audited["handover_notes"] == len(naming)
    # Again: nothing left to blank, nothing changes.
    assert await anonymise_due(sessions, settings, now + period + 2 * DAY) == []
