"""A list the page asked for before a change came over the feed must not undo that change."""

from __future__ import annotations

from playwright.sync_api import Browser, Route, expect

from tests.callcenter.console.conftest import Street, signed_in_page


def test_a_task_assigned_while_the_workers_list_was_on_its_way_stays_on_their_phone(
    browser: Browser, street: Street
) -> None:
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    expect(worker.locator("#feed-state")).to_have_attribute("data-state", "live")
    me = worker.evaluate("ME.staff_id")
    mine = f"{street.base}/api/incidents?assigned_to={me}&limit=200"
    before = worker.request.get(mine).json()  # the list as it stands before the task
    held: list[Route] = []
    worker.route("**/api/incidents?assigned_to=*", lambda route: held.append(route))
    worker.evaluate("() => { window.resyncing = reload(); }")  # a resync, its answer delayed
    while not held:
        worker.wait_for_timeout(20)
    operator = signed_in_page(browser, street, "op1")
    street.press(street.pinghu_terminal, button="main")
    expect(operator.locator("#queue tbody tr")).to_have_count(1)
    incident_id = operator.locator("#queue tbody tr").get_attribute("data-incident-id")
    operator.evaluate(
        f"api('/api/incidents/{incident_id}/assign', {{method: 'POST', body: {{staff_id: {me}}}}})"
    )
    task = worker.locator("#tasks article.task")
    expect(task).to_have_count(1)  # the feed brought it
    # The list asked for before the assignment answers only now, without the task.
    held[0].fulfill(status=200, json=before)
    worker.evaluate("() => window.resyncing")
    expect(task).to_have_count(1)
    expect(task.locator("h2")).to_contain_text("陈建国")
    for page in (worker, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_an_older_state_arriving_over_the_feed_after_the_assignment_is_dropped(
    browser: Browser, street: Street
) -> None:
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    expect(worker.locator("#feed-state")).to_have_attribute("data-state", "live")
    me = worker.evaluate("ME.staff_id")
    operator = signed_in_page(browser, street, "op1")
    street.press(street.pinghu_terminal, button="main")
    expect(operator.locator("#queue tbody tr")).to_have_count(1)
    incident_id = operator.locator("#queue tbody tr").get_attribute("data-incident-id")
    before = operator.request.get(f"{street.base}/api/incidents/{incident_id}").json()
    assigned = operator.request.post(
        f"{street.base}/api/incidents/{incident_id}/assign", data={"staff_id": me}
    )
    assert assigned.ok, assigned.text()
    assert assigned.json()["revision"] > before["revision"]
    task = worker.locator("#tasks article.task")
    expect(task).to_have_count(1)
    # The state from before the assignment comes over the feed last (a step committed just
    # after the assignment, published after it): the page keeps the newer state.
    worker.evaluate(
        """(incident) => Feed.socket.dispatchEvent(
             new MessageEvent("message", { data: JSON.stringify({ type: "incident", incident }) }))""",
        before,
    )
    expect(task).to_have_count(1)
    assert worker.evaluate("tasks.size") == 1
    for page in (worker, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
