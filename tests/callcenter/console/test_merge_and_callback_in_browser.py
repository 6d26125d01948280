"""One emergency, one case, in the console as the operator does it: merging an elder's welfare
check into their SOS on the incident screen, resolving an SOS as pressed by mistake, and calling
back an elder who cancelled their SOS (a call-back task in the queue, its result recorded)."""

from __future__ import annotations

import asyncio

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from callcenter.incidents.service import raise_incident
from kernel.database import create_engine, session_factory
from kernel.models import Device, IncidentKind, utcnow
from kernel.settings import Settings
from tests.callcenter.console.conftest import (
    Street,
    _off_the_browser_loop,
    screenshot,
    signed_in_page,
)


def welfare_check_of(settings: Settings, terminal: str) -> int:
    """A welfare check opened now for the elder of this terminal (the daytime check's finding)."""

    async def run() -> int:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            elder = await session.scalar(select(Device.elder_id).where(Device.id == terminal))
            incident = await raise_incident(
                session, IncidentKind.WELFARE, settings, utcnow(), elder_id=elder,
                device_id=None, reason="no_door_activity", summary="独居老人家门 12.5 小时无开关门记录",
            )  # fmt: skip
            found = incident.id
        await engine.dispose()
        return found

    return _off_the_browser_loop(lambda: asyncio.run(run()))


def test_an_operator_merges_an_elders_welfare_check_into_their_sos(
    browser: Browser, street: Street, settings: Settings
) -> None:
    welfare = welfare_check_of(settings, street.hehua_terminal)  # before the queue loads it
    page = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(2)  # a welfare check is a matter of its own: not joined
    rows.filter(has_text="一键呼救").locator("a.button").click()
    sos = int(page.url.rsplit("/", 1)[1])
    chosen = page.locator("#link-other option")
    expect(chosen).to_have_count(1)
    expect(chosen).to_contain_text(f"警情 {welfare} · P3 · 关怀探访")

    page.fill("#link-note", "同一件事：探访时老人按了呼救")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#merge-submit")
    expect(page.locator("#action-ok")).to_have_text("已合并")
    merged_in = page.locator("#linked-list li[data-relation=merged_in]")
    expect(merged_in).to_contain_text(f"已并入本案 警情 {welfare} · 关怀探访 · 已关闭")
    expect(page.locator("#timeline li[data-action=merged_in]")).to_contain_text("警情并入本案")
    expect(page.locator("#timeline li[data-action=merged_in]")).to_contain_text(
        f"并入的警情 警情 {welfare} · 类型 关怀探访 · 同一件事：探访时老人按了呼救"
    )
    expect(page.locator("#link-no-other")).to_be_visible()  # nothing left to merge
    screenshot(page, "console-merged-case.png")

    # The merged one points to the case, closed, its worker released.
    merged_in.locator("a").click()
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "closed")
    expect(page.locator("#merged-into")).to_have_text(f"已并入 警情 {sos}")
    expect(page.locator("#incident-head")).to_contain_text("处理结果: 已并入另一警情")
    expect(page.locator("#timeline li[data-action=merged_into]")).to_contain_text(
        f"并入 警情 {sos}"
    )
    page.click("#merged-into")
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "assigned")
    page.goto(street.base + "/console")
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_an_operator_resolves_an_sos_as_pressed_by_mistake(
    browser: Browser, street: Street
) -> None:
    page = signed_in_page(browser, street, "op1")
    street.press(street.pinghu_terminal, button="main")
    page.locator("#queue tbody tr a.button").first.click()
    page.click("#acknowledge")
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "acknowledged")
    expect(page.locator("#outcome option[value=device_test]")).to_have_text("设备测试")
    page.select_option("#outcome", "accidental_press")
    page.fill("#resolve-note", "老人说手碰到了")
    page.click("#resolve-submit")
    expect(page.locator("#action-error")).to_be_hidden()
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "resolved")
    expect(page.locator("#incident-head")).to_contain_text("处理结果: 误按")
    expect(page.locator("#timeline li[data-action=resolved]")).to_contain_text("处理结果 误按")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_cancelled_sos_is_a_call_back_task_and_the_call_back_is_recorded(
    browser: Browser, street: Street
) -> None:
    page = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    street.press(street.hehua_terminal, "cancel", ref="press-1")
    task = page.locator("#queue tbody tr[data-callback=owed]")
    expect(task).to_have_count(1)
    expect(task.locator(".kind")).to_contain_text("回拨 · 时限")
    expect(task.locator(".centre")).to_have_text("街道呼叫中心")  # the street calls back
    screenshot(page, "console-queue-call-back.png")
    task.locator("a.button").click()

    callback = page.locator("#callback")
    expect(callback).to_be_visible()
    expect(callback).to_contain_text("长者已取消呼叫")
    expect(page.locator("#callback-due")).not_to_be_empty()
    expect(page.locator("#timeline li[data-action=callback_requested]")).to_contain_text(
        "转为回拨任务"
    )
    page.select_option("#callback-result", "pressed_by_mistake")
    page.fill("#callback-note", "老人说按错了，一切安好")
    page.click("#callback-submit")
    expect(page.locator("#action-ok")).to_have_text("已记录回拨结果")
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "resolved")
    expect(callback).to_be_hidden()
    expect(page.locator("#timeline li[data-action=called_back]")).to_contain_text(
        "回拨结果 误按 · 老人说按错了，一切安好"
    )
    expect(page.locator("#incident-head")).to_contain_text("处理结果: 误按")
    screenshot(page, "console-called-back.png")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
