"""A stop signal for background loops: each finishes the round it is in, then returns.

Cancelling a loop in the middle of a database call aborts the connection under it (and logs
a traceback at every Ctrl-C); asking it to stop lets it end between rounds, cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib


class Stopping:
    """Set once, at shutdown; loops check it between rounds and wait on it instead of sleeping."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        """Ask every loop watching this to stop after its current round."""
        self._event.set()

    def is_set(self) -> bool:
        """Whether a stop was asked."""
        return self._event.is_set()

    async def pause(self, seconds: float) -> bool:
        """Wait up to `seconds` between rounds; True as soon as a stop is asked."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        return self._event.is_set()
