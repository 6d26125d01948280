"""The P1 alarm heard over the feed stays up when an older list of P1s answers after it."""

from __future__ import annotations

from playwright.sync_api import Browser, Route, expect

from tests.callcenter.console.conftest import Street, signed_in_page, wait_until


def test_a_p1_heard_while_the_alarms_list_was_on_its_way_keeps_ringing(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    operator.goto(f"{street.base}/console/elders")
    wait_until(operator, "() => Feed.live")
    before = operator.request.get(f"{street.base}/api/incidents?priority=1&limit=500").json()
    held: list[Route] = []
    operator.route("**/api/incidents?priority=1*", lambda route: held.append(route))
    operator.evaluate("() => { window.resyncing = Alarm.resync(); }")  # its answer held
    while not held:
        operator.wait_for_timeout(20)
    street.press(street.hehua_terminal, button="main")
    banner = operator.locator("#p1-banner")
    expect(banner).to_be_visible()  # the feed brought it
    # The list asked for before the press answers only now, without it.
    held[0].fulfill(status=200, json=before)
    # Still ringing as that resync ends (a later feed message would raise it again: not that).
    assert operator.evaluate("window.resyncing.then(() => Alarm.ringing.size)") == 1
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("王秀英")
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()
