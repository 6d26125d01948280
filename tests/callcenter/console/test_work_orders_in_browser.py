"""The green key in the console, in Chromium: an elder's press becomes a work order of their
community centre with its need in words, heard back on the terminal; the community worker
accepts it and arranges a provider and an appointment, the operator closes it as done; a
deadline passed shows overdue on the page and is reported, and nothing of it is ever an alarm
(no incident, no escalation to the supervisor, no P1 banner)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import APIResponse, Browser, Route, expect
from websockets.sync.client import ClientConnection, connect

from callcenter.workorders.service import RECEIVED
from kernel.settings import Settings
from tests.callcenter.console.conftest import LIVE_MS, Street, screenshot, signed_in_page
from tests.conftest import free_port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Alarms escalate in seconds (a green key chased like an alarm would reach the supervisor
    within the test); the work-order check runs every half second."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", mqtt_port=free_port(),
        ack_escalate_after_s=1, supervisor_escalate_after_s=2, work_order_check_every_s=0.5,
    )  # fmt: skip


@contextmanager
def terminal(street: Street, device: str) -> Iterator[ClientConnection]:
    """The elder's terminal on /ws/device, signed in, listening."""
    url = street.base.replace("http://", "ws://") + "/ws/device"
    with connect(url) as socket:
        socket.send(json.dumps({"v": 1, "type": "hello", "device": device,
                                "secret": street.secrets[device]}))  # fmt: skip
        assert json.loads(socket.recv(timeout=5))["type"] == "welcome"
        yield socket


def heard(socket: ClientConnection, type_: str) -> dict[str, object]:
    """The next downlink message of this type the terminal hears."""
    deadline = time.monotonic() + LIVE_MS / 1000
    while True:
        message: dict[str, object] = json.loads(socket.recv(timeout=deadline - time.monotonic()))
        if message["type"] == type_:
            return message


def green_key(socket: ClientConnection, need: str) -> None:
    socket.send(json.dumps({"v": 1, "id": f"green-{time.monotonic_ns()}", "type": "service",
                            "ts": dt.datetime.now(dt.UTC).isoformat(), "need": need}))  # fmt: skip
    assert heard(socket, "ack")["status"] == "received"


