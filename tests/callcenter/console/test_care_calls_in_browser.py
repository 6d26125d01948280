"""Proactive care calls in the console, in Chromium, as the operator: today's list shows the call
owed to an elder living alone, with her number as a tel: link; two unanswered tries send a
welfare visit that reaches the 禾花 worker's phone; a call answered "fine" leaves the calls to
make and shows among today's closed ones; the counts by centre follow."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from kernel.settings import Settings
from tests.callcenter.console.conftest import LIVE_MS, Street, screenshot, signed_in_page
from tests.conftest import free_port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Every elder living alone owed their first weekly call today (not spread over the week),
    and calls made at any hour, so that the test reads the same whatever the time."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", mqtt_port=free_port(),
        care_calls_first_spread_days=1, care_calls_hours="00:00-00:00",
    )  # fmt: skip


def _calls_made(page: Page, street: Street, count: int) -> dict[str, dict[str, Any]]:
    """The open calls by the elder's name, once the app's own loop has made the day's list."""
    deadline = time.monotonic() + LIVE_MS / 1000
    while True:
        calls = page.request.get(street.base + "/api/care-calls").json()
        if len(calls) >= count:
            return {call["elder_name"]: call for call in calls}
        assert time.monotonic() < deadline, f"the day's care-call list was not made: {calls}"
        time.sleep(0.2)


def test_the_operator_works_today_s_care_calls(browser: Browser, street: Street) -> None:
    operator = signed_in_page(browser, street, "op1")
    calls = _calls_made(operator, street, 2)
    xiuying, jianguo = calls["王秀英"], calls["陈建国"]
    # Her own number, kept on her page (the register had none).
    profile = operator.request.get(f"{street.base}/api/elders/{xiuying['elder_id']}").json()
    phones = operator.request.put(
        f"{street.base}/api/elders/{xiuying['elder_id']}/phones",
        data={"version": profile["version"], "phone": "13800138000"},
    )
    assert phones.ok, phones.text()

    operator.click("nav a[href='/console/care-calls']")
    row = operator.locator(f"#calls tbody tr[data-call-id='{xiuying['id']}']")
    expect(row.locator("td.elder")).to_have_text("王秀英")
    expect(row.locator("td.reasons")).to_have_text("独居（每周）")
    expect(row.locator("td.due")).to_have_text("今天")
    expect(row.locator("td.centre")).to_have_text("禾花社区")
    expect(row.locator("td.caller")).to_have_text("禾花社区")  # its worker is on duty
    expect(row.locator("td.phone")).to_have_text("138****8000")
    hehua = operator.locator("#by-centre tbody tr[data-centre='PH03']")
    expect(hehua.locator("td").nth(1)).to_have_text("1")  # due today

    # No answer, twice: the second try sends the community to her door.
    row.locator("button.record").click()
    card = operator.locator("#call-card")
    expect(card.locator("#call-head")).to_contain_text("王秀英")
    expect(card.locator("#call-numbers a.tel[data-whose=elder]")).to_have_attribute(
        "href", "tel:13800138000"
    )
    expect(card.locator("#call-facts")).to_contain_text("独居")
    operator.select_option("#attempt-answered", "no")
    operator.fill("#attempt-notes", "响铃无人接")
    operator.click("#attempt-submit")
    result = operator.locator("#attempt-result")
    expect(result).to_have_attribute("data-status", "due")
    expect(result).to_contain_text("连续 1 次")
    expect(row.locator("td.status")).to_have_text("无人接听 1 次")
    expect(card.locator("#call-attempts li")).to_have_count(1)
    operator.select_option("#attempt-answered", "no")
    operator.click("#attempt-submit")
    expect(result).to_have_attribute("data-status", "not_reached")
    expect(result).to_contain_text("已派社区上门探视")
    expect(row).to_have_count(0)  # no longer among the calls to make
    expect(hehua.locator("td").nth(4)).to_have_text("1")  # not reached
    visit_id = operator.locator("#raised-incident").get_attribute("href").rsplit("/", 1)[-1]  # type: ignore[union-attr]
    screenshot(operator, "console-care-calls-visit.png")

    # The welfare visit is the 禾花 worker's task, on their phone.
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    task = worker.locator(f"#tasks article.task[data-incident-id='{visit_id}']")
    expect(task.locator("h2")).to_contain_text("关怀探访 · 王秀英")

    # Answered, and fine: off the list of calls to make, among today's closed ones.
    other = operator.locator(f"#calls tbody tr[data-call-id='{jianguo['id']}']")
    other.locator("button.record").click()
    expect(card.locator("#call-head")).to_contain_text("陈建国")
    operator.select_option("#attempt-answered", "yes")
    operator.select_option("#attempt-outcome", "fine")
    operator.click("#attempt-submit")
    expect(result).to_have_attribute("data-status", "done")
    expect(other).to_have_count(0)
    expect(operator.locator("#calls-empty")).to_have_text("没有待打的关怀电话")
    expect(operator.locator("#by-centre tbody tr[data-centre='PH01'] td").nth(3)).to_have_text("1")
    operator.select_option("#filter-state", "done")
    closed = operator.locator("#calls tbody tr")
    expect(closed).to_have_count(2)
    expect(operator.locator(f"#calls tr[data-call-id='{jianguo['id']}'] td.status")).to_have_text(
        "已接通 · 一切安好"
    )
    expect(
        operator.locator(f"#calls tr[data-call-id='{xiuying['id']}'] td.status")
    ).to_contain_text("未联系上")
    expect(operator.locator("#report tfoot td.due")).to_have_text("2")
    screenshot(operator, "console-care-calls-done.png")
    for page in (operator, worker):
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
        page.context.close()
