"""The installer's maintenance page in Chromium: a terminal's battery running low becomes a
maintenance order on the page, live, in words; it is closed by hand with what was done; every
device's self-test shows below it, counted per community, the one needing action listed and the
devices never heard from since installation on a tab apart; the 禾花 worker sees none of it, on
their work orders or anywhere; no code shows in either language."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from kernel.settings import Settings
from tests.callcenter.console.conftest import Street, screenshot, signed_in_page
from tests.callcenter.console.test_words_not_codes import _raw_codes, _visible_words
from tests.conftest import free_port


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The device checks run every half second."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", mqtt_port=free_port(),
        technical_check_every_s=0.5,
    )  # fmt: skip


def _battery_at(settings: Settings, device: str, battery: int) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        db.execute(
            "UPDATE devices SET online = 1, last_seen_at = ?, battery = ? WHERE id = ?",
            (now, battery, device),
        )


def _maintenance_page(browser: Browser, street: Street) -> Page:
    """The operator's maintenance page, its live feed connected."""
    operator = signed_in_page(browser, street, "op1")
    operator.goto(street.base + "/console/maintenance")
    expect(operator.locator("#wo-feed-state")).to_have_attribute("data-state", "live")
    return operator


def test_a_low_battery_is_the_installers_order_closed_with_what_was_done(
    browser: Browser, street: Street, settings: Settings
) -> None:
    operator = _maintenance_page(browser, street)
    expect(operator.locator("#orders-empty")).to_be_visible()
    # No device has been heard from yet: the summary counts the four as never heard, in each
    # community, and none needs action; they are not on the list needing action but apart.
    total = operator.locator("#tests-summary tfoot tr td")
    expect(total).to_have_text(["4", "0", "0", "0", "4", "0", "0", "0"])
    expect(operator.locator("#tests-summary tbody tr th")).to_have_text(["平湖社区", "禾花社区"])
    expect(operator.locator("#tests-empty")).to_be_visible()
    expect(operator.locator("#tests-showing")).to_have_text("显示第 0–0 条，共 0 条")
    operator.click("#tests-tabs button[data-show=never_heard]")
    never = operator.locator(f"#self-tests tr[data-device-id='{street.pinghu_terminal}']")
    expect(never.locator(".test-state")).to_have_text("从未上线")
    expect(never.locator(".reports-over")).to_have_text("终端心跳")
    expect(operator.locator("#tests-never-note")).to_contain_text("安装尚未完成")
    expect(operator.locator("#tests-showing")).to_have_text("显示第 1–4 条，共 4 条")

    _battery_at(settings, street.hehua_terminal, 9)
    row = operator.locator("#orders tbody tr[data-reason='battery_low']")
    expect(row.locator("td.reason")).to_have_text("电量低")  # live, from the device checks
    expect(row.locator("td.device")).to_have_text(street.hehua_terminal)
    expect(row.locator("td.centre")).to_have_text("禾花社区")
    expect(row.locator("td.status")).to_have_text("待受理")
    row.locator("button.open").click()
    expect(operator.locator("#history li[data-action=opened]")).to_contain_text("电量 9%")

    # Done needs what was done; then it is closed, in words.
    operator.click("#close-submit")
    expect(operator.locator("#order-error")).to_have_text("请选择处理结果，或填写说明")
    operator.select_option("#close-result", "battery_replaced")
    operator.fill("#close-note", "换了两节新电池")
    operator.click("#close-submit")
    expect(operator.locator("#order-status")).to_have_attribute("data-status", "done")
    expect(operator.locator("#history li[data-action=done]")).to_contain_text("已更换电池")
    expect(operator.locator("#close-form")).to_be_hidden()
    expect(operator.locator("#orders-empty")).to_be_visible()
    # Heard now, its battery low: it needs action, the one line of that tab, out of the
    # never heard; the summary's 禾花 row says so.
    operator.click("#tests-tabs button[data-show=action]")
    low = operator.locator(f"#self-tests tr[data-device-id='{street.hehua_terminal}']")
    expect(low.locator(".test-state")).to_have_text("正常 电量低")
    expect(operator.locator("#self-tests tbody tr")).to_have_count(1)
    expect(operator.locator("#tests-showing")).to_have_text("显示第 1–1 条，共 1 条")
    hehua = operator.locator("#tests-summary tbody tr[data-community=PH03] td")
    expect(hehua).to_have_text(["2", "1", "0", "0", "1", "1", "0", "1"])
    screenshot(operator, "console-maintenance-closed.png")

    # Not the care workers': not on their work orders, and the page is not theirs.
    worker = signed_in_page(browser, street, "ph03-w1")
    worker.goto(street.base + "/console/work-orders")
    expect(worker.locator("#wo-feed-state")).to_have_attribute("data-state", "live")
    expect(worker.locator("#orders-empty")).to_be_visible()
    worker.goto(street.base + "/console/maintenance")
    expect(worker).to_have_url(street.base + "/worker")
    assert worker.locator("nav a[href='/console/maintenance']").count() == 0

    # Words, not codes, in both languages (the closed order shown with its history).
    found = {}
    for language in ("zh", "en"):
        operator.context.add_cookies([{"name": "lang", "value": language, "url": street.base}])
        operator.goto(street.base + "/console/maintenance")
        operator.select_option("#filter-status", "all")
        operator.locator("#orders tbody tr button.open").first.click()
        expect(operator.locator("#history li[data-action=done]")).to_be_visible()
        expect(low.locator(".test-state .flag")).to_be_visible()
        found[language] = _raw_codes(_visible_words(operator), language)
        operator.click("#tests-tabs button[data-show=never_heard]")
        expect(never.locator(".test-state")).to_be_visible()
        expect(operator.locator("#tests-never-note")).to_be_visible()
        found[language] += _raw_codes(_visible_words(operator), language)
        if language == "en":
            expect(never.locator(".test-state")).to_have_text("Never heard from")
            expect(operator.locator("#tests-showing")).to_have_text("Showing 1–3 of 3")
    assert found == {"zh": [], "en": []}
    for page in (operator, worker):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()


def test_what_was_typed_to_close_one_order_stays_with_that_order(
    browser: Browser, street: Street, settings: Settings
) -> None:
    operator = _maintenance_page(browser, street)
    _battery_at(settings, street.hehua_terminal, 9)
    _battery_at(settings, street.pinghu_terminal, 8)
    rows = operator.locator("#orders tbody tr[data-reason='battery_low']")
    expect(rows).to_have_count(2)

    def open_order(device: str) -> None:
        rows.filter(has=operator.locator("td.device", has_text=device)).locator(
            "button.open"
        ).click()
        expect(operator.locator("#order-head")).to_contain_text(device)

    open_order(street.hehua_terminal)
    operator.select_option("#close-result", "battery_replaced")
    operator.fill("#close-note", "换了两节新电池")
    # Another order opened meanwhile: its form is empty, what was typed is not sent with it...
    open_order(street.pinghu_terminal)
    expect(operator.locator("#close-note")).to_have_value("")
    expect(operator.locator("#close-result")).to_have_value("")
    # ...and it is there again on the first order's.
    open_order(street.hehua_terminal)
    expect(operator.locator("#close-note")).to_have_value("换了两节新电池")
    expect(operator.locator("#close-result")).to_have_value("battery_replaced")
    assert operator.errors == []  # type: ignore[attr-defined]