def test_a_green_key_press_is_a_work_order_accepted_arranged_and_done(
    browser: Browser, street: Street, settings: Settings
) -> None:
    supervisor = signed_in_page(browser, street, "sup1")
    supervisor.goto(street.base + "/console/work-orders")
    supervisor.fill("#provider-name", "禾花长者食堂")
    supervisor.select_option("#provider-centre", "PH03")
    supervisor.select_option("#provider-needs", ["meal"])
    supervisor.fill("#provider-phone", "075528000001")
    supervisor.click("#provider-submit")
    provider = supervisor.locator("#providers tbody tr").first
    expect(provider).to_contain_text("禾花长者食堂")
    expect(provider).to_contain_text("禾花社区")
    expect(provider).to_contain_text("送餐")

    operator = signed_in_page(browser, street, "op1")
    operator.goto(street.base + "/console/work-orders")
    expect(operator.locator("#wo-feed-state")).to_have_attribute("data-state", "live")
    expect(operator.locator("#orders-empty")).to_be_visible()
    with terminal(street, street.hehua_terminal) as socket:
        green_key(socket, "meal")
        notice = heard(socket, "notice")
        assert notice["text"] == RECEIVED and str(notice["ref"]).startswith("W")
        order_id = str(notice["ref"])[1:]

        # On the operator's list at once, in words, for the elder's own centre.
        row = operator.locator(f"#orders tbody tr[data-order-id='{order_id}']")
        expect(row.locator("td.need")).to_have_text("送餐")
        expect(row.locator("td.centre")).to_have_text("禾花社区")
        expect(row.locator("td.status")).to_have_text("待受理")
        expect(row.locator("td.elder")).to_have_text("王秀英")

        # The 禾花 worker sees their centre's orders, takes this one and arranges it.
        worker = signed_in_page(browser, street, "ph03-w1")
        worker.goto(street.base + "/console/work-orders")
        worker.locator(f"#orders tbody tr[data-order-id='{order_id}'] a.open").click()
        expect(worker.locator("#order-head")).to_contain_text("送餐")
        expect(worker.locator("#order-facts")).to_contain_text("长者按服务键")
        worker.click("#accept")
        expect(worker.locator("#order-status")).to_have_attribute("data-status", "accepted")
        expect(row.locator("td.status")).to_have_text("已受理")  # live on the operator's list
        tomorrow = dt.datetime.now(settings.tz).date() + dt.timedelta(days=1)
        worker.select_option("#schedule-provider", label="禾花长者食堂（服务商）")
        worker.fill("#schedule-at", f"{tomorrow.isoformat()}T11:30")
        worker.fill("#schedule-note", "食堂送午饭")
        worker.click("#schedule-submit")
        expect(worker.locator("#order-status")).to_have_attribute("data-status", "scheduled")
        expect(worker.locator("#order-provider")).to_have_text("禾花长者食堂（服务商）")
        expect(worker.locator("#order-appointment")).to_contain_text("11:30:00")
        said = heard(socket, "notice")
        assert said["text"] == f"您的服务已安排在{tomorrow.month}月{tomorrow.day}日 11:30"
        expect(row.locator("td.provider")).to_have_text("禾花长者食堂（服务商）")
        screenshot(worker, "console-work-order-scheduled.png")
        # The worker starts to move it to the centre itself; news of the order meanwhile (the
        # operator's note) redraws the page and leaves the choice as the worker made it.
        worker.select_option("#schedule-provider", "centre:")
        history_before = worker.locator("#history li").count()
        operator.evaluate(
            f"api('/api/work-orders/{order_id}/notes', {{method: 'POST', body: {{text: '已致电'}}}})"
        )
        expect(worker.locator("#history li")).to_have_count(history_before + 1)
        expect(worker.locator("#schedule-provider")).to_have_value("centre:")

    # The operator closes it as done, with a note.
    operator.goto(f"{street.base}/console/work-orders/{order_id}")
    operator.select_option("#close-status", "done")
    operator.fill("#close-note", "午饭已送到，老人满意")
    operator.click("#close-submit")
    expect(operator.locator("#order-status")).to_have_attribute("data-status", "done")
    history = operator.locator("#history li")
    expect(history).to_have_count(5)
    for index, (action, words) in enumerate((
        ("opened", "登记"), ("accepted", "受理"), ("scheduled", "禾花长者食堂（服务商）"),
        ("note", "已致电"), ("done", "午饭已送到，老人满意"),
    )):  # fmt: skip
        expect(history.nth(index)).to_have_attribute("data-action", action)
        expect(history.nth(index)).to_contain_text(words)
    expect(operator.locator("#accept")).to_be_hidden()
    expect(operator.locator("#close-form")).to_be_hidden()
    screenshot(operator, "console-work-order-done.png")

    # Never an alarm: no incident, nothing escalated to the supervisor, no P1 banner.
    assert operator.request.get(street.base + "/api/incidents?open=false").json() == []
    supervisor.goto(street.base + "/console")
    expect(supervisor.locator("#queue-empty")).to_be_visible()
    expect(supervisor.locator("#p1-banner")).to_be_hidden()
    for page in (operator, worker, supervisor):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def _make_overdue(settings: Settings, order_id: str) -> None:
    """Its acceptance deadline, moved an hour back (as if nobody had taken it for an hour)."""
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        db.execute("UPDATE work_orders SET due_at = ? WHERE id = ?", (past, int(order_id)))


