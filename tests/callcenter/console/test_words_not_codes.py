"""Every console page, in Chinese and in English, as the roles that open them, on a street with
real history (an SOS escalated to the supervisor, acknowledged, noted, resolved with an outcome,
followed up; family SMS in the outbox; a second SOS still ringing): no raw code in what a person
sees (snake_case words, community codes, staff ids, JSON, `key: 38`), and no symbol that needs an
emoji font."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from callcenter.care import service as care
from callcenter.care.baselines import Drift, Silence
from kernel.models import TrendDirection
from kernel.settings import Settings
from tests.callcenter.console.conftest import LIVE_MS, Street, screenshot, signed_in_page
from tests.callcenter.console.test_work_orders_in_browser import green_key, terminal
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
        ack_escalate_after_s=1, supervisor_escalate_after_s=2, work_order_check_every_s=0.5,
        care_calls_first_spread_days=1,
    )  # fmt: skip


@dataclass
class History:
    resolved: int  # escalated twice, then acknowledged, noted, resolved, followed up
    ringing: int  # an SOS nobody has acknowledged, held by a 禾花 worker
    elder: int
    work_order: int  # the green key's meal, accepted and arranged with the centre
    overdue_order: int  # a repair nobody accepted in time


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


def _make_work_orders(page: Page, street: Street, settings: Settings) -> tuple[int, int]:
    """Two presses of the 禾花 elder's green key: a meal arranged for tomorrow with the centre,
    and a repair whose acceptance deadline is moved an hour back (reported overdue)."""
    api = street.base + "/api"
    with terminal(street, street.hehua_terminal) as socket:  # it hears earlier notices too
        green_key(socket, "meal")
        green_key(socket, "repair")
    meal, repair = sorted(
        _wait_for(page, f"{api}/work-orders", lambda found: len(found) == 2),  # type: ignore[arg-type]
        key=lambda order: order["need"] != "meal",
    )
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    arranged = page.request.post(f"{api}/work-orders/{meal['id']}/schedule", data={
        "provider_kind": "centre", "appointment_at": tomorrow.isoformat(), "note": "社工送饭",
    })  # fmt: skip
    assert arranged.ok, arranged.text()
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        db.execute("UPDATE work_orders SET due_at = ? WHERE id = ?", (past, repair["id"]))
    _wait_for(page, f"{api}/work-orders?overdue=true", lambda found: len(found) == 1)  # type: ignore[arg-type]
    return meal["id"], repair["id"]


def _make_care_calls(page: Page, street: Street, settings: Settings) -> None:
    """Today's care calls (both elders live alone): 王秀英's tried once without an answer,
    陈建国's answered; a typhoon warning recorded by a supervisor."""
    api = street.base + "/api"
    calls = _wait_for(page, f"{api}/care-calls", lambda found: len(found) == 2)
    by_name = {call["elder_name"]: call for call in calls}  # type: ignore[union-attr, index]
    for name, body in (("王秀英", {"answered": False, "notes": "响铃无人接"}),
                       ("陈建国", {"answered": True, "outcome": "fine", "notes": "很好"})):  # fmt: skip
        tried = page.request.post(f"{api}/care-calls/{by_name[name]['id']}/attempts", data=body)
        assert tried.ok, tried.text()
    staff = page.request.get(f"{api}/staff").json()
    supervisor = next(member["id"] for member in staff if member["role"] == "supervisor")
    today = dt.datetime.now(settings.tz).date().isoformat()
    recorded = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        db.execute(
            "INSERT INTO weather_warnings (kind, day, recorded_at, recorded_by, note)"
            " VALUES ('typhoon', ?, ?, ?, '台风橙色预警')",
            (today, recorded, f"staff:{supervisor}"),
        )


