"""The family SMS on the incident screen: each message recorded in the outbox is a step of the
timeline, and the SMS list follows every message to where it went without a reload (the
operator's own, and those the incident's steps cause on another console)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.callcenter.console.conftest import Street, signed_in_page


def test_outbox_messages_are_on_the_timeline_and_the_sms_list_is_live(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    operator.locator("#queue tbody tr a.button").first.click()
    expect(operator.locator("#profile .elder-name")).to_contain_text("王秀英")
    timeline_sms = operator.locator("#timeline li[data-action=sms_outbox]")
    log = operator.locator("#sms-log li")

    # The alarm's own message to the family, recorded in the outbox: on the timeline, in words.
    expect(timeline_sms).to_have_count(1)
    expect(timeline_sms).to_contain_text("短信已记入发件箱")
    expect(timeline_sms).to_contain_text("报警通知")
    expect(timeline_sms).to_contain_text("李明")

    # The operator's own message: queued, then in the outbox, on the list and the timeline.
    operator.fill("#sms-text", "社工已出发，请保持电话畅通。")
    operator.click("#sms-submit")
    expect(log).to_have_count(2)
    expect(log.first).to_contain_text("社工已出发")
    expect(log.first).to_have_attribute("data-state", "outbox")
    expect(timeline_sms).to_have_count(2)
    expect(timeline_sms.last).to_contain_text("接线员短信")

    # Resolved on another console: the family's message about it arrives here by itself.
    incident = operator.url.rsplit("/", 1)[1]
    colleague = signed_in_page(browser, street, "op2")
    for body in ({}, {"status": "resolved", "outcome": "assistance_given", "note": ""}):
        path = "acknowledge" if not body else "status"
        answer = colleague.request.post(f"{street.base}/api/incidents/{incident}/{path}", data=body)
        assert answer.ok, answer.text()
    expect(operator.locator("#incident-status")).to_have_text("已处理")
    expect(log.first).to_contain_text("处理完毕")
    expect(log.first).to_have_attribute("data-state", "outbox")
    # On the timeline too (the acknowledgement's own message may have gone out before the
    # resolution or been dropped as superseded by it: whichever came first).
    expect(timeline_sms.filter(has_text="处理完毕")).to_have_count(1)
    for page in (operator, colleague):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
