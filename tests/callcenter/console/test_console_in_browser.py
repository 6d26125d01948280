"""The console and the worker page in Chromium: sign-in per role, the live queue, the incident
screen, the worker's steps, centre scoping, the family SMS; screenshots as artifacts."""

from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, expect

from tests.callcenter.console.conftest import Street, screenshot, signed_in_page, wait_until
from tests.factories import TEST_PASSWORD

SHENZHEN = ZoneInfo("Asia/Shanghai")


def test_each_role_signs_in_to_its_own_home_and_menu(browser: Browser, street: Street) -> None:
    homes = {
        "op1": ("/console", "接线员", False, False),
        "sup1": ("/console", "值班主管", True, False),
        "admin": ("/console", "系统管理员", True, True),
        "ph03-w1": ("/worker", "社区社工", False, False),
    }
    for username, (home, role, reports, accounts) in homes.items():
        page = signed_in_page(browser, street, username, phone=username.startswith("ph"))
        assert page.url == street.base + home
        expect(page.get_by_test_id("who")).to_contain_text(role)
        expect(page.locator("nav a[href='/console/reports']")).to_have_count(int(reports))
        expect(page.locator("nav a[href='/console/accounts']")).to_have_count(int(accounts))
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_a_wrong_password_says_so_and_english_is_one_click_away(
    browser: Browser, street: Street
) -> None:
    page = browser.new_page()
    page.goto(street.base + "/console")
    assert "/sign-in?next=/console" in page.url
    page.fill("#username", "op1")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("#sign-in-error")).to_have_text("用户名或密码错误")
    page.click("#language")
    expect(page.locator("button[type=submit]")).to_have_text("Sign in")
    page.close()


