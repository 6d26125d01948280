"""A DC-09 receiver on a gateway of the street's database, listening on real TCP and UDP ports."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from gateway.dc09.accounts import register_account
from gateway.dc09.runtime import AlarmReceiverRuntime
from gateway.runtime import GatewayRuntime
from kernel.models import AlarmReceiverAccount, Device, RejectedMessage, utcnow
from kernel.settings import Settings
from simulators.dc09 import Dialer, Transport
from tests.brokers import free_port
from tests.gateway.conftest import Sessions, Street

KEY = "000102030405060708090A0B0C0D0E0F"
WRONG_KEY = "F0E0D0C0B0A090807060504030201000"
ACCOUNT = "1234"


class Clock:
    """The receiver's clock: the real one, moved on by the test when it says so."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return utcnow() + self.offset


@dataclasses.dataclass
class Receiving:
    """A gateway with its DC-09 receiver, and where a dialer reaches it."""

    street: Street
    gateway: GatewayRuntime
    runtime: AlarmReceiverRuntime
    clock: Clock
    dialers: list[Dialer] = dataclasses.field(default_factory=list)

    @property
    def port(self) -> int:
        return self.runtime.ports.port

    def dialer(
        self, key: str | None = KEY, transport: Transport = "tcp", account: str = ACCOUNT
    ) -> Dialer:
        """A panel's dialer of this account, to this receiver (closed at the end of the test)."""
        dialer = Dialer(
            "127.0.0.1", self.port, account, bytes.fromhex(key) if key else None,
            transport=transport,
        )  # fmt: skip
        self.dialers.append(dialer)
        return dialer


@pytest.fixture
async def receiving(street: Street, gateway_settings: Settings) -> AsyncIterator[Receiving]:
    """The street's terminal bound to account 1234 (AES-128), a gateway and its receiver."""
    await add_account(street.sessions, street.terminal, ACCOUNT, key=KEY)
    gateway = GatewayRuntime(street.sessions, gateway_settings)
    await gateway.start()
    clock = Clock()
    runtime = AlarmReceiverRuntime(
        street.sessions, gateway.ingest, gateway.writer, gateway.supervisor,
        host="127.0.0.1", port=free_port(), clock=clock,
    )  # fmt: skip
    await runtime.start()
    receiving = Receiving(street, gateway, runtime, clock)
    yield receiving
    for dialer in receiving.dialers:
        await dialer.close()
    await runtime.stop()
    await gateway.stop()


async def add_account(
    sessions: Sessions, device: str, account: str, *, key: str | None = None, **options: Any
) -> None:
    """Register a DC-09 account as the installer's command does (plain when no key is given)."""
    defaults: dict[str, Any] = {
        "falls_as_general_alarm": False, "supervision_s": None, "test_every_s": None,
    }  # fmt: skip
    async with sessions() as session, session.begin():
        await register_account(
            session, account, device, key=key, plain=key is None, actor="test",
            **{**defaults, **options},
        )  # fmt: skip


async def eventually(check: Callable[[], Awaitable[Any]], deadline_s: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy; fail at the deadline."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline_s
    while loop.time() < give_up:
        if found := await check():
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {deadline_s} s")


async def rejects(sessions: Sessions) -> list[RejectedMessage]:
    """The rejects kept, oldest first."""
    async with sessions() as session:
        return list(await session.scalars(select(RejectedMessage).order_by(RejectedMessage.id)))


async def account_row(sessions: Sessions, account: str = ACCOUNT) -> AlarmReceiverAccount:
    async with sessions() as session:
        row = await session.get(AlarmReceiverAccount, account)
    assert row is not None
    return row


async def device_row(sessions: Sessions, device_id: str) -> Device:
    async with sessions() as session:
        row = await session.get(Device, device_id)
    assert row is not None
    return row
