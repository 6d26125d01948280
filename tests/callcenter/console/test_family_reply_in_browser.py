"""A family member answers the alarm's SMS with "1": the operator watching the incident screen
sees it land on the timeline and in the SMS list, and "family on the way" in the head, without a
reload; a "退订" shows there with the button that confirms it for emergencies too. Twilio's call
is a signed POST built with twilio's own RequestValidator, as Twilio makes it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from kernel.settings import Settings
from tests.callcenter.console.conftest import Street, screenshot, signed_in_page
from tests.callcenter.console.test_words_not_codes import _raw_codes
from tests.callcenter.family.fake_twilio import AUTH_TOKEN
from tests.callcenter.family.inbound import FORM, INBOUND_URL, PUBLIC_URL, sms_from
from tests.conftest import free_port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Twilio's auth token and the address replies are signed for; messages go to the outbox."""
    plain = Settings(_env_file=None, data_dir=tmp_path / "data", mqtt_port=free_port())  # type: ignore[call-arg]
    return plain.model_copy(
        update={"twilio_auth_token": SecretStr(AUTH_TOKEN), "sms_public_url": PUBLIC_URL}
    )


def family_texts(street: Street, sender: str, body: str) -> None:
    """Twilio posts the SMS `sender` sent to our number, signed."""
    params = sms_from(sender, body)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(INBOUND_URL, params)
    answer = httpx.post(
        f"{street.base}/api/sms/inbound",
        content=urlencode(params),
        headers={"Content-Type": FORM, "X-Twilio-Signature": signature},
    )
    assert answer.status_code == 200, answer.text


def open_the_alarm(browser: Browser, street: Street) -> tuple[Page, str]:
    """op1 on the incident screen of the elder's SOS, once its SMS to her son is recorded; his number."""
    operator = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    operator.locator("#queue tbody tr a.button").first.click()
    expect(operator.locator("#profile .elder-name")).to_contain_text("王秀英")
    expect(operator.locator("#timeline li[data-action=sms_outbox]")).to_have_count(1)
    incident = operator.url.rsplit("/", 1)[1]
    detail = operator.request.get(f"{street.base}/api/incidents/{incident}").json()
    elder = operator.request.get(f"{street.base}/api/elders/{detail['elder_id']}").json()
    return operator, "+86" + elder["contacts"][0]["phone"]


def test_a_1_reply_lands_on_the_incident_screen_without_a_reload(
    browser: Browser, street: Street
) -> None:
    operator, son = open_the_alarm(browser, street)
    operator.evaluate("window.notReloaded = true")

    family_texts(street, son, "1")
    going = operator.locator("#timeline li[data-action=family_going]")
    expect(going).to_contain_text("家属回复：我去")
    expect(going).to_contain_text("儿子 李明")
    expect(operator.locator("#family-on-the-way")).to_contain_text("家属正在赶来：儿子 李明")
    reply = operator.locator("#sms-log li.reply")
    expect(reply).to_have_count(1)
    expect(reply).to_contain_text("李明（儿子） 回复：我去")

    family_texts(street, son, "我在路上，二十分钟到")
    expect(operator.locator("#timeline li[data-action=family_reply]")).to_contain_text(
        "我在路上，二十分钟到"
    )
    expect(reply).to_have_count(2)
    expect(reply.first).to_contain_text("我在路上")  # the newest first, among the messages
    assert operator.evaluate("window.notReloaded") is True
    screenshot(operator, "family-reply-on-the-incident.png")
    words = "\n".join(
        text
        for selector in ("#timeline li[data-action^=family]", "#sms-log li.reply", "#incident-head")
        for text in operator.locator(selector).all_inner_texts()
    )
    assert _raw_codes(words, "zh") == []
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()


def test_an_opt_out_shows_on_the_incident_and_the_operator_confirms_it_for_emergencies(
    browser: Browser, street: Street
) -> None:
    operator, son = open_the_alarm(browser, street)
    family_texts(street, son, "退订")
    expect(operator.locator("#timeline li[data-action=family_opted_out]")).to_contain_text(
        "家属退订短信"
    )
    reply = operator.locator("#sms-log li.reply[data-kind=stop]")
    expect(reply).to_contain_text("该号码已退订通知短信，紧急短信仍会发送")
    operator.once("dialog", lambda dialog: dialog.accept())
    reply.get_by_role("button", name="确认紧急短信也不发").click()
    expect(reply).to_contain_text("已确认：紧急短信也不发")
    expect(operator.locator("#timeline li[data-action=family_opt_out_confirmed]")).to_contain_text(
        "已确认：紧急短信也不再发给该号码"
    )

    # The same in English.
    operator.context.add_cookies([{"name": "lang", "value": "en", "url": street.base}])
    operator.reload()
    opted = operator.locator("#timeline li[data-action=family_opted_out]")
    expect(opted).to_contain_text("family opted out of SMS")
    expect(operator.locator("#sms-log li.reply")).to_contain_text("Confirmed: no emergency SMS")
    words = "\n".join(
        text
        for selector in ("#timeline li[data-action^=family]", "#sms-log li.reply")
        for text in operator.locator(selector).all_inner_texts()
    )
    assert _raw_codes(words, "en") == []
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()


def test_the_worker_sent_sees_on_their_phone_that_the_son_is_on_his_way(
    browser: Browser, street: Street
) -> None:
    operator, son = open_the_alarm(browser, street)
    incident = operator.url.rsplit("/", 1)[1]
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    me = worker.evaluate("ME.staff_id")
    operator.evaluate(
        f"api('/api/incidents/{incident}/assign', {{method: 'POST', body: {{staff_id: {me}}}}})"
    )
    task = worker.locator(f"#tasks article.task[data-incident-id='{incident}']")
    expect(task).to_be_visible()
    family_texts(street, son, "1")
    going = task.locator(".family-replies li[data-action=family_going]")
    expect(going).to_contain_text("儿子 李明")
    expect(going).to_contain_text("家属回复：我去")
    for page in (worker, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
