"""kernel.migrate.start_up_lock: one holder at a time per database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from kernel.migrate import start_up_lock


async def test_a_second_holder_is_told_to_wait_and_gets_in_only_after_the_first_left(
    database_url: str,
) -> None:
    events: list[str] = []
    first_in, second_waits = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with start_up_lock(database_url):
            events.append("first in")
            first_in.set()
            await asyncio.wait_for(second_waits.wait(), timeout=10)
            await asyncio.sleep(0.2)  # the second would be in by now if nothing held it out
            events.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with start_up_lock(database_url, waiting=second_waits.set):
            events.append("second in")

    await asyncio.gather(first(), second())
    assert events == ["first in", "first out", "second in"]
