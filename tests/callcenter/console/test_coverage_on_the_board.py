"""Coverage on the wall board in Chromium, as a supervisor: the demo roster's empty last hour at
良安田 among the next gaps and in tomorrow's notices, each community's walk from its centre, and
禾花's workers signed out sick for tomorrow appearing as a gap without a reload."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import Browser, expect

from tests.callcenter.console.conftest import Street, screenshot, signed_in_page

# The board asks again on coverage's feed (test_coverage_live_on_the_board.py) and, failing
# that, every half minute: this test is about what it shows, so it allows for either.
BOARD_REFRESH_DEADLINE_MS = 45_000


def test_the_board_shows_centres_empty_next_their_notices_and_each_communitys_walk(
    browser: Browser, street: Street
) -> None:
    supervisor = signed_in_page(browser, street, "sup1")
    supervisor.goto(street.base + "/console/board")
    card = supervisor.locator("#board-coverage")
    liangantian = card.locator("#coverage-current li[data-centre=PH08], "
                               "#coverage-upcoming li[data-centre=PH08]").first  # fmt: skip
    expect(liangantian).to_contain_text("良安田")
    expect(liangantian).to_contain_text("19:00–20:00")
    expect(liangantian).to_contain_text("开放时段无人排班")
    expect(card.locator("#coverage-notices li[data-centre=PH08]")).to_contain_text("明天")
    hehua = card.locator("#coverage-reach tbody tr[data-community=PH03]")
    expect(hehua.locator("td").nth(1)).to_have_text("1")  # the street's 禾花 elder
    expect(card.locator("#coverage-rule")).to_contain_text("15")

    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8) + dt.timedelta(days=1)).date()
    shifts = supervisor.request.get(
        street.base + "/api/rosters",
        params={"centre": "PH03", "from": tomorrow.isoformat(), "to": tomorrow.isoformat()},
    ).json()
    assert shifts
    for shift in shifts:
        answer = supervisor.request.put(
            f"{street.base}/api/rosters/shifts/{shift['id']}/absence", data={"reason": "sick"}
        )
        assert answer.ok, answer.text()
    absent = card.locator("#coverage-upcoming li[data-centre=PH03][data-kind=absent]")
    expect(absent).to_contain_text("禾花", timeout=BOARD_REFRESH_DEADLINE_MS)
    expect(absent).to_contain_text("08:00–20:00")
    expect(absent).to_contain_text(shifts[0]["staff_name"])
    screenshot(supervisor, "console-board-coverage.png")
    assert supervisor.errors == []  # type: ignore[attr-defined]
    supervisor.context.close()
