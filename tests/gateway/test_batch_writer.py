"""The batch writer: a backlog goes out in short transactions, so an alarm waits for one only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from gateway.ingest import repository
from gateway.ingest.schemas import Inbound
from gateway.ingest.tasks import CHUNK, BatchWriter
from gateway.runtime import GatewayRuntime
from kernel.database import Transactions, write_transactions, write_turn
from kernel.models import utcnow
from tests.gateway.conftest import Sessions, Street, events_of, message

Start = Callable[..., Any]


async def queue_readings(gateway: GatewayRuntime, device: str, count: int) -> None:
    for n in range(count):
        payload = message("vitals", f"v{n}", hr=70, spo2=97)
        topic = f"eldercare/v1/up/{device}"
        await gateway.ingest.handle(Inbound("mqtt", device, topic, payload, utcnow()))


def writer_with_turns(
    sessions: Sessions, writes: Transactions, log: list[str]
) -> tuple[BatchWriter, asyncio.Event]:
    """A batch writer whose every transaction notes its turn; the first holds it for 50 ms."""
    first_held = asyncio.Event()

    @contextlib.asynccontextmanager
    async def noted_turn() -> AsyncIterator[None]:
        async with write_turn(sessions):
            log.append("chunk")
            if not first_held.is_set():
                first_held.set()
                await asyncio.sleep(0.05)  # long enough for the alarm below to queue for the turn
            yield

    class NotedTurns:
        def __aenter__(self) -> Any:
            self._turn = noted_turn()
            return self._turn.__aenter__()

        def __aexit__(self, *exc: Any) -> Any:
            return self._turn.__aexit__(*exc)

    return BatchWriter(writes, NotedTurns()), first_held


async def test_a_backlog_is_written_a_chunk_a_transaction_and_an_alarm_waits_for_one_chunk(
    street: Street, start_gateway: Start
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    log: list[str] = []
    writes = write_transactions(street.sessions)
    writer, first_held = writer_with_turns(street.sessions, writes, log)
    gateway.ingest._writer = writer  # this test's writer takes the readings
    await queue_readings(gateway, street.monitor, 2 * CHUNK + 5)

    async def alarm() -> None:
        await first_held.wait()
        async with write_turn(street.sessions, urgent=True):
            log.append("alarm")

    await asyncio.gather(writer.flush(), alarm())
    await writes.close()
    assert log == ["chunk", "alarm", "chunk", "chunk"]
    assert len(await events_of(street.sessions, street.monitor)) == 2 * CHUNK + 5
    assert writer.pending == 0


async def test_a_chunk_that_fails_leaves_itself_and_the_rest_queued_and_nothing_twice(
    street: Street, start_gateway: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    # A writer of the test's own, flushed only by it: the gateway's would also flush on its 50 ms
    # timer, and could write the failed chunks again before the test looks at them.
    writes = write_transactions(street.sessions)
    writer = BatchWriter(writes, write_turn(street.sessions))
    gateway.ingest._writer = writer
    await queue_readings(gateway, street.monitor, 2 * CHUNK + 5)
    record_events = repository.record_events
    calls = 0

    def second_fails(session: Any, rows: list[dict[str, Any]]) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return record_events(session, rows)

    monkeypatch.setattr(repository, "record_events", second_fails)
    with pytest.raises(OperationalError):
        await writer.flush()
    assert len(await events_of(street.sessions, street.monitor)) == CHUNK
    assert writer.pending >= CHUNK + 5  # the events of the two chunks left

    await writer.flush()
    await writes.close()
    events = await events_of(street.sessions, street.monitor)
    assert sorted(e.message_id for e in events) == sorted(f"v{n}" for n in range(2 * CHUNK + 5))
