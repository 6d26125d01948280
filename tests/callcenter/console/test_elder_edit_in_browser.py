"""The elder's page edits what the call centre keeps up to date, as the person who does it: an
operator changes a contact's phone and sets the door code, which then shows only on request
(audited); each person sees only the forms they may use; a stale edit says so."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from playwright.sync_api import Browser, Page, expect

from kernel.settings import Settings
from tests.callcenter.console.conftest import LIVE_MS, Street, screenshot, signed_in_page


def audit(settings: Settings, action: str) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        rows = db.execute(
            "SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    return [(actor, json.loads(detail)) for actor, detail in rows]


def open_elder(page: Page, street: Street, name: str) -> dict[str, Any]:
    (found,) = page.request.get(f"{street.base}/api/elders", params={"q": name}).json()["items"]
    page.goto(f"{street.base}/console/elders/{found['id']}")
    expect(page.locator("#profile .elder-name")).to_contain_text(name)
    return dict(page.request.get(f"{street.base}/api/elders/{found['id']}").json())


def test_an_operator_edits_a_contacts_phone_and_reveals_the_door_code(
    browser: Browser, street: Street, settings: Settings
) -> None:
    operator = signed_in_page(browser, street, "op1")
    elder = open_elder(operator, street, "王秀英")
    me = operator.evaluate("ME.staff_id")

    operator.locator("[data-edit=contacts]").click()
    form = operator.locator("form[data-form=contacts]")
    form.locator("li.contact-edit").first.locator("[name=phone]").fill("139 0000 1234")
    form.get_by_test_id("save").click()
    expect(operator.locator("#edit-status")).to_have_text("已保存")
    expect(operator.locator("[data-part=contacts] ol.contacts")).to_contain_text("13900001234")
    after = operator.request.get(f"{street.base}/api/elders/{elder['id']}").json()
    assert after["contacts"][0]["phone"] == "13900001234"
    assert after["contacts"][0]["id"] == elder["contacts"][0]["id"]

    operator.locator("[data-edit=home_access]").click()
    form = operator.locator("form[data-form=home_access]")
    form.locator("[name=key_holder_name]").fill("张阿姨")
    form.locator("[name=door_code]").fill("2580#")
    form.get_by_test_id("save").click()
    expect(operator.locator("#edit-status")).to_have_text("已保存")
    codes = operator.get_by_test_id("codes")
    expect(codes).to_have_text("••••")
    assert "2580" not in operator.locator("body").inner_text()
    assert audit(settings, "elder.access_codes_shown") == []
    operator.get_by_test_id("show-codes").click()
    expect(codes).to_have_text("门锁密码 2580#")
    screenshot(operator, "console-elder-codes-shown.png")
    assert audit(settings, "elder.access_codes_shown") == [
        (f"staff:{me}", {"key_safe_code": False, "door_code": True})
    ]
    edits = [actor for action in ("elder.contacts_edited", "elder.home_access_edited")
             for actor, _ in audit(settings, action)]  # fmt: skip
    assert edits == [f"staff:{me}"] * 2
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()


def test_each_person_sees_only_the_forms_they_may_use(browser: Browser, street: Street) -> None:
    operator = signed_in_page(browser, street, "op1")
    open_elder(operator, street, "王秀英")
    for part in ("phones", "contacts", "home_access", "medical"):
        expect(operator.locator(f"[data-edit={part}]")).to_have_count(1)
    expect(operator.locator("#thresholds button")).to_have_count(0)  # the care team's, via sup
    expect(operator.locator("#life-status-card")).to_be_hidden()
    expect(operator.locator("form[data-form=away]")).to_have_count(1)

    supervisor = signed_in_page(browser, street, "sup1")
    open_elder(supervisor, street, "王秀英")
    expect(supervisor.locator("#thresholds tr[data-vital=hr] button")).to_have_count(1)
    expect(supervisor.locator("#life-status-card select[name=status]")).to_be_visible()

    worker = signed_in_page(browser, street, "ph03-w1")  # 王秀英's own centre
    open_elder(worker, street, "王秀英")
    expect(worker.locator("[data-edit]")).to_have_count(4)
    expect(worker.locator("#thresholds button")).to_have_count(0)
    expect(worker.locator("#life-status-card")).to_be_hidden()
    for page in (operator, supervisor, worker):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_an_edit_saved_after_someone_elses_says_so_and_shows_theirs(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    elder = open_elder(operator, street, "王秀英")
    operator.locator("[data-edit=medical]").click()
    form = operator.locator("form[data-form=medical]")
    form.locator("[name=allergies]").fill("青霉素")
    # Meanwhile a colleague saves the doctor.
    answer = operator.request.put(
        f"{street.base}/api/elders/{elder['id']}/medical",
        data={"version": elder["version"], "doctor_name": "刘医生"},
    )
    assert answer.ok, answer.text()
    form.get_by_test_id("save").click()
    expect(operator.locator("#edit-status")).to_contain_text("他人刚修改了该档案")
    expect(operator.locator("[data-part=medical]")).to_contain_text("刘医生")
    expect(operator.locator("[data-part=medical]")).not_to_contain_text("青霉素")
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()


def test_a_worker_at_another_centres_door_may_show_the_codes_and_edit_nothing(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    chen = open_elder(operator, street, "陈建国")  # of 平湖社区 (PH01)
    answer = operator.request.put(
        f"{street.base}/api/elders/{chen['id']}/home-access",
        data={"version": chen["version"], "key_safe_code": "4821"},
    )
    assert answer.ok, answer.text()
    operator.goto(f"{street.base}/console")
    street.press(street.pinghu_terminal, button="main")
    expect(operator.locator("#queue tbody tr")).to_have_count(1, timeout=LIVE_MS)
    incident = operator.locator("#queue tbody tr").get_attribute("data-incident-id")
    worker = signed_in_page(browser, street, "ph03-w1")  # of 禾花 (PH03), sent across the line
    me = worker.evaluate("ME.staff_id")
    sent = operator.request.post(
        f"{street.base}/api/incidents/{incident}/assign", data={"staff_id": me}
    )
    assert sent.ok, sent.text()
    worker.goto(f"{street.base}/console/elders/{chen['id']}")
    expect(worker.locator("#profile .elder-name")).to_contain_text("陈建国")
    expect(worker.locator("[data-edit]")).to_have_count(0)
    expect(worker.locator("form[data-form=away]")).to_have_count(0)
    worker.get_by_test_id("show-codes").click()
    expect(worker.get_by_test_id("codes")).to_have_text("钥匙盒密码 4821")
    for page in (operator, worker):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
