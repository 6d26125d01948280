"""The shift hand-over and the wall board in Chromium, as the people who use them: an operator
leaves a note for the next shift, whose operator finds it, marks it read, and the writer sees who
did; a supervisor's board shows an SOS pressed meanwhile (open incidents, its age counting up)
without a reload, and today's share answered within 60 s once it is acknowledged."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import Browser, expect
from sqlalchemy import delete, insert, select

from kernel.database import create_engine, session_factory
from kernel.models import Shift, StaffMember, StaffRole
from kernel.settings import Settings
from tests.callcenter.console.conftest import Street, screenshot, signed_in_page

NOTE = "3号楼电梯停用，上门请走楼梯；王阿姨下午三点需回电"


def _operators_on_and_next(settings: Settings) -> dict[str, str]:
    """op1 on duty until an hour from now, op2 the next operator on: the street's other
    operator shifts taken off the roster. Their names, by username."""

    async def work() -> dict[str, str]:
        engine = create_engine(settings.effective_database_url)
        now = dt.datetime.now(dt.UTC)
        try:
            async with session_factory(engine)() as session, session.begin():
                operators = {
                    m.username: m
                    for m in await session.scalars(
                        select(StaffMember).where(StaffMember.role == StaffRole.OPERATOR)
                    )
                }
                ids = [m.id for m in operators.values()]
                await session.execute(delete(Shift).where(Shift.staff_id.in_(ids)))
                for username, starts, ends in (("op1", -7, 1), ("op2", 1, 9)):
                    await session.execute(
                        insert(Shift).values(
                            staff_id=operators[username].id, centre_code="PH00",
                            starts_at=now + dt.timedelta(hours=starts),
                            ends_at=now + dt.timedelta(hours=ends),
                        )
                    )  # fmt: skip
                return {username: m.name for username, m in operators.items()}
        finally:
            await engine.dispose()

    # Playwright's sync API keeps an event loop on this thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


def _audited(settings: Settings, action: str) -> list[tuple[str, str]]:
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        query = "SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY id"
        return [(actor, detail) for actor, detail in db.execute(query, (action,)).fetchall()]


def test_an_operator_leaves_a_note_and_the_next_shifts_operator_reads_it(
    browser: Browser, street: Street, settings: Settings
) -> None:
    names = _operators_on_and_next(settings)
    writer = signed_in_page(browser, street, "op1")
    writer.click("nav a[href='/console/shift']")
    writer.wait_for_url("**/console/shift")
    street_centre = writer.locator("#staff tr[data-centre=PH00]")
    expect(street_centre.locator("td.on-duty li.person.online")).to_contain_text([names["op1"]])
    expect(street_centre.locator("td.next")).to_contain_text(names["op2"])
    writer.fill("#note-text", NOTE)
    writer.click("#note-form button[type=submit]")
    mine = writer.locator("#recent-notes li.note")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text(NOTE)
    expect(mine).to_contain_text("尚无人读")
    expect(writer.locator("#note-text")).to_have_value("")

    reader = signed_in_page(browser, street, "op2")
    reader.goto(street.base + "/console/shift")
    unread = reader.locator("#unread-notes li.note")
    expect(unread).to_have_count(1)
    expect(unread).to_contain_text(NOTE)
    expect(unread).to_contain_text(names["op1"])
    screenshot(reader, "console-shift-unread-note.png")
    unread.locator("button.mark-read").click()
    expect(unread).to_have_count(0)
    expect(reader.locator("#no-unread")).to_be_visible()
    expect(reader.locator("#recent-notes li.note")).to_contain_text(f"已读：{names['op2']}")
    street.press(street.hehua_terminal, button="main")  # the P1 banner is on this page too
    expect(reader.locator("#p1-banner")).to_be_visible()

    writer.reload()
    expect(writer.locator("#recent-notes li.note")).to_contain_text(f"已读：{names['op2']}")
    (written,) = _audited(settings, "shift.note_written")
    (read,) = _audited(settings, "shift.note_read")
    assert written[0] != read[0] and NOTE not in written[1]
    assert writer.errors == [] and reader.errors == []  # type: ignore[attr-defined]
    writer.context.close()
    reader.context.close()


def test_the_supervisors_board_shows_an_sos_as_it_happens_and_todays_answer_share(
    browser: Browser, street: Street
) -> None:
    supervisor = signed_in_page(browser, street, "sup1")
    supervisor.click("nav a[href='/console/board']")
    supervisor.wait_for_url("**/console/board")
    hehua = supervisor.locator("#board-incidents tbody tr[data-centre=PH03]")
    expect(hehua.locator("td.open")).to_have_text("0")
    expect(supervisor.locator("#board-open")).to_have_text("0")
    expect(supervisor.locator("#share-60 .value")).to_have_text("—")
    expect(supervisor.locator("#board-devices tbody tr[data-community=PH03]")).to_be_visible()

    street.press(street.hehua_terminal, button="main")  # no reload from here on
    expect(supervisor.locator("#board-open")).to_have_text("1")
    expect(hehua.locator("td.open")).to_have_text("1")
    expect(hehua.locator("td.p1")).to_have_text("1")
    expect(hehua.locator("td.band-0")).to_have_text("1")  # open under 3 minutes
    expect(supervisor.locator("#board-unacknowledged")).to_have_text("1")
    expect(supervisor.locator("#p1-banner")).to_be_visible()
    age = hehua.locator("td.oldest")
    expect(age).to_have_text(re.compile(r"^00:\d\d$"))
    first = age.inner_text()
    expect(age).not_to_have_text(first)  # counting up by itself

    (sos,) = supervisor.request.get(street.base + "/api/incidents").json()
    answer = supervisor.request.post(
        f"{street.base}/api/incidents/{sos['id']}/acknowledge", data={}
    )
    assert answer.ok, answer.text()
    share = supervisor.locator("#share-60")
    expect(share.locator(".value")).to_have_text("100.0%")
    expect(share).to_have_class("figure share met")
    expect(share.locator(".detail")).to_contain_text("1 / 1")
    expect(supervisor.locator("#board-unacknowledged")).to_have_text("0")
    expect(supervisor.locator("#p1-banner")).to_be_hidden()
    screenshot(supervisor, "console-board.png")
    assert supervisor.errors == []  # type: ignore[attr-defined]
    supervisor.context.close()
