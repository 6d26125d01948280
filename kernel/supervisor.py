"""One supervisor for a process's long-running loops: none dies silently, every failure is seen.

A loop that raises is logged at once with its traceback, counted
(`eldercare_loop_failures_total`), and started again after a pause that doubles from
FIRST_PAUSE_S to MAX_PAUSE_S (reset once it has run well for HEALTHY_AFTER_S). While it waits
to start again it is down, and `problems()` says so, which the health check turns into a 503
with the loop's name, as Kubernetes probes and systemd's watchdog expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# A loop that failed is started again after this pause, doubling up to MAX_PAUSE_S: a blip costs
# half a second, an outage is retried every 5 s (a dozen times a minute, not thousands), and the
# alarm pipeline takes up its work at most 5 s after the database is back.
FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 5.0
# A loop that has run this long since its last start counts as recovered: the pause resets.
HEALTHY_AFTER_S = 10.0
# A stop waits this long for the loops to finish their round, then cancels the rest.
STOP_WAIT_S = 10.0

LOOP_FAILURES = Counter(
    "eldercare_loop_failures_total", "Long-running loops that raised and were restarted", ["loop"]
)
LOOP_UP = Gauge(
    "eldercare_loop_up", "1 while a long-running loop runs, 0 while it is down", ["loop"]
)

# The event loop is probed this often: a sleep of this length that wakes late measures the wait
# every task's next step had at that moment (an SOS's next query, an ack, a feed message), the
# process's share of a busy machine as much as its own work. Ten times a second costs nothing.
LAG_PROBE_S = 0.1
# A probe this late means the loop is stalled (a blocking call, a starved process): the health
# check says so. Well above any normal busy spell (tens of ms) so that load alone does not flap it.
LOOP_BEHIND_S = 5.0
LOOP_LAG = Histogram(
    "eldercare_event_loop_lag_seconds",
    "How late the event loop woke a probe due every 0.1 s: the wait of any task's next step",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
)

Work = Callable[[], Coroutine[Any, Any, None]]


@dataclasses.dataclass(slots=True)
class LoopState:
    """What the supervisor knows of one loop."""

    name: str
    failures: int = 0
    down_since: float | None = None  # monotonic time of the failure it is waiting out
    last_error: str | None = None
    task: asyncio.Task[None] | None = None


class Supervisor:
    """Runs loops until `stop` is set, restarting any that fails; tells which are down."""

    def __init__(self, stop: Stopping | None = None) -> None:
        self.stop_signal = stop or Stopping()
        self._loops: dict[str, LoopState] = {}
        self.last_lag_s = 0.0  # of the event loop, as `watch_event_loop` last measured it

    def start(self, name: str, work: Work) -> asyncio.Task[None]:
        """Run `work()` under supervision: again after a pause whenever it raises.

        `work` should return only once the stop signal is set; one that returns earlier is
        treated as a failure (a loop that ends by itself has stopped watching).
        """
        state = LoopState(name)
        self._loops[name] = state
        state.task = asyncio.create_task(self._supervise(state, work), name=name)
        LOOP_UP.labels(name).set(1)
        return state.task

    async def _supervise(self, state: LoopState, work: Work) -> None:
        pause = FIRST_PAUSE_S
        while not self.stop_signal.is_set():
            started = time.monotonic()
            try:
                await work()
                if self.stop_signal.is_set():
                    return
                raise RuntimeError("the loop returned without being asked to stop")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if time.monotonic() - started >= HEALTHY_AFTER_S:
                    pause = FIRST_PAUSE_S
                state.failures += 1
                state.down_since = time.monotonic()
                state.last_error = f"{type(error).__name__}: {error}"[:300]
                LOOP_FAILURES.labels(state.name).inc()
                LOOP_UP.labels(state.name).set(0)
                log.exception("loop %s failed; starting it again in %.1f s", state.name, pause)
            await self.stop_signal.pause(pause)
            pause = min(pause * 2, MAX_PAUSE_S)
            state.down_since = None
            LOOP_UP.labels(state.name).set(1)

    def problems(self) -> dict[str, str]:
        """The loops that are down now, each with what it last failed on."""
        now = time.monotonic()
        found: dict[str, str] = {}
        for state in self._loops.values():
            if state.down_since is not None:
                found[state.name] = (
                    f"down for {now - state.down_since:.0f} s after {state.last_error} "
                    f"({state.failures} failures)"
                )
            elif state.task is not None and state.task.done() and not self.stop_signal.is_set():
                found[state.name] = "ended"
        if self.last_lag_s >= LOOP_BEHIND_S:
            found["event-loop"] = f"a step waited {self.last_lag_s:.1f} s for its turn"
        return found

    async def watch_event_loop(self) -> None:
        """Until stopped: measure how late the event loop runs a step due every LAG_PROBE_S
        (`eldercare_event_loop_lag_seconds`); a stall shows in `problems()`."""
        loop = asyncio.get_running_loop()
        while not self.stop_signal.is_set():
            due = loop.time() + LAG_PROBE_S
            if await self.stop_signal.pause(LAG_PROBE_S):
                return
            self.last_lag_s = max(0.0, loop.time() - due)
            LOOP_LAG.observe(self.last_lag_s)

    @property
    def loops(self) -> dict[str, LoopState]:
        """Every supervised loop, by name."""
        return self._loops

    async def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        """Signal the loops to stop, wait for them to finish their round, cancel stragglers."""
        self.stop_signal.set()
        tasks = [s.task for s in self._loops.values() if s.task is not None]
        if not tasks:
            return
        _, waiting = await asyncio.wait(tasks, timeout=wait_s)
        for task in waiting:
            log.warning("loop %s did not stop within %.0f s; cancelled", task.get_name(), wait_s)
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
