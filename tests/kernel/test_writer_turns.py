"""SQLite's writer taken in turn: first come first served, except that alarms go first."""

from __future__ import annotations

import asyncio

from kernel.database import WriterTurns


async def test_an_urgent_writer_gets_the_next_turn_before_routine_writers_waiting() -> None:
    turns = WriterTurns()
    order: list[str] = []

    async def write(name: str, urgent: bool) -> None:
        await turns.acquire(urgent)
        order.append(name)
        await asyncio.sleep(0)
        turns.release()

    await turns.acquire(urgent=False)  # a batch in flight
    waiting = [
        asyncio.create_task(write("readings 1", False)),
        asyncio.create_task(write("readings 2", False)),
    ]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(write("sos", True)))
    await asyncio.sleep(0)
    turns.release()
    await asyncio.gather(*waiting)
    assert order == ["sos", "readings 1", "readings 2"]


async def test_a_writer_cancelled_while_waiting_does_not_keep_the_turn() -> None:
    turns = WriterTurns()
    await turns.acquire(urgent=False)
    given_up = asyncio.create_task(turns.acquire(urgent=True))
    await asyncio.sleep(0)
    given_up.cancel()
    await asyncio.gather(given_up, return_exceptions=True)
    turns.release()
    await asyncio.wait_for(turns.acquire(urgent=False), 1)  # free again, not held by the ghost
