"""create_* helpers for test data: register rows and files as the street office writes them."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import openpyxl
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.accounts.endpoints import current_actor
from callcenter.accounts.schemas import Actor
from callcenter.accounts.service import give_demo_passwords
from callcenter.register import columns
from callcenter.register.national_id import check_character
from devices.ids import luhn_check_digit
from kernel.models import StaffRole

AS_OF = dt.date(2026, 11, 23)
_sequence = itertools.count(1)


def create_national_id(birth: dt.date, *, male: bool = True, region: str = "440307") -> str:
    """A valid resident ID number for this birth date and sex (unique per call)."""
    sequence = next(_sequence)
    # The 17th digit is odd for men, even for women; the two before it make the number unique.
    order = f"{sequence % 100:02d}{2 * (sequence // 100 % 5) + (1 if male else 0)}"
    first17 = f"{region}{birth:%Y%m%d}{order}"
    return first17 + check_character(first17)


def create_imei(serial: int | None = None) -> str:
    """A valid 15-digit IMEI (Luhn check digit), unique per call."""
    body = f"8645{serial if serial is not None else next(_sequence):010d}"
    return body + str(luhn_check_digit(body))


def create_row(**overrides: str) -> dict[str, str]:
    """A register row of a valid elder (aged 76 on AS_OF), any cell overridable by header."""
    birth = dt.date(1950, 3, 7)
    number = next(_sequence)
    row = {
        columns.SERIAL: str(number),
        columns.NAME: "王秀英",
        columns.SEX: "女",
        columns.NATIONAL_ID: create_national_id(birth, male=False),
        columns.BIRTH_DATE: birth.isoformat(),
        columns.COMMUNITY: "禾花社区",
        columns.ADDRESS: "深圳市龙岗区平湖街道禾花社区华南大道1号1栋101",
        columns.LONGITUDE: "114.130200",
        columns.LATITUDE: "22.668400",
        columns.OWN_PHONE: "",
        columns.LIVING: "独居",
        columns.CONDITIONS: "高血压；糖尿病",
        columns.SELF_CARE: "自理",
        columns.CONTACT1_NAME: "李明",
        columns.CONTACT1_RELATION: "儿子",
        columns.CONTACT1_PHONE: f"139{number % 100_000_000:08d}",
        columns.CONTACT2_NAME: "",
        columns.CONTACT2_RELATION: "",
        columns.CONTACT2_PHONE: "",
        columns.SOS_TERMINAL: create_imei(),
        columns.HEALTH_MONITOR: f"BP{number:010d}",
        columns.DOOR_SENSOR: "",
        columns.REMARKS: "",
    }
    row.update(overrides)
    return row


def create_register_csv(
    path: Path, rows: list[dict[str, str]], *, encoding: str = "utf-8-sig"
) -> Path:
    """Write rows as the street office exports them: BOM, CRLF, Chinese headers."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns.HEADERS), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def create_register_xlsx(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write rows into the first sheet of a workbook, as the street office keeps the register."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(columns.HEADERS))
    for row in rows:
        sheet.append([row[header] for header in columns.HEADERS])
    workbook.save(path)
    return path


# --- Staff accounts: API tests act as a signed-in person (callcenter/accounts) -------------

TEST_PASSWORD = "test-password-7"


async def create_passwords(
    sessions: async_sessionmaker[AsyncSession], password: str = TEST_PASSWORD
) -> None:
    """Give every staff member without one this password, so tests can sign in as anybody."""
    async with sessions() as session, session.begin():
        await give_demo_passwords(session, password)


def sign_in(client: TestClient, username: str, password: str = TEST_PASSWORD) -> dict[str, Any]:
    """Sign the test client in (it keeps the session cookie); returns who it is now."""
    answer = client.post("/api/auth/sign-in", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    me: dict[str, Any] = answer.json()
    return me


def acting_as(
    app: FastAPI,
    role: StaffRole = StaffRole.ADMIN,
    *,
    staff_id: int | None = None,
    centre_code: str | None = None,
) -> FastAPI:
    """The app with every request made as this person, without signing in: for other features'
    API tests (sign-in itself is tested in tests/callcenter/accounts). The default is the street's
    system, an admin of no centre: what every request was before sign-in existed."""
    actor = Actor(staff_id=staff_id, role=role, centre_code=centre_code)
    app.dependency_overrides[current_actor] = lambda: actor
    return app
