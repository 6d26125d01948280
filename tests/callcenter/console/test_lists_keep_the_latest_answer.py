"""A list drawn again when its filter changes shows the answer to the latest choice: an earlier
answer arriving late (held back here) is dropped, not drawn over it (app.js latestOnly)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Route, expect

from tests.callcenter.console.conftest import Street, signed_in_page, wait_until


def test_a_centre_picked_while_the_first_centres_roster_is_on_its_way_keeps_its_own(
    browser: Browser, street: Street
) -> None:
    page = signed_in_page(browser, street, "sup1")
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if not held:
            held.append(route)  # answered below, after the later choice is drawn
        else:
            route.continue_()

    page.route("**/api/rosters?*", hold_the_first)
    page.goto(street.base + "/console/rosters")
    wait_until(page, "() => document.getElementById('centre').options.length > 1")
    first = page.eval_on_selector("#centre", "select => select.value")
    assert first != "PH03" and held
    day = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()

    def shift_ids(centre: str) -> set[str]:
        answer = page.request.get(
            street.base + "/api/rosters", params={"centre": centre, "from": day, "to": day}
        )
        return {str(shift["id"]) for shift in answer.json()}

    mine, theirs = shift_ids("PH03"), shift_ids(first)
    assert mine and theirs

    page.select_option("#centre", "PH03")
    expect(page.locator("#shifts tbody tr")).to_have_count(len(mine))
    with page.expect_response(lambda answer: answer.request == held[0].request):
        held[0].continue_()
    page.evaluate("() => new Promise((done) => setTimeout(done, 200))")  # its drawing, if any

    drawn = set(
        page.eval_on_selector_all("#shifts tbody tr", "rows => rows.map(r => r.dataset.shiftId)")
    )
    assert drawn == mine
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
