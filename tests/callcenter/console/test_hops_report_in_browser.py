"""The reports page's hops table: a month chosen, every hop of its alarms per centre in words, and
whether the targets were met."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from playwright.sync_api import Browser, expect

from kernel.database import create_engine, session_factory
from kernel.settings import Settings
from tests.callcenter.console.conftest import (
    Street,
    _off_the_browser_loop,
    screenshot,
    signed_in_page,
)
from tests.callcenter.reports.test_hops import Path, create_alarm

OCTOBER = dt.datetime(2026, 10, 14, 2, 0, tzinfo=dt.UTC)  # 10:00 in Pinghu


async def _october_alarms(settings: Settings) -> None:
    """Three alarms of 禾花 in October: acknowledged after 20, 40 and 70 s, reached after 10, 11:40
    and 16:40 minutes."""
    engine = create_engine(settings.effective_database_url)
    async with session_factory(engine)() as session, session.begin():
        for ack, on_site in ((20.0, 600.0), (40.0, 700.0), (70.0, 1000.0)):
            await create_alarm(
                session, "PH03", Path(ack=ack, en_route=ack + 30, on_site=on_site),
                opened_at=OCTOBER,
            )  # fmt: skip
    await engine.dispose()


def test_the_supervisor_reads_each_hop_of_a_month_against_the_targets(
    browser: Browser, street: Street, settings: Settings
) -> None:
    _off_the_browser_loop(lambda: asyncio.run(_october_alarms(settings)))
    supervisor = signed_in_page(browser, street, "sup1")
    supervisor.goto(street.base + "/console/reports")
    this_month = dt.datetime.now(settings.tz).strftime("%Y-%m")
    expect(supervisor.locator("#hops-month")).to_have_value(this_month)
    expect(supervisor.locator("#hops-table tbody tr[data-key=all] td").nth(1)).to_have_text("0")

    supervisor.fill("#hops-month", "2026-10")
    hehua = supervisor.locator("#hops-table tbody tr[data-key=PH03]")
    expect(hehua.locator("td").first).to_have_text("禾花社区")
    expect(hehua.locator("td[data-hop=console_to_acknowledged]")).to_have_text("40 秒 / 70 秒")
    expect(hehua.locator("td[data-hop=console_to_on_site]")).to_have_text("11.7 分钟 / 16.7 分钟")
    verdicts = hehua.locator("td[data-met]")
    expect(verdicts).to_have_text(["66.7% · 未达标", "100.0% · 达标", "66.7% · 未达标"])
    expect(supervisor.locator("#hops-table thead th").nth(-2)).to_have_text("15 分钟内到场")
    expect(supervisor.locator("#hops-targets")).to_contain_text("97.5% 在 60 秒内接单")
    street_row = supervisor.locator("#hops-table tbody tr[data-key=all]")
    expect(street_row.locator("td").first).to_have_text("全街道")
    expect(street_row.locator("td").nth(1)).to_have_text("3")
    # The page's other parts still load beside it.
    expect(supervisor.locator("#offline tbody tr")).to_have_count(2)
    screenshot(supervisor, "console-reports-hops.png")
    assert supervisor.errors == []  # type: ignore[attr-defined]


def test_a_press_through_the_gateway_is_timed_at_every_hop(
    browser: Browser, street: Street
) -> None:
    operator = signed_in_page(browser, street, "op1")
    operator.goto(street.base + "/console")
    street.press(street.hehua_terminal, button="main")
    expect(operator.locator("#queue tbody tr")).to_have_count(1)
    (incident,) = operator.request.get(street.base + "/api/incidents").json()
    url = f"{street.base}/api/incidents/{incident['id']}"
    steps = [("acknowledge", {}), ("status", {"status": "en_route"})]
    steps += [("status", {"status": "on_site"})]
    steps += [("status", {"status": "resolved", "outcome": "assistance_given"})]
    for action, body in steps:
        answer = operator.request.post(f"{url}/{action}", data=body)
        assert answer.ok, answer.text()

    supervisor = signed_in_page(browser, street, "sup1")
    supervisor.goto(street.base + "/console/reports")
    hehua = supervisor.locator("#hops-table tbody tr[data-key=PH03]")
    expect(hehua.locator("td").nth(1)).to_have_text("1")
    # Every hop timed from what the gateway, the engine and the operator recorded: the press by
    # the terminal's own clock (the test's, so trusted), none left out.
    for hop in (
        "press_to_gateway", "gateway_to_console", "console_to_acknowledged",
        "acknowledged_to_en_route", "en_route_to_on_site", "on_site_to_resolved",
    ):  # fmt: skip
        expect(hehua.locator(f"td[data-hop={hop}]")).to_have_text(re.compile(r"^[\d.]+ 秒 / "))
    expect(hehua.locator("td[data-met]").first).to_have_text("100.0% · 达标")
    expect(hehua.locator("td").last).to_have_text("0")  # no clock off
    assert supervisor.errors == []  # type: ignore[attr-defined]