def _make_history(page: Page, street: Street, settings: Settings) -> History:
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
    # What the call centre keeps beyond the register, as the profile shows it.
    for path, body in (
        ("home-access", {"key_holder_name": "张阿姨", "key_holder_relation": "邻居",
                         "key_holder_phone": "13700002222", "key_safe_code": "4821",
                         "door_code": "2580#", "notes": "钥匙在对门302"}),
        ("medical", {"medications": [{"name": "氨氯地平", "dose": "5mg 每日一次"}],
                     "allergies": ["青霉素"], "doctor_name": "刘医生",
                     "doctor_phone": "075528912345", "doctor_clinic": "禾花社康中心",
                     "preferred_hospital": "龙岗区第二人民医院"}),
    ):  # fmt: skip
        version = page.request.get(f"{api}/elders/{elder['id']}").json()["version"]
        edited = page.request.put(
            f"{api}/elders/{elder['id']}/{path}", data={"version": version, **body}
        )
        assert edited.ok, edited.text()
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
    # A note to the next shift, for the hand-over page.
    note = page.request.post(f"{api}/shift/notes", data={"text": "3号楼电梯停用，上门走楼梯"})
    assert note.ok, note.text()
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
    work_order, overdue_order = _make_work_orders(page, street, settings)
    _make_care_calls(page, street, settings)
    return History(
        resolved=incident, ringing=ringing, elder=elder["id"], work_order=work_order,
        overdue_order=overdue_order,
    )  # fmt: skip


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
    ("/console/incidents/{ringing}", "op1", "#timeline li[data-action=reassigned]"),
    ("/console/map", "op1", "#street-map g.incident"),
    ("/console/elders", "op1", "#results tbody tr"),
    ("/console/elders/{elder}", "op1", "#work-orders li[data-work-order-id]"),
    ("/console/reports", "sup1", "#offline tbody tr"),
    ("/console/rosters", "sup1", "#shifts tbody tr"),
    ("/console/accounts", "admin", "#accounts tbody tr"),
    # The shift hand-over (the note as its writer and as the next shift see it) and the board.
    ("/console/shift", "op1", "#recent-notes li.note"),
    ("/console/shift", "sup1", "#notes li.note"),
    ("/console/board", "sup1", "#board-incidents tfoot tr"),
    ("/worker", "ph03-w1", "#tasks article.task"),
    # Service requests as work orders: the list (one overdue), one arranged, one overdue, the report.
    ("/console/work-orders", "op1", "#orders tbody tr .overdue"),
    ("/console/work-orders/{work_order}", "op1", "#history li[data-action=scheduled]"),
    ("/console/work-orders/{overdue_order}", "op1", "#history li[data-action=overdue]"),
    ("/console/work-orders", "sup1", "#orders tbody tr .overdue"),
    ("/console/work-orders/report", "sup1", "#by-need tbody tr[data-key=meal]"),
    # The hand-over sheet for the 120/110 dispatcher and the paramedics.
    (
        "/console/incidents/{resolved}/summary",
        "op1",
        "#summary-timeline li[data-action=followed_up]",
    ),
    # A community worker opens the console's pages too: their centre's and their own tasks.
    ("/console", "ph03-w1", "#queue tbody tr"),
    ("/console/incidents/{ringing}", "ph03-w1", "#timeline li[data-action=reassigned]"),
    (
        "/console/incidents/{ringing}/summary",
        "ph03-w1",
        "#summary-timeline li[data-action=reassigned]",
    ),
    ("/console/map", "ph03-w1", "#street-map g.incident"),
    ("/console/elders", "ph03-w1", "#results tbody tr"),
    ("/console/elders/{elder}", "ph03-w1", "#care-calls li[data-care-call-id]"),
    ("/console/rosters", "ph03-w1", "#shifts tbody tr"),
    ("/console/work-orders", "ph03-w1", "#orders tbody tr .overdue"),
    ("/console/work-orders/{work_order}", "ph03-w1", "#history li[data-action=scheduled]"),
    ("/console/shift", "ph03-w1", "#held li[data-incident-id]"),
    # Proactive care calls: today's list, a call opened (its tries), the warnings, the report.
    ("/console/care-calls", "op1", "#calls tbody tr .tries"),
    ("/console/care-calls", "sup1", "#warnings li[data-kind=typhoon]"),
    ("/console/care-calls", "ph03-w1", "#calls tbody tr .tries"),
]