def test_a_press_reaches_the_queue_live_and_is_claimed_handled_and_resolved(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    colleague = signed_in_page(browser, street, "op2")
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    expect(operator.locator("#queue-empty")).to_be_visible()
    expect(operator.locator("#feed-state")).to_have_attribute("data-state", "live")
    expect(colleague.locator("#feed-state")).to_have_attribute("data-state", "live")

    street.press(street.hehua_terminal, button="main")

    row = operator.locator("#queue tbody tr").first
    expect(row).to_have_class("p1 untaken ", timeout=5_000)
    expect(row.locator(".kind")).to_contain_text("一键呼救")
    expect(row.locator(".elder")).not_to_be_empty()
    expect(operator.locator("#p1-banner")).to_be_visible()
    expect(colleague.locator("#queue tbody tr")).to_have_count(1)
    expect(operator).to_have_title(re.compile("一级警情"))
    screenshot(operator, "console-queue.png")

    # Claimed on one console: taken, with the holder's name, on the other at once.
    operator.locator("#queue tbody tr .claim").first.click()
    operator_name = operator.get_by_test_id("who").inner_text().split(" · ")[0]
    expect(colleague.locator("#queue tbody tr .holder")).to_have_text(operator_name)
    expect(colleague.locator("#queue tbody tr").first).to_have_class("p1 taken ")
    expect(colleague.locator("#p1-banner")).to_be_hidden()

    operator.locator("#queue tbody tr a.button").first.click()
    expect(operator.locator("#incident-status")).to_have_text("已接单")
    expect(operator.locator("#profile .elder-name")).to_contain_text("王秀英")
    expect(operator.locator("#profile")).to_contain_text("独居")
    expect(operator.locator("#profile a.tel").first).to_have_attribute(
        "href", re.compile(r"^tel:1\d{10}$")
    )
    expect(operator.locator("#routing")).to_contain_text("禾花社区")
    expect(operator.locator("#timeline li[data-action=acknowledged]")).to_have_count(1)
    expect(operator.locator("#timeline li[data-action=acknowledged] strong")).to_have_text("接单")
    incident = operator.request.get(operator.url.replace("/console/", "/api/")).json()
    opened = dt.datetime.fromisoformat(incident["opened_at"]).astimezone(SHENZHEN)
    expect(operator.locator("#timeline li[data-action=opened] time")).to_have_text(
        f"{opened.month}-{opened:%d %H:%M:%S}"  # Shenzhen's time, though the browser is on UTC
    )
    screenshot(operator, "console-incident.png")

    # The operator hands it on to the 禾花 worker on duty, who sees it on their phone at once.
    worker_name = worker.get_by_test_id("who").inner_text().split(" · ")[0]
    operator.select_option("#assign-to", label=f"{worker_name} · 社区社工 · 禾花社区")
    operator.click("#assign-submit")
    task = worker.locator("#tasks article.task")
    expect(task).to_have_count(1)
    expect(task).to_contain_text("养了一条狗")
    expect(operator.locator("#holder")).to_have_text(worker_name)
    for button, status in (("出发", "在途"), ("已到达", "已到场")):
        task.get_by_role("button", name=button).click()
        expect(task.locator(".status")).to_have_text(status)
        expect(operator.locator("#incident-status")).to_have_text(status)
    task.locator("select.outcome").select_option("assistance_given")
    task.locator("textarea.note").fill("扶起，无外伤")
    task.get_by_role("button", name="处理完成").click()
    expect(worker.locator("#tasks-empty")).to_be_visible()
    screenshot(worker, "worker-page.png")

    expect(operator.locator("#incident-status")).to_have_text("已处理")
    expect(operator.locator("#timeline li[data-action=resolved]")).to_contain_text("扶起，无外伤")
    expect(colleague.locator("#queue-empty")).to_be_visible()
    for page in (operator, colleague, worker):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_a_community_worker_sees_only_their_own_centre_and_accepts_a_task(
    browser: Browser, street: Street
) -> None:
    hehua = signed_in_page(browser, street, "ph03-w1")
    hehua.goto(street.base + "/console")
    expect(hehua.locator("#feed-state")).to_have_attribute("data-state", "live")
    street.press(street.pinghu_terminal, button="main")  # 平湖社区: PH01's
    street.press(street.hehua_terminal, button="main")
    expect(hehua.locator("#queue tbody tr")).to_have_count(1)
    expect(hehua.locator("#queue tbody tr td.centre")).to_have_text("禾花社区")
    hehua.wait_for_timeout(500)  # the PH01 change had its chance to (wrongly) arrive
    expect(hehua.locator("#queue tbody tr")).to_have_count(1)
    pinghu_id = hehua.evaluate("api('/api/incidents?centre=PH01').then(list => list.length)")
    assert pinghu_id == 0

    operator = signed_in_page(browser, street, "op1")
    expect(operator.locator("#queue tbody tr")).to_have_count(2)
    incident_id = hehua.locator("#queue tbody tr").get_attribute("data-incident-id")
    me = hehua.evaluate("ME.staff_id")
    operator.evaluate(
        f"api('/api/incidents/{incident_id}/assign', {{method: 'POST', body: {{staff_id: {me}}}}})"
    )
    hehua.goto(street.base + "/worker")
    task = hehua.locator("#tasks article.task")
    task.get_by_role("button", name="接单").click()
    expect(task.locator(".status")).to_have_text("已接单")
    row = operator.locator(f"#queue tbody tr[data-incident-id='{incident_id}']")
    expect(row).to_have_class("p1 taken ")
    expect(row.locator(".status")).to_have_text("已接单")
    for page in (hehua, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_the_operator_texts_the_family_from_the_incident_screen(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    operator.locator("#queue tbody tr a.button").first.click()
    expect(operator.locator("#profile .elder-name")).to_contain_text("王秀英")
    contacts = operator.evaluate("elder.contacts")
    assert all("id" in c for c in contacts), (
        "the elder profile must give each contact's id: the SMS API names the contact by it"
    )
    expect(operator.locator("#sms-log li")).to_have_count(1)  # the automatic one, on opening
    operator.fill("#sms-text", "您的家人按了呼救键，社工正在赶来。")
    operator.click("#sms-submit")
    expect(operator.locator("#action-ok")).to_have_text("短信已加入发送队列")
    expect(operator.locator("#sms-log li")).to_have_count(2)
    expect(operator.locator("#sms-log li").first).to_contain_text("社工正在赶来")  # newest first
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()


def test_a_supervisor_adds_a_shift_in_street_time_and_reads_the_reports(
    browser: Browser, street: Street
) -> None:
    supervisor = signed_in_page(browser, street, "sup1")  # a browser set to UTC
    supervisor.goto(street.base + "/console/rosters")
    supervisor.select_option("#centre", "PH03")
    expect(supervisor.locator("#shift-staff option").first).to_contain_text("社区社工")  # 禾花's
    name = supervisor.locator("#shift-staff option").first.inner_text().split(" · ")[0]
    tomorrow = dt.datetime.now(SHENZHEN).date() + dt.timedelta(days=1)
    supervisor.fill("#shift-starts", f"{tomorrow}T22:00")  # an evening shift in Pinghu
    supervisor.fill("#shift-ends", f"{tomorrow + dt.timedelta(days=1)}T02:00")
    supervisor.click("#show-week")
    supervisor.click("#add-shift button[type=submit]")
    row = supervisor.locator(
        "#shifts tbody tr", has_text=f"{tomorrow.month}-{tomorrow:%d} 22:00:00"
    )
    expect(row).to_contain_text(name)  # shown in Pinghu's time, though the browser is on UTC
    shifts = supervisor.request.get(
        f"{street.base}/api/rosters?centre=PH03&from={tomorrow}&to={tomorrow}"
    ).json()
    added = [s for s in shifts if s["staff_name"] == name and s["starts_at"].endswith("14:00:00Z")]
    assert len(added) == 1, shifts  # 22:00 in Pinghu is 14:00 UTC
    assert added[0]["ends_at"].endswith("18:00:00Z")

    supervisor.goto(street.base + "/console/reports")
    expect(supervisor.locator("#offline thead th")).to_have_count(4)
    rows = supervisor.locator("#offline tbody tr")
    expect(rows).to_have_count(2)  # the street's two elders live in 平湖 (PH01) and 禾花 (PH03)
    expect(rows.first.locator("td").first).to_have_text("平湖社区")
    screenshot(supervisor, "console-reports.png")
    assert supervisor.errors == []  # type: ignore[attr-defined]


def test_an_incident_raised_while_the_live_feed_connects_is_in_the_queue(
    browser: Browser, street: Street
) -> None:
    # The queue loads, and its live feed is still connecting when an SOS arrives: that change
    # was published to nobody, so the feed's opening must bring the queue up to date.
    context = browser.new_context(locale="zh-CN", timezone_id="UTC")
    context.set_default_timeout(10_000)
    context.add_init_script(HOLD_THE_FEED)
    page = context.new_page()
    page.goto(street.base + "/")
    page.fill("#username", "op1")
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")
    wait_until(page, "() => window.feedWanted === true")
    page.wait_for_load_state("networkidle")  # the queue's first load is done, and empty
    expect(page.locator("#queue tbody tr")).to_have_count(0)

    street.press(street.hehua_terminal, button="main")
    deadline = time.monotonic() + 10
    while not page.request.get(street.base + "/api/incidents").json():
        assert time.monotonic() < deadline, "the SOS never became an incident"
        time.sleep(0.1)
    page.evaluate("window.openFeed()")  # the feed connects only now, after the publish
    expect(page.locator("#queue tbody tr a.button")).to_have_count(1)
    context.close()


# The console's live feed socket is made only when the test says so (a slow network, a busy
# server): until then the page has asked for it and holds its listeners.
HOLD_THE_FEED = """
(() => {
  const Real = window.WebSocket;
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  window.openFeed = () => release();
  window.WebSocket = function (url, protocols) {
    if (!String(url).includes("/ws/feed")) return new Real(url, protocols);
    window.feedWanted = true;
    const listeners = [];
    const held = { addEventListener: (type, f) => listeners.push([type, f]), close() {} };
    gate.then(() => {
      const socket = new Real(url, protocols);
      for (const [type, f] of listeners) socket.addEventListener(type, f);
      held.close = () => socket.close();
    });
    return held;
  };
})();
"""


def test_a_change_the_queue_does_not_show_leaves_its_rows_as_they_are(
    browser: Browser, street: Street
) -> None:
    # A click landing while the rows were rebuilt for news nobody sees on them (a note, a family
    # SMS step) was lost: only a change a row shows may replace it.
    page = signed_in_page(browser, street, "op1")
    street.press(street.pinghu_terminal, button="main")
    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(1)
    first = rows.first.get_attribute("data-incident-id")
    page.evaluate("window.firstRow = document.querySelector('#queue tbody tr')")
    page.evaluate(
        f"api('/api/incidents/{first}/notes', {{method: 'POST', body: {{text: '已联系家属'}}}})"
    )
    # Then another alarm: the feed keeps commit order, so once its row shows, the note's news
    # has come too.
    street.press(street.hehua_terminal, button="main")
    expect(rows).to_have_count(2)
    same = f"document.querySelector('#queue tbody tr[data-incident-id=\"{first}\"]') === window.firstRow"
    assert page.evaluate(same)
