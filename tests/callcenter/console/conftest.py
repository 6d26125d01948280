"""The console in a real browser: the app served by uvicorn on a free port, Debian's Chromium.

ELDERCARE_CHROMIUM names the browser (default /usr/bin/chromium); without it the browser tests
skip, or fail where ELDERCARE_REQUIRE_SERVERS=1 (CI). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from playwright.sync_api import Browser, Error, Page, expect, sync_playwright
from sqlalchemy import insert, select
from websockets.sync.client import connect

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import Device, Shift, StaffMember
from kernel.settings import Settings
from tests.conftest import free_port, server_unavailable
from tests.databases import migrate_fresh
from tests.factories import AS_OF, TEST_PASSWORD, create_passwords, create_register_csv, create_row

T = TypeVar("T")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
# Long enough for a slow CI runner, short enough that a broken live feed fails quickly.
LIVE_MS = 10_000
# Playwright's assertions (`expect(...)`) wait 5 s by default, apart from the pages' own default
# timeout: the API docs' Swagger UI, rendering the whole OpenAPI on a busy runner, took longer.
expect.set_options(timeout=LIVE_MS)


@dataclass
class Street:
    """The served app: where it listens and the terminals of its two elders."""

    base: str
    hehua_terminal: str  # 王秀英 of 禾花社区 (PH03)
    pinghu_terminal: str  # 陈建国 of 平湖社区 (PH01)
    secrets: dict[str, str]

    def press(self, terminal: str, type_: str = "sos", **payload: object) -> None:
        """The terminal's key, pressed: hello with its secret, then the message, over /ws/device."""
        url = self.base.replace("http://", "ws://") + "/ws/device"
        with connect(url) as socket:
            socket.send(json.dumps({"v": 1, "type": "hello", "device": terminal,
                                    "secret": self.secrets[terminal]}))  # fmt: skip
            assert json.loads(socket.recv(timeout=5))["type"] == "welcome"
            message = {"v": 1, "id": f"press-{time.monotonic_ns()}", "type": type_,
                       "ts": dt.datetime.now(dt.UTC).isoformat(), **payload}  # fmt: skip
            socket.send(json.dumps(message))
            assert json.loads(socket.recv(timeout=5))["type"] == "ack"


async def _prepare(
    settings: Settings, tmp_path: Path
) -> tuple[list[dict[str, str]], dict[str, str]]:
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    hehua = create_row(**{columns.REMARKS: "养了一条狗，敲门前先打电话"})
    pinghu = create_row(**{
        columns.NAME: "陈建国", columns.SEX: "男", columns.COMMUNITY: "平湖社区",
        columns.ADDRESS: "深圳市龙岗区平湖街道平湖社区守珍街2号",
        columns.LONGITUDE: "114.126800", columns.LATITUDE: "22.687500",
    })  # fmt: skip
    rows = [hehua, pinghu]
    await import_register_file(
        sessions, create_register_csv(tmp_path / "r.csv", rows), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    await create_passwords(sessions)
    now = dt.datetime.now(dt.UTC)
    async with sessions() as session, session.begin():
        # Whatever the hour the tests run, one worker of each of the two centres is on duty.
        for username, centre in (("ph03-w1", "PH03"), ("ph01-w1", "PH01")):
            member = await session.scalar(
                select(StaffMember).where(StaffMember.username == username)
            )
            assert member is not None
            await session.execute(
                insert(Shift).values(staff_id=member.id, centre_code=centre,
                                     starts_at=now - dt.timedelta(hours=1),
                                     ends_at=now + dt.timedelta(hours=2))
            )  # fmt: skip
        found = await session.execute(select(Device.id, Device.secret))
        secrets = {device: secret for device, secret in found.all()}
    await engine.dispose()
    return rows, secrets


def _migrate_and_prepare(
    settings: Settings, tmp_path: Path
) -> tuple[list[dict[str, str]], dict[str, str]]:
    migrate_fresh(settings.effective_database_url)
    return asyncio.run(_prepare(settings, tmp_path))


def _off_the_browser_loop(work: Callable[[], T]) -> T:
    """Run blocking asyncio work in a thread: Playwright's sync API keeps a loop on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


@pytest.fixture
def street(settings: Settings, tmp_path: Path) -> Iterator[Street]:
    """The whole app served on a free port, with two elders, the staff and their passwords."""
    rows, secrets = _off_the_browser_loop(lambda: _migrate_and_prepare(settings, tmp_path))
    port = free_port()
    app = create_app(settings, mqtt=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Street(
            base=f"http://127.0.0.1:{port}",
            hehua_terminal=rows[0][columns.SOS_TERMINAL],
            pinghu_terminal=rows[1][columns.SOS_TERMINAL],
            secrets=secrets,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    executable = os.environ.get("ELDERCARE_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        server_unavailable("Chromium", f"{executable} does not exist (set ELDERCARE_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=executable,
                args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox"],
            )
        except Error as error:
            server_unavailable("Chromium", str(error).splitlines()[0])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def browser_as_shipped(browser: Browser) -> Iterator[Browser]:
    """Chromium with its own autoplay policy (sound only after the person has used the site),
    as operators' machines have it: the `browser` fixture lifts that policy."""
    executable = os.environ.get("ELDERCARE_CHROMIUM", "/usr/bin/chromium")
    chromium = browser.browser_type.launch(executable_path=executable, args=["--no-sandbox"])
    yield chromium
    chromium.close()


def signed_in_page(browser: Browser, street: Street, username: str, *, phone: bool = False) -> Page:
    """A fresh browser profile signed in through the sign-in page."""
    # A browser whose machine is set to UTC: the pages must still show the street's own time.
    options: dict[str, object] = {"locale": "zh-CN", "timezone_id": "UTC"}
    if phone:
        options |= {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.set_default_timeout(LIVE_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(street.base + "/")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def wait_until(page: Page, expression: str, arg: object = None) -> None:
    """Wait until `expression` (a function of `arg`) is true in the page, asking it again and
    again: not `page.wait_for_function`, whose polling evaluates the expression by `eval` in the
    page, which the console's Content-Security-Policy refuses once Chromium's first,
    synchronous allowance has passed (an EvalError that depends on timing)."""
    deadline = time.monotonic() + LIVE_MS / 1000
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"still false after {LIVE_MS} ms: {expression}"
        page.wait_for_timeout(50)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
