"""The roster page marks a rostered person absent and withdraws it, in Chromium: a supervisor
picks the reason, the shift shows it and its person is off duty (the API says so); an operator
sees the absence but no button."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, expect

from tests.callcenter.console.conftest import Street, signed_in_page


def test_a_supervisor_marks_a_worker_absent_on_the_roster_page_and_withdraws_it(
    browser: Browser, street: Street
) -> None:
    supervisor = signed_in_page(browser, street, "sup1")
    supervisor.goto(street.base + "/console/rosters")
    supervisor.select_option("#centre", "PH03")
    # One of 禾花's shifts of today, from the API: the page shows it once PH03's list is drawn.
    day = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    today = supervisor.request.get(
        street.base + "/api/rosters", params={"centre": "PH03", "from": day, "to": day}
    ).json()
    shift_id = str(today[0]["id"])
    row = supervisor.locator(f"#shifts tbody tr[data-shift-id='{shift_id}']")
    expect(row.locator("button.mark-absent")).to_have_text("标记缺勤")
    row.locator("select.absence-reason").select_option("leave")
    row.locator("button.mark-absent").click()
    marked = supervisor.locator(f"#shifts tbody tr[data-shift-id='{shift_id}']")
    expect(marked).to_have_attribute("data-absence", "leave")
    expect(marked.locator("td.absence")).to_contain_text("事假/年假")
    listed = supervisor.request.get(street.base + "/api/rosters", params={"centre": "PH03"}).json()
    assert next(s for s in listed if str(s["id"]) == shift_id)["absence"] == "leave"

    operator = signed_in_page(browser, street, "op1")
    operator.goto(street.base + "/console/rosters")
    operator.select_option("#centre", "PH03")
    seen = operator.locator(f"#shifts tbody tr[data-shift-id='{shift_id}']")
    expect(seen.locator("td.absence")).to_contain_text("事假/年假")
    expect(operator.locator("button.mark-absent, button.withdraw-absence")).to_have_count(0)

    marked.locator("button.withdraw-absence").click()
    expect(marked).to_have_attribute("data-absence", "")
    expect(marked.locator("button.mark-absent")).to_be_visible()
    for page in (supervisor, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
