"""Importing register files into the database: idempotent, updating, all-or-nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.register import columns
from callcenter.register.reader import NotARegisterError
from eldercare.jobs import import_register_file
from kernel.models import AuditEntry, Device, Elder, EmergencyContact, RegisterIssue
from tests.factories import (
    AS_OF,
    create_imei,
    create_register_csv,
    create_register_xlsx,
    create_row,
)

Sessions = async_sessionmaker[AsyncSession]


async def count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def run_import(sessions: Sessions, path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return await import_register_file(sessions, path, as_of=AS_OF, actor="test", **kwargs)  # type: ignore[arg-type]


async def test_import_creates_elders_contacts_and_bound_devices(
    sessions: Sessions, tmp_path: Path
) -> None:
    rows = [create_row(), create_row(**{columns.CONTACT2_NAME: "张伟", columns.CONTACT2_RELATION: "邻居",
                                         columns.CONTACT2_PHONE: "13800001111"})]  # fmt: skip
    report = await run_import(sessions, create_register_csv(tmp_path / "r.csv", rows))
    assert (report.summary.created, report.summary.imported) == (2, 2)
    assert await count(sessions, Elder) == 2
    assert await count(sessions, EmergencyContact) == 3
    async with sessions() as session:
        devices = (await session.scalars(select(Device))).all()
        elder = await session.scalar(
            select(Elder).where(Elder.national_id == rows[0][columns.NATIONAL_ID])
        )
    assert elder is not None
    bound = {d.id: d.elder_id for d in devices}
    assert bound[rows[0][columns.SOS_TERMINAL]] == elder.id
    assert all(len(d.secret) >= 20 for d in devices)
    assert len({d.secret for d in devices}) == len(devices)


async def test_reimporting_the_same_file_changes_nothing(
    sessions: Sessions, tmp_path: Path
) -> None:
    path = create_register_csv(tmp_path / "r.csv", [create_row() for _ in range(5)])
    await run_import(sessions, path)
    async with sessions() as session:
        before = [(e.id, e.updated_at) for e in (await session.scalars(select(Elder))).all()]
        secrets_before = {d.id: d.secret for d in (await session.scalars(select(Device))).all()}
    audit_before = await count(sessions, AuditEntry)

    report = await run_import(sessions, path)

    assert (report.summary.created, report.summary.updated, report.summary.unchanged) == (0, 0, 5)
    async with sessions() as session:
        after = [(e.id, e.updated_at) for e in (await session.scalars(select(Elder))).all()]
        secrets_after = {d.id: d.secret for d in (await session.scalars(select(Device))).all()}
    assert after == before
    assert secrets_after == secrets_before
    assert await count(sessions, AuditEntry) == audit_before + 1  # only the import itself


async def test_an_updated_file_updates_only_the_changed_elders(
    sessions: Sessions, tmp_path: Path
) -> None:
    rows = [create_row() for _ in range(3)]
    await run_import(sessions, create_register_csv(tmp_path / "v1.csv", rows))
    old_terminal = rows[1][columns.SOS_TERMINAL]
    rows[1] = {
        **rows[1],
        columns.CONTACT1_PHONE: "13700002222",
        columns.SOS_TERMINAL: create_imei(),
    }

    report = await run_import(sessions, create_register_csv(tmp_path / "v2.csv", rows))

    assert (report.summary.created, report.summary.updated, report.summary.unchanged) == (0, 1, 2)
    assert await count(sessions, Elder) == 3
    async with sessions() as session:
        elder = await session.scalar(
            select(Elder).where(Elder.national_id == rows[1][columns.NATIONAL_ID])
        )
        assert elder is not None
        phones = (
            await session.scalars(
                select(EmergencyContact.phone).where(EmergencyContact.elder_id == elder.id)
            )
        ).all()
        old = await session.get(Device, old_terminal)
        new = await session.get(Device, rows[1][columns.SOS_TERMINAL])
        updated = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "elder.updated")
        )
    assert phones == ["13700002222"]
    assert old is not None and old.elder_id is None  # the elder no longer lists it
    assert new is not None and new.elder_id == elder.id
    assert updated == 1


async def test_rejected_and_warned_rows_are_kept_for_review(
    sessions: Sessions, tmp_path: Path
) -> None:
    rows = [
        create_row(),
        create_row(**{columns.NAME: ""}),
        create_row(**{columns.CONTACT1_PHONE: "无"}),
    ]
    report = await run_import(sessions, create_register_csv(tmp_path / "r.csv", rows))
    assert (report.summary.imported, report.summary.rejected, report.summary.warned) == (2, 1, 1)
    async with sessions() as session:
        kept = (
            await session.scalars(select(RegisterIssue).order_by(RegisterIssue.row_number))
        ).all()
    assert [(i.row_number, i.code, i.column) for i in kept] == [
        (3, "name_missing", columns.NAME),
        (4, "contact_phone_not_mobile", columns.CONTACT1_PHONE),
    ]
    assert kept[0].raw[columns.NATIONAL_ID] == rows[1][columns.NATIONAL_ID]


async def test_xlsx_register_imports_like_the_csv(sessions: Sessions, tmp_path: Path) -> None:
    rows = [create_row() for _ in range(4)]
    report = await run_import(sessions, create_register_xlsx(tmp_path / "r.xlsx", rows))
    assert report.summary.created == 4
    report_again = await run_import(sessions, create_register_csv(tmp_path / "r.csv", rows))
    assert report_again.summary.unchanged == 4


def _wrong_headers(path: Path) -> Path:
    path.write_text("name,phone\r\n王秀英,13900001111\r\n", encoding="utf-8")
    return path


def _gbk(path: Path) -> Path:
    return create_register_csv(path, [create_row()], encoding="gb18030")


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _header_only(path: Path) -> Path:
    return create_register_csv(path, [])


def _not_a_workbook(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 this is not really a workbook")
    return path


@pytest.mark.parametrize(
    ("make", "name", "says"),
    [
        (_wrong_headers, "r.csv", "missing columns"),
        (_gbk, "r.csv", "--encoding gb18030"),
        (_empty, "r.csv", "empty"),
        (_header_only, "r.csv", "no elder rows"),
        (_not_a_workbook, "r.xlsx", "not a readable .xlsx"),
    ],
)
async def test_a_file_that_is_not_a_register_is_refused_and_changes_nothing(
    sessions: Sessions,
    tmp_path: Path,
    make,
    name: str,
    says: str,  # type: ignore[no-untyped-def]
) -> None:
    await run_import(sessions, create_register_csv(tmp_path / "good.csv", [create_row()]))
    with pytest.raises(NotARegisterError, match=says):
        await run_import(sessions, make(tmp_path / name))
    assert await count(sessions, Elder) == 1


async def test_gbk_file_imports_when_its_encoding_is_named(
    sessions: Sessions, tmp_path: Path
) -> None:
    report = await run_import(sessions, _gbk(tmp_path / "r.csv"), encoding="gb18030")
    assert report.summary.created == 1


async def test_dry_run_reports_but_saves_nothing(sessions: Sessions, tmp_path: Path) -> None:
    path = create_register_csv(tmp_path / "r.csv", [create_row(), create_row(**{columns.NAME: ""})])
    report = await run_import(sessions, path, dry_run=True)
    assert (report.summary.imported, report.summary.rejected) == (1, 1)
    assert await count(sessions, Elder) == 0
    assert await count(sessions, RegisterIssue) == 0


async def test_audit_log_holds_no_personal_data(sessions: Sessions, tmp_path: Path) -> None:
    rows = [create_row(**{columns.OWN_PHONE: "13512345678"}) for _ in range(3)]
    await run_import(sessions, create_register_csv(tmp_path / "r.csv", rows))
    async with sessions() as session:
        entries = (await session.scalars(select(AuditEntry))).all()
    dumped = json.dumps([[e.subject_id, e.detail] for e in entries], ensure_ascii=False)
    assert len(entries) > 3
    for row in rows:
        for column in (
            columns.NATIONAL_ID,
            columns.OWN_PHONE,
            columns.CONTACT1_PHONE,
            columns.NAME,
        ):
            assert row[column] not in dumped
