"""Notices of gaps reach the supervisors in Chromium: a banner on the pages they use until one of
them acknowledges each on their hand-over page; then it names who and when, and neither they nor
an admin are called to it again; the floor sees no banner."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.callcenter.console.conftest import Street, screenshot, signed_in_page


def test_a_supervisor_is_told_of_a_gap_on_every_page_until_one_acknowledges_it(
    browser: Browser, street: Street
) -> None:
    supervisor = signed_in_page(browser, street, "sup1")
    supervisor.goto(street.base + "/console/rosters")
    banner = supervisor.locator("#coverage-banner")
    # The demo roster leaves 良安田 empty 19:00-20:00: the app's first round gave its notices.
    expect(banner).to_contain_text("良安田")
    expect(banner).to_contain_text("待确认")
    banner.locator("a").click()
    supervisor.wait_for_url("**/console/shift#coverage-notices")
    waiting = supervisor.locator("#coverage-notice-list li.waiting[data-centre=PH08]")
    expect(waiting.first).to_contain_text("开放时段无人排班")
    count = waiting.count()  # today's, if 19:00-20:00 is not over, and tomorrow's
    assert count >= 1
    for left in range(count - 1, -1, -1):
        waiting.first.locator("button.acknowledge").click()
        expect(waiting).to_have_count(left)
    seen = supervisor.locator("#coverage-notice-list li.acknowledged[data-centre=PH08]").first
    who = supervisor.locator("[data-testid=who]").inner_text().split(" · ")[0]
    expect(seen).to_contain_text(f"{who} 已于")
    # Every notice acknowledged: the banner has gone, live, without a reload.
    expect(banner).to_be_hidden()
    screenshot(supervisor, "console-shift-coverage-notices.png")

    admin = signed_in_page(browser, street, "admin")
    admin.goto(street.base + "/console/shift")
    expect(admin.locator("#coverage-notice-list li[data-centre=PH08]").first).to_contain_text(who)
    expect(admin.locator("#coverage-notice-list li.waiting")).to_have_count(0)
    expect(admin.locator("#coverage-banner")).to_be_hidden()

    operator = signed_in_page(browser, street, "op1")
    operator.goto(street.base + "/console/shift")
    expect(operator.locator("#held")).to_be_visible()
    expect(operator.locator("#coverage-banner")).to_be_hidden()
    expect(operator.locator("#coverage-notice-list")).to_have_count(0)
    for page in (supervisor, admin, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
