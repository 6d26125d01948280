"""A re-import of the office's register never silently undoes a console edit: a phone or the
contacts changed in the console and otherwise in the file stay as the console has them, and the
import reports each as a conflict until the file agrees; the rest of the row is imported.
(SQLite and PostgreSQL.)"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from callcenter.register import columns
from callcenter.register.schemas import ImportReport
from eldercare.app import create_app
from eldercare.jobs import import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import StaffRole
from kernel.settings import Settings
from tests.callcenter.elders.conftest import (
    act_as,
    elder_id,
    elder_rows,
    prepare_street,
)
from tests.factories import AS_OF, acting_as, create_register_csv


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """The test's settings on SQLite and on PostgreSQL."""
    return settings.model_copy(update={"database_url": database_url})


def rows_of(settings: Settings, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        engine = create_engine(settings.effective_database_url)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in await connection.execute(text(sql), params)]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def reimport(settings: Settings, path: Path) -> ImportReport:
    async def run() -> ImportReport:
        engine = create_engine(settings.effective_database_url)
        try:
            return await import_register_file(
                session_factory(engine), path, as_of=AS_OF, actor="office"
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_console_edits_are_kept_and_reported_until_the_file_agrees(
    settings: Settings, tmp_path: Path
) -> None:
    rows = elder_rows()
    prepare_street(settings, tmp_path, [rows.xiuying, rows.jianhua])
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        xiuying = elder_id(client, "王秀英")
        act_as(client, StaffRole.OPERATOR, "PH00", staff_id=4)
        profile = client.get(f"/api/elders/{xiuying}").json()
        (contact,) = profile["contacts"]
        edited = client.put(
            f"/api/elders/{xiuying}/phones",
            json={"version": profile["version"], "phone": "13800001111"},
        )
        assert edited.status_code == 200, edited.text
        edited = client.put(
            f"/api/elders/{xiuying}/contacts",
            json={"version": edited.json()["version"], "contacts": [
                {"id": contact["id"], "name": contact["name"], "relation": contact["relation"],
                 "phone": "13900001234"}]},
        )  # fmt: skip
        assert edited.status_code == 200, edited.text

        # The office's next file: another phone and another contact number for 王秀英, new
        # remarks (her row changed); 王建华 moved house.
        xiuying_row = {**rows.xiuying, columns.OWN_PHONE: "13800009999",
                       columns.CONTACT1_PHONE: "13900007777", columns.REMARKS: "耳背"}  # fmt: skip
        jianhua_row = {**rows.jianhua, columns.ADDRESS: "深圳市龙岗区平湖街道禾花社区新村8号"}
        office = create_register_csv(tmp_path / "next.csv", [xiuying_row, jianhua_row])
        report = reimport(settings, office)
        assert (report.summary.updated, report.summary.conflicts) == (2, 2)
        assert [(c.elder_id, c.field, c.in_console, c.in_file, c.edited_by) for c in report.conflicts] == [
            (xiuying, "phone", "13800001111", "13800009999", "staff:4"),
            (xiuying, "contacts", f"{contact['name']} ({contact['relation']}) 13900001234",
             f"{contact['name']} ({contact['relation']}) 13900007777", "staff:4"),
        ]  # fmt: skip
        assert report.by_reason["console_edit_kept"] == 2
        after = client.get(f"/api/elders/{xiuying}").json()
        assert after["phone"] == "13800001111"
        assert [(c["id"], c["phone"]) for c in after["contacts"]] == [
            (contact["id"], "13900001234")
        ]
        assert after["remarks"] == "耳背"  # what the console did not touch is imported
        # An edit based on what the operator saw before the import is stale.
        assert after["version"] > edited.json()["version"]
        jianhua = client.get(f"/api/elders/{elder_id(client, '王建华')}").json()
        assert jianhua["address"].endswith("新村8号")

        # The same file again: nothing in it changed, and it still disagrees: reported again.
        again = reimport(settings, office)
        assert (again.summary.updated, again.summary.conflicts) == (0, 2)
        assert client.get(f"/api/elders/{xiuying}").json()["phone"] == "13800001111"

        # The office catches up on the phone: its mark goes, the contacts' stays.
        caught_up = {**xiuying_row, columns.OWN_PHONE: "13800001111"}
        report = reimport(settings, create_register_csv(tmp_path / "c.csv", [caught_up]))
        assert [c.field for c in report.conflicts] == ["contacts"]
        ((marks,),) = rows_of(
            settings, "SELECT console_edits FROM elders WHERE id = :id", id=xiuying
        )
        marks = json.loads(marks) if isinstance(marks, str) else marks
        assert set(marks) == {"contacts"}
        # From then on the file is the register again for the phone.
        later = {**caught_up, columns.OWN_PHONE: "13800002222"}
        report = reimport(settings, create_register_csv(tmp_path / "l.csv", [later]))
        assert [c.field for c in report.conflicts] == ["contacts"]
        assert client.get(f"/api/elders/{xiuying}").json()["phone"] == "13800002222"


def test_an_elder_never_edited_in_the_console_follows_the_file(
    settings: Settings, tmp_path: Path
) -> None:
    rows = elder_rows()
    prepare_street(settings, tmp_path, [rows.xiuying])
    changed = {**rows.xiuying, columns.OWN_PHONE: "13800009999",
               columns.CONTACT1_PHONE: "13900007777"}  # fmt: skip
    report = reimport(settings, create_register_csv(tmp_path / "n.csv", [changed]))
    assert (report.summary.updated, report.summary.conflicts, report.conflicts) == (1, 0, [])
    ((phone, version, marks),) = rows_of(
        settings, "SELECT phone, version, console_edits FROM elders"
    )
    assert (phone, version, marks) == ("13800009999", 2, None)
    assert rows_of(settings, "SELECT phone FROM emergency_contacts") == [("13900007777",)]
