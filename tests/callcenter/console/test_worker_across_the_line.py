"""A worker sent across a community line sees, on their phone, who lives behind the door."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.callcenter.console.conftest import Street, signed_in_page


def test_a_worker_handed_another_communitys_alarm_sees_the_elder_on_their_phone(
    browser: Browser, street: Street
) -> None:
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    expect(worker.locator("#feed-state")).to_have_attribute("data-state", "live")
    operator = signed_in_page(browser, street, "op1")
    street.press(street.pinghu_terminal, button="main")  # 陈建国 of 平湖社区 (PH01)
    expect(operator.locator("#queue tbody tr")).to_have_count(1)
    incident_id = operator.locator("#queue tbody tr").get_attribute("data-incident-id")
    # The operator sends the 禾花 (PH03) worker across the community line.
    me = worker.evaluate("ME.staff_id")
    operator.evaluate(
        f"api('/api/incidents/{incident_id}/assign', {{method: 'POST', body: {{staff_id: {me}}}}})"
    )
    task = worker.locator("#tasks article.task")
    expect(task).to_have_count(1)
    expect(task.locator("h2")).to_contain_text("陈建国")
    expect(task.locator(".address")).to_contain_text("平湖社区守珍街2号")
    expect(task.locator(".phones a.tel")).not_to_have_count(0)  # the son's number, to call
    task.get_by_role("button", name="接单").click()
    expect(task.locator(".status")).to_have_text("已接单")
    # Acknowledged as the worker who pressed it: the timeline names them, not the operator.
    detail = operator.request.get(f"{street.base}/api/incidents/{incident_id}").json()
    (taken,) = [e for e in detail["timeline"] if e["action"] == "acknowledged"]
    assert taken["actor"] == f"staff:{me}"
    for page in (worker, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
