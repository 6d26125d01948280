"""An unacknowledged P1 cannot be missed on any console page: the red banner on every page a
person may open, and its sound, turned on once and remembered, starting without a click where
the browser allows it (Chromium, as shipped: after the person used the previous page of the site
and followed a link) and at the first touch where it does not (an address typed)."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, Page, expect

from tests.callcenter.console.conftest import LIVE_MS, Street, signed_in_page, wait_until

EVERY_PAGE = [
    "/console", "/console/map", "/console/elders", "/console/elders/{elder}",
    "/console/reports", "/console/rosters", "/console/accounts", "/console/incidents/{other}",
]  # fmt: skip


def _open_incidents(page: Page, street: Street, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + LIVE_MS / 1000
    while len(found := page.request.get(street.base + "/api/incidents").json()) < count:
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    return list(found)


def test_the_p1_banner_is_on_every_page_until_acknowledged(
    browser: Browser, street: Street
) -> None:
    admin = signed_in_page(browser, street, "admin")  # the one role that opens every page
    street.press(street.hehua_terminal, button="main")
    street.press(street.pinghu_terminal, button="main")
    hehua, pinghu = sorted(_open_incidents(admin, street, 2), key=lambda i: str(i["elder_name"]))
    assert hehua["elder_name"] == "王秀英", hehua
    for template in EVERY_PAGE:
        admin.goto(street.base + template.format(elder=hehua["elder_id"], other=hehua["id"]))
        banner = admin.locator("#p1-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text(str(pinghu["elder_name"]))
        if "incidents" in template:  # the screen of an incident does not ring for itself
            expect(banner).not_to_contain_text("王秀英")
        else:
            expect(banner).to_contain_text("王秀英")
    # Acknowledged elsewhere (another console, the worker's phone): the banner goes, live.
    admin.goto(street.base + f"/console/elders/{hehua['elder_id']}")
    expect(admin.locator("#p1-banner .p1-link")).to_have_count(2)
    for incident in (hehua, pinghu):
        answer = admin.request.post(
            f"{street.base}/api/incidents/{incident['id']}/acknowledge", data={}
        )
        assert answer.ok, answer.text()
    expect(admin.locator("#p1-banner")).to_be_hidden()
    assert admin.errors == []  # type: ignore[attr-defined]
    admin.context.close()


def _beeps_start(page: Page) -> None:
    before = page.evaluate("Alarm.beeps")
    wait_until(page, "before => Alarm.beeps > before", before)


def test_the_alarm_sound_is_turned_on_once_and_starts_by_itself_where_the_browser_allows(
    browser_as_shipped: Browser, street: Street
) -> None:
    supervisor = signed_in_page(browser_as_shipped, street, "sup1")
    street.press(street.hehua_terminal, button="main")
    expect(supervisor.locator("#p1-banner")).to_be_visible()
    sound = supervisor.locator("#sound")
    expect(sound).to_have_attribute("data-sound", "off")
    sound.click()  # once, on any page
    expect(sound).to_have_attribute("data-sound", "on")
    _beeps_start(supervisor)

    # A link followed: Chromium lets the next page of the site sound at once, no click there.
    supervisor.click("nav a[href='/console/elders']")
    supervisor.wait_for_url("**/console/elders")
    expect(supervisor.locator("#sound")).to_have_attribute("data-sound", "on")
    _beeps_start(supervisor)

    # An address typed: the browser holds the sound until the page is touched, and says so.
    supervisor.goto(street.base + "/console/rosters")
    expect(supervisor.locator("#p1-banner")).to_be_visible()
    expect(supervisor.locator("#sound")).to_have_attribute("data-sound", "blocked")
    expect(supervisor.locator("#sound")).to_have_text("浏览器暂停了警报声：点击页面任意处恢复")
    supervisor.keyboard.press("Shift")
    expect(supervisor.locator("#sound")).to_have_attribute("data-sound", "on")
    _beeps_start(supervisor)

    # Turned off, it stays off on the next page.
    supervisor.locator("#sound").click()
    expect(supervisor.locator("#sound")).to_have_attribute("data-sound", "off")
    supervisor.click("nav a[href='/console/map']")
    supervisor.wait_for_url("**/console/map")
    expect(supervisor.locator("#sound")).to_have_attribute("data-sound", "off")
    assert supervisor.errors == []  # type: ignore[attr-defined]
    supervisor.context.close()


def test_a_call_back_task_does_not_ring_on_the_pages(browser: Browser, street: Street) -> None:
    operator = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    street.press(street.hehua_terminal, "cancel", ref="press-1")
    street.press(street.pinghu_terminal, button="main")
    deadline = time.monotonic() + LIVE_MS / 1000
    while not any(i["callback_due_at"] for i in _open_incidents(operator, street, 2)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for page in ("/console/elders", "/console"):
        operator.goto(street.base + page)
        # The P1 nobody has answered rings; the elder who cancelled is owed a call, not an alarm.
        expect(operator.locator("#p1-banner .p1-link")).to_have_count(1)
        expect(operator.locator("#p1-banner")).not_to_contain_text("王秀英")
    expect(operator.locator("[data-callback='owed']")).to_have_count(1)
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()
