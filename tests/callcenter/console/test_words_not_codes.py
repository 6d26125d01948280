"""Every console page, in Chinese and in English, as the roles that open them, on a street with
real history (an SOS escalated to the supervisor, acknowledged, noted, resolved with an outcome,
followed up; family SMS in the outbox; a second SOS still ringing): no raw code in what a person
sees (snake_case words, community codes, staff ids, JSON, `key: 38`), and no symbol that needs an
emoji font."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kernel.settings import Settings
from tests.callcenter.console.conftest import LIVE_MS, Street, screenshot, signed_in_page
from tests.conftest import free_port

# What no person should have to read: codes, ids and data as the server stores them.
RAW_CODES = [
    re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"),  # sms_sent, assistance_given, sos_terminal
    re.compile(r"\bPH\d\d\b"),  # a community's code instead of its name
    re.compile(r"\bstaff\b\s*[:#]?\s*\d|\bstaff:\d"),  # staff:38
    re.compile(r"\b[A-Za-z_]+: ?\d+(?![\d.%])"),  # unanswered_by: 36, level: 1
    re.compile(r"#\d+\b(?!\s*·)"),  # a staff member nobody could name
    re.compile(r"\b(?:true|false|null|undefined|None|NaN)\b"),
    re.compile(r"[{}]|\":"),  # JSON
]
# Symbols that need an emoji or symbol font the machine may lack (a 📍 is an empty box without
# one): icons are drawn as inline SVG instead.
NEEDS_AN_EMOJI_FONT = re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")
# In Chinese, an English word is a code or a forgotten translation; these are not.
ENGLISH_IN_CHINESE = re.compile(r"\b[A-Za-z]{3,}\b")
ALLOWED_IN_CHINESE = {"English", "mmHg", "mmol", "CSV", "SpO", "admin"}  # admin: a username
WAITING = {"pending", "sending", "unsure"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Escalation in seconds, so that the history holds both levels of it."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", mqtt_port=free_port(),
        ack_escalate_after_s=1, supervisor_escalate_after_s=2,
    )  # fmt: skip


@dataclass
class History:
    resolved: int  # escalated twice, then acknowledged, noted, resolved, followed up
    ringing: int  # an SOS nobody has acknowledged, held by a 禾花 worker
    elder: int


def _wait_for(page: Page, path: str, done: Callable[[object], bool]) -> object:
    deadline = time.monotonic() + LIVE_MS / 1000
    while True:
        answer = page.request.get(path).json()
        if done(answer):
            return answer
        assert time.monotonic() < deadline, f"{path} never got there: {answer}"
        time.sleep(0.2)


def _escalated_twice(incident: object) -> bool:
    return any(e["detail"].get("level") == 2 for e in incident["timeline"])  # type: ignore[index]


def _make_history(page: Page, street: Street) -> History:
    api = street.base + "/api"
    street.press(street.hehua_terminal, button="main")
    first = _wait_for(page, f"{api}/incidents", lambda found: len(found) == 1)
    incident = first[0]["id"]  # type: ignore[index]
    _wait_for(page, f"{api}/incidents/{incident}", _escalated_twice)
    for path, body in (
        ("acknowledge", {}),
        ("notes", {"text": "老人说头晕，已安抚"}),
        ("status", {"status": "en_route"}),
        ("status", {"status": "on_site"}),
        ("status", {"status": "resolved", "outcome": "assistance_given", "note": "扶起"}),
        ("status", {"status": "followed_up"}),
    ):
        answer = page.request.post(f"{api}/incidents/{incident}/{path}", data=body)
        assert answer.ok, answer.text()
    found = page.request.get(f"{api}/incidents/{incident}").json()
    elder = page.request.get(f"{api}/elders/{found['elder_id']}").json()
    sent = page.request.post(f"{api}/sms/messages", data={
        "incident_id": incident, "contact_id": elder["contacts"][0]["id"],
        "text": "您的家人已得到帮助。", "request_id": "walk-1",
    })  # fmt: skip
    assert sent.ok, sent.text()
    _wait_for(
        page,
        f"{api}/sms/messages?incident={incident}",
        lambda found: len(found) >= 3 and not {m["state"] for m in found} & WAITING,  # type: ignore[union-attr, index]
    )
    street.press(street.pinghu_terminal, button="main")
    both = _wait_for(page, f"{api}/incidents", lambda found: len(found) == 1)
    ringing = both[0]["id"]  # type: ignore[index]
    _wait_for(page, f"{api}/incidents/{ringing}", _escalated_twice)
    on_duty = page.request.get(f"{api}/on-duty?centre=PH03").json()
    hehua = next(p for p in on_duty if p["role"] == "community_worker")  # ph03-w1
    assigned = page.request.post(
        f"{api}/incidents/{ringing}/assign", data={"staff_id": hehua["staff_id"], "note": "请上门"}
    )
    assert assigned.ok, assigned.text()
    return History(resolved=incident, ringing=ringing, elder=elder["id"])


def _visible_words(page: Page) -> str:
    """What a person reads on the page: its text, title, placeholders, tooltips, options."""
    return str(
        page.evaluate(
            """() => [document.title, document.body.innerText,
              ...[...document.querySelectorAll('[placeholder],[title],[aria-label],option,optgroup')]
                .map((e) => [e.getAttribute('placeholder'), e.getAttribute('title'),
                             e.getAttribute('aria-label'), e.getAttribute('label'), e.textContent]
                  .filter(Boolean).join(' ')),
              ...[...document.querySelectorAll('svg title, svg text')].map((e) => e.textContent),
            ].join('\\n')"""
        )
    )


def _raw_codes(text: str, language: str) -> list[str]:
    found = [m.group(0) for pattern in RAW_CODES for m in pattern.finditer(text)]
    found += NEEDS_AN_EMOJI_FONT.findall(text)
    if language == "zh":
        found += [
            m.group(0)
            for m in ENGLISH_IN_CHINESE.finditer(text)
            if m.group(0) not in ALLOWED_IN_CHINESE
        ]
    return found


# Page, who opens it, and what shows once its data is in.
PAGES = [
    ("/console", "op1", "#queue tbody tr"),
    ("/console/incidents/{resolved}", "op1", "#timeline li[data-action=followed_up]"),
    ("/console/incidents/{ringing}", "op1", "#timeline li[data-action=assigned]"),
    ("/console/map", "op1", "#street-map g.incident"),
    ("/console/elders", "op1", "#results tbody tr"),
    ("/console/elders/{elder}", "op1", "#history li"),
    ("/console/reports", "sup1", "#offline tbody tr"),
    ("/console/rosters", "sup1", "#shifts tbody tr"),
    ("/console/accounts", "admin", "#accounts tbody tr"),
    ("/worker", "ph03-w1", "#tasks article.task"),
]


def test_no_page_shows_a_raw_code_in_either_language(browser: Browser, street: Street) -> None:
    operator = signed_in_page(browser, street, "op1")
    history = _make_history(operator, street)
    operator.context.close()
    found: dict[str, list[str]] = {}
    for language in ("zh", "en"):
        signed_out = browser.new_context()
        signed_out.add_cookies([{"name": "lang", "value": language, "url": street.base}])
        page = signed_out.new_page()
        page.goto(street.base + "/sign-in")
        expect(page.locator("#sign-in-form")).to_be_visible()
        found[f"{language} /sign-in"] = _raw_codes(_visible_words(page), language)
        signed_out.close()
        pages: dict[str, Page] = {}
        for template, username, ready in PAGES:
            if username not in pages:
                pages[username] = signed_in_page(browser, street, username)
                pages[username].context.add_cookies(
                    [{"name": "lang", "value": language, "url": street.base}]
                )
            page = pages[username]
            path = template.format(**vars(history))
            page.goto(street.base + path)
            expect(page.locator(ready).first).to_be_visible()
            if path == "/console/map":  # the elder's home and the way to it, drawn on a click
                page.locator("#street-map g.incident").first.dispatch_event("click")
                expect(page.locator("#street-map g.home")).to_have_count(1)
            page.wait_for_load_state("networkidle")
            found[f"{language} {path} ({username})"] = _raw_codes(_visible_words(page), language)
            if template == "/console/incidents/{resolved}":
                screenshot(page, f"console-incident-timeline-{language}.png")
            assert page.errors == [], page.errors  # type: ignore[attr-defined]
        for page in pages.values():
            page.context.close()
    raw = {where: sorted(set(codes)) for where, codes in found.items() if codes}
    assert raw == {}, "\n".join(f"{where}: {codes}" for where, codes in raw.items())
