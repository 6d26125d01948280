"""A worker at the door, on their phone: how to get in (the codes when they ask, audited), what
the elder takes and is allergic to, and 120 called and handed over without the console."""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Browser, Locator, Page, Route, expect

from kernel.settings import Settings
from tests.callcenter.console.conftest import Street, signed_in_page, wait_until


def _code_showings(settings: Settings, elder_id: int) -> int:
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        query = (
            "SELECT count(*) FROM audit_log WHERE action = 'elder.access_codes_shown' "
            "AND subject_id = ?"
        )
        return int(db.execute(query, (str(elder_id),)).fetchone()[0])


def _pressed_at_hehua(browser: Browser, street: Street) -> tuple[Page, str | None]:
    """王秀英 of 禾花社区 (PH03) presses her terminal: the operator's console, and her incident once
    it is on the queue."""
    operator = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    expect(operator.locator("#queue tbody tr")).to_have_count(1)
    return operator, operator.locator("#queue tbody tr").get_attribute("data-incident-id")


def _note(operator: Page, incident_id: str | None, text: str) -> None:
    """A note on the incident's timeline, from the operator's console: news of it on the feed."""
    operator.evaluate(
        f"api('/api/incidents/{incident_id}/notes', {{method: 'POST', body: {{text: '{text}'}}}})"
    )


def _assigned_to_the_worker(
    browser: Browser, street: Street, operator: Page, incident_id: str | None
) -> tuple[Page, Locator]:
    """The 禾花 worker's phone, and the incident's task on it once the operator assigned it."""
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    me = worker.evaluate("ME.staff_id")
    operator.evaluate(
        f"api('/api/incidents/{incident_id}/assign', {{method: 'POST', body: {{staff_id: {me}}}}})"
    )
    task = worker.locator("#tasks article.task")
    expect(task).to_have_count(1)
    return worker, task


def _put_part(operator: Page, api: str, path: str, body: dict[str, object]) -> None:
    """One part of an elder's profile, written by the operator at the profile's current version."""
    version = operator.request.get(api).json()["version"]
    assert operator.request.put(f"{api}/{path}", data={"version": version, **body}).ok