def test_an_order_past_its_deadline_shows_overdue_and_is_reported_not_raised(
    browser: Browser, street: Street, settings: Settings
) -> None:
    worker = signed_in_page(browser, street, "ph03-w1")
    worker.goto(street.base + "/console/work-orders")
    expect(worker.locator("#wo-feed-state")).to_have_attribute("data-state", "live")
    with terminal(street, street.hehua_terminal) as socket:
        green_key(socket, "repair")
        order_id = str(heard(socket, "notice")["ref"])[1:]
    row = worker.locator(f"#orders tbody tr[data-order-id='{order_id}']")
    expect(row.locator("td.need")).to_have_text("维修")
    expect(worker.locator("#overdue-count")).to_be_hidden()
    _make_overdue(settings, order_id)
    expect(row.locator("td.status .overdue")).to_have_text("逾期")
    expect(worker.locator("#overdue-count")).to_have_text("逾期工单 1")
    worker.check("#filter-overdue")
    expect(worker.locator("#orders tbody tr")).to_have_count(1)
    row.locator("a.open").click()
    overdue = worker.locator("#history li[data-action=overdue]")
    expect(overdue).to_contain_text("未按时 受理")
    expect(overdue).to_contain_text("已通报 禾花社区、值班主管")
    expect(worker.locator("#order-head .overdue")).to_have_text("逾期")
    screenshot(worker, "console-work-order-overdue.png")
    # Accepted late: no longer overdue, still counted late.
    worker.click("#accept")
    expect(worker.locator("#order-status")).to_have_attribute("data-status", "accepted")
    expect(worker.locator("#order-head .late")).to_have_text("曾超时")
    assert worker.request.get(street.base + "/api/incidents?open=false").json() == []
    expect(worker.locator("#p1-banner")).to_be_hidden()
    assert worker.errors == []  # type: ignore[attr-defined]
    worker.context.close()


def test_accept_works_while_the_providers_list_is_still_on_its_way(
    browser: Browser, street: Street
) -> None:
    with terminal(street, street.hehua_terminal) as socket:
        green_key(socket, "housework")
        order_id = str(heard(socket, "notice")["ref"])[1:]
    worker = signed_in_page(browser, street, "ph03-w1")
    held: list[Route] = []
    worker.route("**/api/service-providers?centre=*", lambda route: held.append(route))  # later
    worker.goto(f"{street.base}/console/work-orders/{order_id}")
    expect(worker.locator("#accept")).to_be_visible()
    assert len(held) == 1  # the order is shown; its providers are not in yet
    worker.click("#accept")
    expect(worker.locator("#order-status")).to_have_attribute("data-status", "accepted")
    held[0].continue_()
    expect(worker.locator("#schedule-provider option").first).to_have_text("本社区中心")
    assert worker.errors == []  # type: ignore[attr-defined]
    worker.context.close()


def test_a_provider_added_while_the_first_list_loads_stays_on_the_list(
    browser: Browser, street: Street
) -> None:
    supervisor = signed_in_page(browser, street, "sup1")
    first: list[tuple[Route, APIResponse]] = []

    def hold_the_first(route: Route) -> None:
        if first:
            route.continue_()
        else:  # the page's own first load: the server answers now, the page hears it last
            first.append((route, route.fetch()))

    listed = "**/api/service-providers?inactive=true"
    supervisor.route(listed, hold_the_first)
    with supervisor.expect_request(listed):
        supervisor.goto(street.base + "/console/work-orders")
    supervisor.fill("#provider-name", "禾花长者食堂")
    supervisor.select_option("#provider-needs", ["meal"])
    supervisor.click("#provider-submit")
    provider = supervisor.locator("#providers tbody tr")
    expect(provider).to_contain_text("禾花长者食堂")
    assert len(first) == 1
    # The first list answers now, without the new provider: it must not put the old list back.
    held, answer = first[0]
    with supervisor.expect_response(listed):
        held.fulfill(response=answer)
    supervisor.evaluate("() => new Promise((done) => setTimeout(() => setTimeout(done)))")
    expect(provider).to_contain_text("禾花长者食堂")
    assert supervisor.errors == []  # type: ignore[attr-defined]
    supervisor.context.close()
