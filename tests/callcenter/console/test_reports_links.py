"""The reports page links to the work-order report, the care-call report and the maintenance
orders with the devices' self-tests, each only for a person whose role may read it; each link
opens its page. (Chromium.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from callcenter.accounts.permissions import PERMISSIONS, Action
from kernel.models import StaffRole
from tests.callcenter.console.conftest import Street, signed_in_page

LINKS = {
    "#link-work-orders": ("/console/work-orders/report", "#by-need"),
    "#link-care-calls": ("/console/care-calls#report-card", "#report-card"),
    "#link-maintenance": ("/console/maintenance", "#orders"),
    "#link-self-tests": ("/console/maintenance#self-tests-card", "#self-tests-card"),
}


def test_a_supervisor_reaches_every_report_from_the_reports_page(
    browser: Browser, street: Street
) -> None:
    page = signed_in_page(browser, street, "sup1")
    for link, (href, shown) in LINKS.items():
        page.goto(street.base + "/console/reports")
        expect(page.locator(link)).to_have_attribute("href", href)
        page.locator(link).click()
        page.wait_for_url("**" + href)
        expect(page.locator(shown)).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_link_is_shown_only_to_a_role_that_may_read_it(
    browser: Browser, street: Street, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Supervisors without the maintenance and care-call reads (the table in code decides).
    kept = {
        action: scope
        for action, scope in PERMISSIONS[StaffRole.SUPERVISOR].items()
        if action not in (Action.MAINTENANCE_READ, Action.CARE_CALL_READ)
    }
    monkeypatch.setitem(PERMISSIONS, StaffRole.SUPERVISOR, kept)
    page = signed_in_page(browser, street, "sup1")
    page.goto(street.base + "/console/reports")
    expect(page.locator("#link-work-orders")).to_be_visible()
    for link in ("#link-care-calls", "#link-maintenance", "#link-self-tests"):
        expect(page.locator(link)).to_have_count(0)
    # An admin keeps all of them.
    admin = signed_in_page(browser, street, "admin")
    admin.goto(street.base + "/console/reports")
    for link in LINKS:
        expect(admin.locator(link)).to_be_visible()