def test_no_page_shows_a_raw_code_in_either_language(
    browser: Browser, street: Street, settings: Settings
) -> None:
    operator = signed_in_page(browser, street, "op1")
    history = _make_history(operator, street, settings)
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
            if path == "/console/care-calls":  # a call opened: its numbers, tries and form
                page.locator("#calls tbody tr button.record").first.click()
                expect(page.locator("#call-attempts li[data-answered]")).to_have_count(1)
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


# Every step and detail the server writes on a timeline (callcenter/incidents, callcenter/family,
# callcenter/privacy), with values as it writes them: steps the walk above cannot make happen in
# a test's minute (a power cut, a reading, a failed SMS) are read here.
EVERY_STEP = [
    ("opened", "system", {"type": "sos", "unidentified_caller": False}),
    ("opened", "system", {"type": "sos", "unidentified_caller": True,
                          "registered_elder_departed": True}),
    ("opened", "system", {"type": "vitals", "unidentified_caller": False, "band": "critical",
                          "summary": "收缩压 192 mmHg（危急）"}),
    ("opened", "system", {"reason": "power_cut", "devices": ["864500000000038", "BP0000000001"],
                          "since": "2026-11-23T04:00:00Z", "summary": "疑似停电"}),
    ("opened", "system", {"reason": "device_offline", "devices": ["864500000000038"],
                          "since": "2026-11-23T04:00:00Z", "summary": "设备离线"}),
    ("opened", "system", {"reason": "battery_low", "devices": ["BP0000000001"], "battery": 12,
                          "summary": "电量低"}),
    ("opened", "system", {"reason": "no_door_activity", "still_since": "2026-11-23T04:00:00Z",
                          "summary": "无开关门"}),
    ("assigned", "system", {"centre": "PH03", "staff_id": 1, "routing": "最近社区中心 禾花社区"}),
    ("queued", "system", {"centre": "PH00", "staff_id": None, "routing": "无人值班"}),
    ("reassigned", "staff:1", {"staff_id": 2, "staff_name": "某人", "centre": "PH01",
                               "previous_staff_id": 1, "note": "请上门"}),
    ("acknowledged", "staff:1", {"seconds": 12.5}),
    ("note", "staff:1", {"text": "老人说头晕"}),
    ("escalated", "escalation", {"level": 1, "unanswered_by": 1, "staff_id": 2,
                                 "routing": "下一位", "street_operators_alerted": True}),
    ("escalated", "escalation", {"level": 2, "supervisor_id": 1}),
    ("not_on_site", "escalation", {"minutes_open": 31, "supervisor_id": 1,
                                   "street_operators_alerted": True, "holder": 2}),
    ("en_route", "staff:1", {"outcome": None, "note": ""}),
    ("on_site", "staff:1", {"outcome": None, "note": ""}),
    ("resolved", "staff:1", {"outcome": "ambulance_called", "note": "已送医"}),
    ("resolved", "alarm-engine", {"outcome": "recovered", "devices": ["BP0000000001"],
                                  "note": "设备已全部恢复在线"}),
    ("followed_up", "staff:1", {"outcome": None, "note": ""}),
    ("closed", "staff:1", {"outcome": "elder_deceased", "reason": "elder_deceased"}),
    ("closed", "staff:1", {"outcome": "elder_moved_away", "reason": "elder_moved_away"}),
    ("repeated", "system", {"type": "sos"}),
    ("cancelled_by_elder", "system", {"ref": "m-17"}),
    ("late_cancel", "system", {"ref": "m-18"}),
    ("reading", "system", {"band": "warning", "summary": "心率 118 次/分（异常）"}),
    ("door", "system", {"state": "open"}),
    ("door_activity", "system", {"state": "closed", "sensed_at": "2026-11-23T04:00:00Z"}),
    ("more_devices_offline", "system", {"devices": ["864500000000038"]}),
    # Trend notices (callcenter/care): the reasons as the baseline task words them.
    ("opened", "baselines", {"reason": care.drift_words(
        Drift("bp_sys", TrendDirection.HIGH, 152.2, 128.0, 15.0, 5, 4))}),
    ("trend_added", "baselines", {"reason": care.drift_words(
        Drift("spo2", TrendDirection.LOW, 92.6, 97.0, 3.0, 5, 3))}),
    ("opened", "baselines", {"reason": care.silence_words(Silence(3, 27))}),
    ("back_within_baseline", "baselines", {"reason": care.back_words("glucose", 6.34, 6.1)}),
    ("resolved", "baselines", {"outcome": "back_to_baseline",
                               "reason": care.back_words("hr", 66.4, 70.0)}),
    ("readings_resumed", "baselines", {"reason": care.RESUMED_WORDS}),
    ("resolved", "baselines", {"outcome": "readings_resumed", "reason": care.RESUMED_WORDS}),
    ("sms_sent", "sms", {"message_id": 3, "step": "opened", "to": "儿子 李明 ****0001",
                         "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}),
    ("sms_outbox", "sms", {"message_id": 3, "step": "opened", "to": "儿子 李明 ****0001",
                           "text": "【平湖街道】您的家人李秀英按了呼叫键，社工已接单"}),
    ("sms_skipped", "sms", {"message_id": 3, "step": "on_the_way", "to": "儿子 李明 ****0001",
                            "reason": "superseded: the incident was over first"}),
    ("sms_deferred", "sms", {"message_id": 3, "step": "resolved", "to": "儿子 李明 ****0001",
                             "reason": "quiet hours", "until": "2026-11-23T23:00:00Z"}),
    ("sms_failed", "sms", {"message_id": 3, "step": "manual", "to": "儿子 李明 ****0001",
                           "error_code": 21610, "reason": "对方已退订 (unsubscribed, STOP)"}),
    ("sms_failed", "sms", {"message_id": 4, "step": "manual", "to": "儿子 李明 ****0001",
                           "error_code": 21211,
                           "reason": "号码无效 (invalid number), as before on this incident"}),
    ("sms_review", "sms", {"message_id": 3, "step": "welfare_finding", "to": "儿子 李明 ****0001",
                           "reason": "短信是否已发出无法确认，请人工核对"}),
    ("sms_status", "sms", {"message_id": 3, "step": "opened", "to": "儿子 李明 ****0001",
                           "status": "undelivered", "error_code": 30003}),
    ("emergency_called", "staff:1", {"service": "ambulance", "number": "120",
                                     "called_at": "2026-11-23T04:01:00+00:00", "reference": None,
                                     "hospital": None, "note": ""}),
    ("emergency_called", "staff:1", {"service": "fire", "number": "0755-119",
                                     "called_at": "2026-11-23T04:01:00+00:00",
                                     "reference": "LG-20261123-0042", "hospital": None,
                                     "note": "门打不开"}),
    ("emergency_updated", "staff:1", {"service": "ambulance", "reference": "LG-20261123-0042",
                                      "hospital": "龙岗区第三人民医院",
                                      "called_at": "2026-11-23T04:02:00+00:00",
                                      "number": "0755-120", "note": "调度说十分钟到"}),
    ("handed_over", "staff:1", {"service": "police", "handed_over_at": "2026-11-23T04:20:00+00:00",
                                "hospital": None, "note": ""}),
    # Welfare visits raised by proactive care calls (callcenter/care_calls).
    ("opened", "system", {"reason": "care_call_unanswered",
                          "since": "2026-11-23T02:00:00+00:00", "note": "响铃无人接"}),
    ("opened", "system", {"reason": "care_call_unwell", "note": "说头晕两天"}),
    ("opened", "system", {"reason": "care_call_needs_visit"}),
    ("care_call", "staff:1", {"reason": "care_call_unwell", "note": "又说头晕", "raised_to": 2}),
    # Click-to-call (callcenter/voice): each step as the call's callbacks write it.
    ("call_placed", "staff:1", {"number": "女儿 李娟 ****0002"}),
    ("call_ringing", "voice", {"number": "王秀英 ****8000"}),
    ("call_answered", "voice", {"number": "王秀英 ****8000"}),
    ("call_completed", "voice", {"number": "王秀英 ****8000", "seconds": 125}),
    ("call_hung_up", "voice", {"reason": "callee_hung_up"}),
    ("call_hung_up", "voice", {"reason": "operator_hung_up"}),
    ("call_busy", "voice", {"number": "王秀英 ****8000", "reason": "call_busy",
                            "error_code": None}),
    ("call_no_answer", "voice", {"number": "王秀英 ****8000", "reason": "call_no_answer",
                                 "error_code": None}),
    ("call_failed", "voice", {"number": "王秀英 ****8000",
                              "reason": "号码不存在 (the number does not exist)", "error_code": None}),
    ("call_failed", "voice", {"number": "王秀英 ****8000", "reason": "call_failed",
                              "error_code": 13224}),
    ("call_failed", "voice", {"number": "王秀英 ****8000",
                              "reason": "语音服务拒绝了呼叫 (Twilio refused the call, HTTP 401)",
                              "error_code": 20003}),
    ("call_canceled", "voice", {"number": "王秀英 ****8000", "reason": "call_not_dialled"}),
    ("call_operator_unreached", "voice", {"reason": "call_no_answer", "error_code": None}),
    # One emergency, one case: alarms joining the elder's case, merges, links, call-backs.
    ("joined", "system", {"kind": "sos", "raised_to": 1}),
    ("joined", "system", {"kind": "vitals", "band": "critical",
                          "summary": "收缩压 186 mmHg（危急）"}),
    ("joined", "system", {"kind": "wandering", "state": "open"}),
    ("repeated", "system", {"type": "sos", "callback_withdrawn": True}),
    ("merged_in", "staff:1", {"merged": 14, "kind": "welfare", "raised_to": 1, "released": 2,
                              "staff_id": 1, "note": "同一件事"}),
    ("merged_into", "staff:1", {"into": 12, "released": 2, "note": ""}),
    ("linked", "staff:1", {"linked": 15, "kind": "technical", "note": "门磁离线"}),
    ("cancel_noted", "system", {"ref": "m-19"}),
    ("callback_requested", "system", {"due": "2026-11-23T04:10:00+00:00", "centre": "PH00",
                                      "staff_id": 1,
                                      "routing": "老人已取消呼叫，由街道呼叫中心回拨；派给 某人"}),
    ("callback_requested", "system", {"due": "2026-11-23T04:10:00+00:00", "holder": 2}),
    ("callback_overdue", "escalation", {"due": "2026-11-23T04:10:00+00:00", "supervisor_id": 1,
                                        "street_operators_alerted": True, "holder": 2}),
    ("called_back", "staff:1", {"result": "needs_help", "note": "说胸口痛"}),
    ("called_back", "staff:1", {"result": "elder_fine", "note": ""}),
    ("resolved", "staff:1", {"outcome": "accidental_press", "note": ""}),
    ("resolved", "staff:1", {"outcome": "device_test", "note": ""}),
    # A green-key incident of before work orders, carried over by migration 0014.
    ("became_work_order", "system", {"ref": "W12"}),
]  # fmt: skip


def test_every_timeline_step_the_server_writes_reads_in_words(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    operator.locator("#queue tbody tr a.button").first.click()
    expect(operator.locator("#timeline li[data-action=opened]")).to_have_count(1)
    entries = [
        {"at": "2026-11-23T04:00:00Z", "actor": actor, "action": action, "detail": detail}
        for action, actor, detail in EVERY_STEP
    ]
    found: dict[str, list[str]] = {}
    for language in ("zh", "en"):
        operator.context.add_cookies([{"name": "lang", "value": language, "url": street.base}])
        operator.reload()
        expect(operator.locator("#timeline li[data-action=opened]")).to_have_count(1)
        operator.evaluate(
            "entries => document.body.append(el('ol', {id: 'every-step'}, timelineItems(entries)))",
            entries,
        )
        steps = operator.locator("#every-step li")
        expect(steps).to_have_count(len(EVERY_STEP))
        for index, (action, _actor, _detail) in enumerate(EVERY_STEP):
            text = steps.nth(index).inner_text()
            if codes := _raw_codes(text, language):
                found[f"{language} {action} {text!r}"] = codes
    assert found == {}
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()
