"""Click-to-call on the incident screen, in Chromium, against the local fake of Twilio: the
operator puts their own phone on their account, clicks "call" beside the elder's phone, the real
twilio client places the call, the fake fetches our TwiML and dials the elder, and the calls list
and the timeline follow it live (ringing, answered, over with its duration and who hung up); a
busy line says so. Without Twilio's settings the numbers stay tel: links."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from callcenter.register import columns
from eldercare.app import create_app
from kernel.settings import Settings
from tests.callcenter.console.conftest import (
    Street,
    _migrate_and_prepare,
    _off_the_browser_loop,
    screenshot,
    signed_in_page,
)
from tests.callcenter.console.test_words_not_codes import _raw_codes, _visible_words
from tests.callcenter.family.fake_twilio import SENDER, CallOutcome, FakeTwilio
from tests.callcenter.voice.conftest import voice_settings
from tests.conftest import free_port

ELDER_PHONE = "13800138000"
MY_PHONE = "13700000001"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    """Twilio's API, faked on a local port."""
    with FakeTwilio() as running:
        yield running


@pytest.fixture
def voice_street(settings: Settings, fake: FakeTwilio, tmp_path: Path) -> Iterator[Street]:
    """The console served on a free port with Twilio's voice settings aimed at the fake, and this
    address as the centre's public one (where the fake sends Twilio's requests)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    served = voice_settings(settings, fake, base)
    rows, secrets = _off_the_browser_loop(lambda: _migrate_and_prepare(served, tmp_path))
    server = uvicorn.Server(
        uvicorn.Config(create_app(served, mqtt=False), host="127.0.0.1", port=port,
                       log_level="warning", lifespan="on")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Street(
            base=base,
            hehua_terminal=rows[0][columns.SOS_TERMINAL],
            pinghu_terminal=rows[1][columns.SOS_TERMINAL],
            secrets=secrets,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _open_the_sos(page: Page, street: Street) -> None:
    """An SOS from 王秀英's terminal, her own phone put on her record, her incident opened."""
    street.press(street.hehua_terminal, button="main")
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    (incident,) = page.request.get(f"{street.base}/api/incidents").json()
    elder = page.request.get(f"{street.base}/api/elders/{incident['elder_id']}").json()
    edited = page.request.put(
        f"{street.base}/api/elders/{elder['id']}/phones",
        data={"version": elder["version"], "phone": ELDER_PHONE},
    )
    assert edited.ok, edited.text()
    page.locator("#queue tbody tr a.button").first.click()
    expect(page.locator("#profile .elder-name")).to_contain_text("王秀英")


def test_an_operator_calls_the_elder_through_their_own_phone_and_the_timeline_follows(
    browser: Browser, voice_street: Street, fake: FakeTwilio
) -> None:
    operator = signed_in_page(browser, voice_street, "op1")
    _open_the_sos(operator, voice_street)
    calls = operator.locator("#calls")
    log = operator.locator("#call-log li")
    timeline = operator.locator("#timeline")

    # Their own phone, which Twilio rings first: put on their account from the screen.
    expect(calls).to_contain_text("系统先拨通您的电话")
    operator.click("#change-my-phone")
    operator.fill("#my-phone", MY_PHONE)
    operator.click("#save-my-phone")
    expect(calls.locator(".my-phone")).to_contain_text(MY_PHONE)

    # The call: placed through the real client, the operator answers, the elder's phone rings
    # and she answers; they talk (the fake holds the conversation until released).
    fake.script_calls(CallOutcome(talk_s=125, hold=True), CallOutcome(callee="busy"))
    operator.locator("#profile button.call[data-call=elder]").click()
    expect(log.first).to_have_attribute("data-state", "in_progress")
    expect(log.first).to_contain_text("王秀英 ****8000 · 通话中")
    expect(timeline.locator("li[data-action=call_placed]")).to_contain_text("王秀英 ****8000")
    expect(timeline.locator("li[data-action=call_ringing]")).to_contain_text("对方振铃")
    expect(timeline.locator("li[data-action=call_answered]")).to_contain_text("对方已接听")
    screenshot(operator, "console-click-to-call-talking.png")

    # She hangs up after 125 s: over, with its duration and who hung up.
    fake.release_call()
    expect(log.first).to_have_attribute("data-state", "completed")
    expect(log.first).to_contain_text("通话结束 · 通话 125 秒 · 对方先挂断")
    expect(timeline.locator("li[data-action=call_completed]")).to_contain_text("125 秒")
    expect(timeline.locator("li[data-action=call_hung_up]")).to_contain_text("对方先挂断")
    placed = fake.wait_call(0)
    assert dict(fake.call_requests[0])["To"] == f"+86{MY_PHONE}"
    assert placed["dialled"] == f"+86{ELDER_PHONE}" and placed["caller_id"] == SENDER

    # The son's line is busy: the list and the timeline say so, and the operator hears it.
    operator.locator("#profile button.call[data-call=contact]").first.click()
    expect(log.first).to_have_attribute("data-state", "busy")
    expect(log.first).to_contain_text("李明 ****")
    expect(log.first).to_contain_text("对方忙线")
    expect(operator.locator("#call-message")).to_be_hidden()  # "answer your phone" is over
    expect(timeline.locator("li[data-action=call_busy]")).to_contain_text("忙线")
    assert "对方忙线" in fake.wait_call(1)["after_dial"]
    screenshot(operator, "console-click-to-call-busy.png")

    # In words in both languages: no code of the calls on the screen.
    for language in ("zh", "en"):
        operator.context.add_cookies(
            [{"name": "lang", "value": language, "url": voice_street.base}]
        )
        operator.reload()
        expect(log).to_have_count(2)
        expect(timeline.locator("li[data-action=call_busy]")).to_have_count(1)
        operator.wait_for_load_state("networkidle")
        assert _raw_codes(_visible_words(operator), language) == []
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()


def test_without_twilio_settings_the_numbers_stay_tel_links(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    _open_the_sos(operator, street)
    expect(operator.locator("#profile a.tel").first).to_have_attribute("href", f"tel:{ELDER_PHONE}")
    answer = operator.request.get(f"{street.base}/api/incidents").json()[0]
    panel = operator.request.get(f"{street.base}/api/voice/incidents/{answer['id']}").json()
    assert panel["mode"] == "off"  # the page has asked the same: nothing else to wait for
    operator.wait_for_load_state("networkidle")
    expect(operator.locator("#profile button.call")).to_have_count(0)
    expect(operator.locator("#calls")).to_be_hidden()
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()
