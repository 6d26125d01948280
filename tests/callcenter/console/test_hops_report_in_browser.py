"""The reports page's hops table: a month chosen, every hop of its alarms per centre in words, and
whether the targets were met."""

from __future__ import annotations

import asyncio
import datetime as dt

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
