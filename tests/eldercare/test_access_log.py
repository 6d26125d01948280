"""Uvicorn's access log, with the app served for real: method, path and status, never what was
searched for (names, phones, ID numbers in query strings) nor a body."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from eldercare.app import create_app
from kernel.settings import Settings
from tests.conftest import free_port
from tests.databases import migrate_fresh

NAME, PHONE, NATIONAL_ID = "王秀英", "13800138000", "440307195001010011"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[str, Lines]]:
    migrate_fresh(settings.effective_database_url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, mqtt=False), host="127.0.0.1", port=port,
                       log_level="info", lifespan="on")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    lines = Lines()
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addHandler(lines)
    try:
        yield f"127.0.0.1:{port}", lines
    finally:
        for name in ("uvicorn.access", "uvicorn.error"):
            logging.getLogger(name).removeHandler(lines)
        server.should_exit = True
        thread.join(timeout=30)


def test_the_access_log_has_method_path_and_status_but_no_query_values(
    served: tuple[str, Lines],
) -> None:
    address, lines = served
    httpx.get(f"http://{address}/api/elders", params={"q": NAME, "phone": PHONE})
    httpx.get(f"http://{address}/api/elders?national_id={NATIONAL_ID}&q")
    httpx.post(
        f"http://{address}/api/auth/sign-in?next=/console",
        json={"username": NAME, "password": PHONE},
    )
    with pytest.raises(InvalidStatus), connect(f"ws://{address}/ws/feed?centre={PHONE}"):
        pass
    time.sleep(0.2)
    logged = "\n".join(lines.lines)
    assert '"GET /api/elders?q=&phone= HTTP/1.1" 401' in logged
    assert '"GET /api/elders?national_id=&q= HTTP/1.1" 401' in logged
    assert '"POST /api/auth/sign-in?next= HTTP/1.1" 401' in logged
    assert "/ws/feed?centre=" in logged
    for secret in (NAME, PHONE, NATIONAL_ID, "%E7%8E%8B", "console"):
        assert secret not in logged
