"""An operator hands an SOS over to 120 in the console alone: takes it, records the call, adds the
dispatcher's reference and the hospital as they come, prints the sheet for the paramedics,
records the hand-over and resolves with the outcome the hand-over suggests."""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Browser, expect

from kernel.settings import Settings
from tests.callcenter.console.conftest import Street, screenshot, signed_in_page


def _profile_views(settings: Settings, elder_id: int) -> int:
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        query = "SELECT count(*) FROM audit_log WHERE action = 'elder.viewed' AND subject_id = ?"
        return int(db.execute(query, (str(elder_id),)).fetchone()[0])


def test_an_operator_hands_an_sos_over_to_120_and_prints_the_sheet(
    browser: Browser, street: Street, settings: Settings
) -> None:
    page = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    page.locator("#queue tbody tr a.button").first.click()
    page.click("#acknowledge")
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "acknowledged")
    expect(page.locator("#emergency-calls")).to_contain_text("尚未呼叫")

    # The call to 120, as soon as it is made: the reference and the hospital come later.
    page.select_option("#emergency-service", "ambulance")
    page.click("#emergency-submit")
    ambulance = page.locator("#emergency-calls li[data-service=ambulance]")
    expect(ambulance).to_contain_text("120 急救")
    expect(ambulance.locator(".waiting")).to_be_visible()
    expect(page.locator("#emergency-service option[value=ambulance]")).to_be_disabled()
    page.fill("#emergency-ambulance-reference", "LG-20261204-0173")
    page.click("#emergency-ambulance-save")
    expect(ambulance.locator(".reference")).to_have_text("LG-20261204-0173")
    page.fill("#emergency-ambulance-hospital", "龙岗区第三人民医院")
    page.click("#emergency-ambulance-save")
    expect(ambulance.locator(".hospital")).to_have_text("龙岗区第三人民医院")
    timeline = page.locator("#timeline")
    expect(timeline.locator("li[data-action=emergency_called]")).to_contain_text("已呼叫急救/报警")
    expect(timeline.locator("li[data-action=emergency_updated]").last).to_contain_text(
        "送往医院 龙岗区第三人民医院"
    )

    # The sheet for the dispatcher and the paramedics, in a tab of its own.
    incident = page.request.get(street.base + f"/api/incidents/{page.url.rsplit('/', 1)[1]}").json()
    api = f"{street.base}/api/elders/{incident['elder_id']}"
    # What the call centre keeps beyond the register, as the profile gives it.
    for path, body in (
        ("home-access", {"key_holder_name": "张阿姨", "key_holder_relation": "邻居",
                         "key_holder_phone": "13700002222", "key_safe_code": "4821",
                         "notes": "钥匙在对门302"}),
        ("medical", {"medications": [{"name": "氨氯地平", "dose": "5mg 每日一次"}],
                     "allergies": ["青霉素"], "doctor_name": "刘医生",
                     "preferred_hospital": "龙岗区第二人民医院"}),
    ):  # fmt: skip
        version = page.request.get(api).json()["version"]
        edited = page.request.put(f"{api}/{path}", data={"version": version, **body})
        assert edited.ok, edited.text()
    elder = page.request.get(api).json()
    views = _profile_views(settings, elder["id"])
    with page.context.expect_page() as opened:
        page.click("#summary-link")
    sheet = opened.value
    sheet_errors: list[str] = []
    sheet.on("pageerror", lambda error: sheet_errors.append(str(error)))
    expect(sheet.locator("#summary-handover dl.call[data-service=ambulance]")).to_be_visible()
    who = sheet.locator("#summary-elder")
    expect(who).to_contain_text(elder["address"])
    expect(who).to_contain_text("养了一条狗")  # how to get in (the profile's remarks)
    for kept in ("钥匙在对门302", "张阿姨（邻居） 13700002222", "有钥匙盒密码，请向呼叫中心索取",
                 "氨氯地平 5mg 每日一次", "青霉素", "刘医生", "龙岗区第二人民医院"):  # fmt: skip
        expect(who).to_contain_text(kept)
    expect(who).not_to_contain_text("4821")  # a code is read out on request, never printed
    expect(sheet.locator("#summary-contacts")).to_contain_text(elder["contacts"][0]["phone"])
    handover = sheet.locator("#summary-handover")
    expect(handover).to_contain_text("LG-20261204-0173")
    expect(handover).to_contain_text("龙岗区第三人民医院")
    expect(sheet.locator("#summary-timeline li[data-action=emergency_called]")).to_have_count(1)
    expect(sheet.locator("#print")).to_be_visible()
    assert _profile_views(settings, elder["id"]) == views + 1  # the sheet is a profile view
    sheet.emulate_media(media="print")
    expect(sheet.locator(".topbar")).to_be_hidden()
    expect(sheet.locator("#print")).to_be_hidden()
    expect(handover).to_contain_text("LG-20261204-0173")
    screenshot(sheet, "console-handover-sheet-print.png")
    assert sheet_errors == []
    sheet.close()

    # The paramedics take over; resolving then offers the outcome the hand-over says.
    page.click("#emergency-ambulance-hand-over")
    expect(ambulance.locator(".handed-over")).to_be_visible()
    expect(timeline.locator("li[data-action=handed_over]")).to_contain_text("已移交急救/警方")
    expect(page.locator("#outcome")).to_have_value("ambulance_called")
    page.click("#resolve-submit")
    expect(page.locator("#incident-status")).to_have_attribute("data-status", "resolved")
    done = page.request.get(street.base + f"/api/incidents/{incident['id']}").json()
    assert done["outcome"] == "ambulance_called"
    (call,) = done["emergency_calls"]
    assert call["reference"] == "LG-20261204-0173" and call["handed_over_at"] is not None
    screenshot(page, "console-handover-incident.png")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
