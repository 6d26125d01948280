"""The street office's whole register export (tests/data/pinghu_elders.csv, 17,012 rows)."""

from __future__ import annotations

import collections
import datetime as dt
import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eldercare.jobs import import_register_file
from kernel.models import Elder, IssueSeverity

DATA = Path(__file__).parents[2] / "data"
# The export's defects were made against this day; later, some under-60 rows turn 60.
EXPORT_DAY = dt.date(2026, 11, 23)


async def test_the_shared_register_yields_exactly_16884_elders(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    report = await import_register_file(
        sessions, DATA / "pinghu_elders.csv", as_of=EXPORT_DAY, actor="test"
    )
    expected = json.loads((DATA / "pinghu_expected_rows.json").read_text(encoding="utf-8"))

    assert report.summary.rows == 17_012
    assert report.summary.imported == 16_884
    assert (report.summary.rejected, report.summary.warned) == (128, 42)
    rejected = sorted({i.row for i in report.issues if i.severity is IssueSeverity.REJECTED})
    warned = sorted({i.row for i in report.issues if i.severity is IssueSeverity.WARNING})
    assert rejected == expected["rejected_rows"]
    assert warned == expected["warned_rows"]
    per_reason = collections.Counter(i.code for i in report.issues)
    assert per_reason == {
        "name_missing": 16,
        "national_id_missing": 16,
        "national_id_check": 16,
        "national_id_duplicate": 16,
        "birth_date_mismatch": 16,
        "under_60": 16,
        "community_not_in_pinghu": 16,
        "position_outside_shenzhen": 16,
        "imei_check_digit": 14,
        "device_already_bound": 14,
        "contact_phone_not_mobile": 14,
    }
    assert all(i.column and i.serial for i in report.issues)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Elder)) == 16_884
