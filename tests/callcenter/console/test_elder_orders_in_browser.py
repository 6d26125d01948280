"""An elder's page lists their work orders (each linked to its page), their devices'
maintenance orders and their care calls in words; a community worker of their centre sees the
orders and calls but not the installer's orders. (Chromium.)"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from playwright.sync_api import Browser, expect

from kernel.settings import Settings
from tests.callcenter.console.conftest import Street, screenshot, signed_in_page

STAMP = "%Y-%m-%d %H:%M:%S.%f"


def _history(settings: Settings, terminal: str) -> tuple[int, int, int]:
    """A meal done for 王秀英 of 禾花, a battery order on her terminal closed with a new
    battery, and a care call answered (fine); their ids."""
    now = dt.datetime.now(dt.UTC)
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        (elder,) = db.execute("SELECT id FROM elders WHERE name = '王秀英'").fetchone()
        meal = db.execute(
            "INSERT INTO work_orders (category, status, elder_id, need, request, centre_code,"
            " created_at, created_by, closed_at, late) VALUES ('service', 'done', ?, 'meal',"
            " '送午饭', 'PH03', ?, 'system', ?, 0)",
            (elder, (now - dt.timedelta(days=2)).strftime(STAMP), now.strftime(STAMP)),
        ).lastrowid
        battery = db.execute(
            "INSERT INTO work_orders (category, status, elder_id, device_id, need, request,"
            " centre_code, created_at, created_by, closed_at, late) VALUES ('maintenance',"
            " 'done', ?, ?, 'battery_low', '', 'PH03', ?, 'maintenance', ?, 0)",
            (elder, terminal, (now - dt.timedelta(days=3)).strftime(STAMP), now.strftime(STAMP)),
        ).lastrowid
        db.execute(
            "INSERT INTO work_order_steps (work_order_id, at, actor, action, detail)"
            " VALUES (?, ?, 'staff:1', 'done', ?)",
            (battery, now.strftime(STAMP), json.dumps({"result": "battery_replaced"})),
        )
        call = db.execute(
            "INSERT INTO care_calls (elder_id, community_code, due_on, reasons, status, created_at,"
            " closed_at, outcome) VALUES (?, 'PH03', ?, '[\"weather\"]', 'done', ?, ?, 'fine')",
            (elder, (now - dt.timedelta(days=9)).date().isoformat(), now.strftime(STAMP),
             now.strftime(STAMP)),
        ).lastrowid  # fmt: skip
    assert meal is not None and battery is not None and call is not None
    return elder, meal, call


def test_the_elders_page_lists_their_orders_devices_and_calls_in_words(
    browser: Browser, street: Street, settings: Settings
) -> None:
    elder, meal, call = _history(settings, street.hehua_terminal)
    operator = signed_in_page(browser, street, "op1")
    operator.goto(f"{street.base}/console/elders/{elder}")

    order = operator.locator(f"#work-orders li[data-work-order-id='{meal}']")
    expect(order).to_contain_text("送餐")
    expect(order).to_contain_text("已完成")
    expect(order).to_contain_text("送午饭")
    device = operator.locator("#maintenance-orders li[data-maintenance-order-id]")
    expect(device).to_have_count(1)
    for words in ("电量低", "一键呼救终端", street.hehua_terminal, "已更换电池"):
        expect(device).to_contain_text(words)
    answered = operator.locator(f"#care-calls li[data-care-call-id='{call}']")
    for words in ("极端天气", "已接通", "一切安好"):
        expect(answered).to_contain_text(words)
    screenshot(operator, "console-elder-orders-and-calls.png")
    # The order's line opens its own page.
    order.locator("a").click()
    operator.wait_for_url(f"**/console/work-orders/{meal}")
    assert operator.errors == []  # type: ignore[attr-defined]
    operator.context.close()

    worker = signed_in_page(browser, street, "ph03-w1")
    worker.goto(f"{street.base}/console/elders/{elder}")
    expect(worker.locator(f"#work-orders li[data-work-order-id='{meal}']")).to_be_visible()
    expect(worker.locator(f"#care-calls li[data-care-call-id='{call}']")).to_be_visible()
    # The installer's orders are the street's: not on a community worker's page.
    expect(worker.locator("#maintenance-part")).to_be_hidden()
    expect(worker.locator("#maintenance-orders li")).to_have_count(0)
    assert worker.errors == []  # type: ignore[attr-defined]
    worker.context.close()