def test_a_worker_gets_in_and_hands_over_to_120_from_their_phone(
    browser: Browser, street: Street, settings: Settings
) -> None:
    operator, incident_id = _pressed_at_hehua(browser, street)
    incident = operator.request.get(f"{street.base}/api/incidents/{incident_id}").json()
    api = f"{street.base}/api/elders/{incident['elder_id']}"
    for path, body in (
        ("home-access", {"key_holder_name": "张阿姨", "key_holder_relation": "邻居",
                         "key_holder_phone": "13700002222", "key_safe_code": "4821"}),
        ("medical", {"medications": [{"name": "氨氯地平", "dose": "5mg 每日一次"}],
                     "allergies": ["青霉素"]}),
    ):  # fmt: skip
        _put_part(operator, api, path, body)

    worker, task = _assigned_to_the_worker(browser, street, operator, incident_id)
    me = worker.evaluate("ME.staff_id")
    expect(task.locator(".at-the-door")).to_contain_text("张阿姨（邻居）")
    expect(task.locator(".at-the-door")).to_contain_text("青霉素")
    expect(task.locator(".at-the-door")).to_contain_text("氨氯地平")
    codes = task.locator("[data-testid=codes]")
    expect(codes).not_to_contain_text("4821")  # never on the page until asked for
    shown_before = _code_showings(settings, incident["elder_id"])
    task.locator("[data-testid=show-codes]").click()
    expect(codes).to_contain_text("4821")
    assert _code_showings(settings, incident["elder_id"]) == shown_before + 1
    # Another task arriving meanwhile leaves this card as it is: the codes stay shown.
    street.press(street.pinghu_terminal, button="main")
    expect(operator.locator("#queue tbody tr")).to_have_count(2)
    other = operator.locator("#queue tbody tr").nth(1).get_attribute("data-incident-id")
    assert other != incident_id
    operator.evaluate(
        f"api('/api/incidents/{other}/assign', {{method: 'POST', body: {{staff_id: {me}}}}})"
    )
    expect(worker.locator("#tasks article.task")).to_have_count(2)
    task = worker.locator(f"#tasks article.task[data-incident-id='{incident_id}']")
    expect(task.locator("[data-testid=codes]")).to_contain_text("4821")

    # On site, the elder needs an ambulance: dial 120 from the phone, then record the call.
    task.get_by_role("button", name="接单").click()
    expect(task.locator(".status")).to_have_text("已接单")
    # The card was rebuilt for its own incident's news: the codes asked for are still shown.
    expect(task.locator("[data-testid=codes]")).to_contain_text("4821")
    expect(task.locator("a[data-dial=ambulance]")).to_have_attribute("href", "tel:120")
    task.locator("button[data-record=ambulance]").click()
    ambulance = task.locator(".emergency-row[data-service=ambulance]")
    expect(ambulance.locator(".called")).to_contain_text("120 急救")
    # The operator sees it at once on the incident screen.
    operator.goto(f"{street.base}/console/incidents/{incident_id}")
    expect(operator.locator("#emergency-calls li[data-service=ambulance]")).to_contain_text(
        "120 急救"
    )
    ambulance.locator("button[data-hand-over=ambulance]").click()
    expect(ambulance.locator(".handed-over")).to_contain_text("已交接")
    expect(
        operator.locator("#emergency-calls li[data-service=ambulance] .handed-over")
    ).to_be_visible()
    detail = operator.request.get(f"{street.base}/api/incidents/{incident_id}").json()
    steps = [e for e in detail["timeline"] if e["action"] in ("emergency_called", "handed_over")]
    assert [(e["action"], e["actor"]) for e in steps] == [
        ("emergency_called", f"staff:{me}"),
        ("handed_over", f"staff:{me}"),
    ]
    expect(task.locator(".summary-link")).to_have_attribute(
        "href", f"/console/incidents/{incident_id}/summary"
    )
    for page in (worker, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_a_worker_on_their_phone_reaches_the_shift_hand_over(
    browser: Browser, street: Street
) -> None:
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    worker.click("#to-shift")
    expect(worker).to_have_url(f"{street.base}/console/shift")
    assert worker.errors == []  # type: ignore[attr-defined]
    worker.context.close()


def test_what_a_worker_typed_on_a_task_outlives_news_of_it(
    browser: Browser, street: Street
) -> None:
    operator, incident_id = _pressed_at_hehua(browser, street)
    worker, task = _assigned_to_the_worker(browser, street, operator, incident_id)
    for button, status in (("接单", "已接单"), ("出发", "在途"), ("已到达", "已到场")):
        task.get_by_role("button", name=button).click()
        expect(task.locator(".status")).to_have_text(status)
    task.locator("select.outcome").select_option("referred")
    task.locator("textarea.note").fill("扶起，无外伤")
    worker.evaluate("window.cardBefore = document.querySelector('#tasks article.task')")
    # News of the task (a note on its timeline) redraws the card meanwhile.
    _note(operator, incident_id, "家属已到")
    wait_until(worker, "() => document.querySelector('#tasks article.task') !== window.cardBefore")
    expect(task.locator("textarea.note")).to_have_value("扶起，无外伤")
    expect(task.locator("select.outcome")).to_have_value("referred")


def test_codes_asked_for_while_their_card_is_redrawn_stay_shown(
    browser: Browser, street: Street
) -> None:
    operator, incident_id = _pressed_at_hehua(browser, street)
    incident = operator.request.get(f"{street.base}/api/incidents/{incident_id}").json()
    api = f"{street.base}/api/elders/{incident['elder_id']}"
    _put_part(operator, api, "home-access", {"key_safe_code": "4821"})
    worker, task = _assigned_to_the_worker(browser, street, operator, incident_id)
    # News of the task (a note on its timeline) redraws its card, which waits on the incident's
    # detail: held here, so the worker asks for the codes on the card still on the page while its
    # replacement is being drawn.
    held: list[Route] = []
    holding = True

    def hold(route: Route) -> None:
        if holding:
            held.append(route)
        else:
            route.continue_()

    worker.route(f"{street.base}/api/incidents/{incident_id}", hold)
    worker.evaluate("window.cardBefore = document.querySelector('#tasks article.task')")
    _note(operator, incident_id, "家属已到")
    for _ in range(200):  # the redraw asks for the detail (events are handled while waiting)
        if held:
            break
        worker.wait_for_timeout(50)
    assert held
    task.locator("[data-testid=show-codes]").click()
    expect(task.locator("[data-testid=codes]")).to_contain_text("4821")
    holding = False
    for route in held:
        route.continue_()
    wait_until(worker, "() => document.querySelector('#tasks article.task') !== window.cardBefore")
    expect(task.locator("[data-testid=codes]")).to_contain_text("4821")
    assert worker.errors == []  # type: ignore[attr-defined]
