"""The wall board's coverage card follows the roster live, in Chromium: 禾花's workers marked
absent for tomorrow show as a gap, and withdrawn they are gone, within the live feed's deadline,
well before the board's own half-minute refresh."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import Browser, expect

from tests.callcenter.console.conftest import Street, signed_in_page


def test_an_absence_marked_and_withdrawn_shows_on_the_board_without_waiting_for_its_refresh(
    browser: Browser, street: Street
) -> None:
    supervisor = signed_in_page(browser, street, "sup1")
    supervisor.goto(street.base + "/console/board")
    card = supervisor.locator("#board-coverage")
    # The board has drawn its figures, and its incident feed is live (a socket's opening asks
    # the board again: what follows the first change is the coverage feed's doing alone).
    expect(card.locator("#coverage-upcoming li[data-centre=PH08]").first).to_be_visible()
    expect(supervisor.locator("#feed-state")).to_have_attribute("data-state", "live")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8) + dt.timedelta(days=1)).date()
    shifts = supervisor.request.get(
        street.base + "/api/rosters",
        params={"centre": "PH03", "from": tomorrow.isoformat(), "to": tomorrow.isoformat()},
    ).json()
    assert shifts
    absent = card.locator("#coverage-upcoming li[data-centre=PH03][data-kind=absent]")
    expect(absent).to_have_count(0)
    for shift in shifts:
        answer = supervisor.request.put(
            f"{street.base}/api/rosters/shifts/{shift['id']}/absence", data={"reason": "sick"}
        )
        assert answer.ok, answer.text()
    # The default timeout is the live deadline (LIVE_MS, 10 s); the board refreshes every 30 s.
    expect(absent).to_contain_text(shifts[0]["staff_name"])
    answer = supervisor.request.delete(
        f"{street.base}/api/rosters/shifts/{shifts[0]['id']}/absence"
    )
    assert answer.ok, answer.text()
    expect(absent).to_have_count(0)
    assert supervisor.errors == []  # type: ignore[attr-defined]
    supervisor.context.close()
