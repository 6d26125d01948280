"""The experiments: a steady load of SOS presses and readings while one thing breaks.

Each experiment takes devices of its own, presses SOS at a steady rate while its fault runs
(never fewer presses than asked, and never a fault without load), then lets everything run
healthy until the counts stop changing, and counts from both sides (counts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from tests.chaos.counts import Figures, count
from tests.chaos.devices import DeviceRecords, HealthMonitor, SosTerminal
from tests.chaos.harness import EDGE_CORE, SINGLE, ChaosHarness, Topology
from tests.chaos.servers import poll_until

SOS_TERMINAL, HEALTH_MONITOR = "sos_terminal", "health_monitor"


@dataclass(frozen=True)
class Scale:
    """How big and how long an experiment is."""

    sos: int  # at least this many presses per experiment
    terminals: int
    monitors: int
    reading_every_s: float  # per monitor
    load_s: float  # the presses are spread over this long (longer if the fault lasts longer)
    settle_max_s: float  # after the fault: at most this long for the counts to settle
    quiet_s: float  # counts unchanged this long: settled (more than a resend's 4 s)
    postgres_down_s: float
    gateway_down_s: float  # one of two gateways, left down
    callcenter_down_s: float  # the call centre, killed while escalations fall due
    core_down_s: float  # the core broker, for longer than the edge's bridge waits to reconnect


# The normal test run: each experiment well under a minute on 2 shared cores.
SHORT = Scale(
    sos=40, terminals=10, monitors=4, reading_every_s=0.25, load_s=10.0, settle_max_s=40.0,
    quiet_s=10.0, postgres_down_s=8.0, gateway_down_s=12.0, callcenter_down_s=8.0,
    core_down_s=20.0,
)  # fmt: skip
# `./dev chaos`: thousands of presses, the full outages.
LONG = Scale(
    sos=2000, terminals=100, monitors=20, reading_every_s=0.25, load_s=120.0, settle_max_s=300.0,
    quiet_s=30.0, postgres_down_s=30.0, gateway_down_s=60.0, callcenter_down_s=30.0,
    core_down_s=60.0,
)  # fmt: skip


class Load:
    """One experiment's devices: terminals pressing SOS, monitors sending readings."""

    def __init__(self, harness: ChaosHarness, name: str, scale: Scale) -> None:
        self.harness, self.name, self.scale = harness, name, scale
        self.records = DeviceRecords()
        self.terminals = [
            SosTerminal(login, self.records)
            for login in harness.take(SOS_TERMINAL, scale.terminals)
        ]
        self.monitors = [
            HealthMonitor(login, self.records, f"{name}-{login.device_id}", scale.reading_every_s)
            for login in harness.take(HEALTH_MONITOR, scale.monitors)
        ]
        self.readings_stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._numbers = itertools.count(1)
        self._next_terminal = itertools.cycle(self.terminals)

    async def connect(self) -> None:
        """Start every device and wait (bounded) until each has connected once."""
        self._tasks = [asyncio.create_task(t.run()) for t in self.terminals]
        self._tasks += [asyncio.create_task(m.run(self.readings_stop)) for m in self.monitors]
        await poll_until(lambda: self.records.connects >= len(self._tasks), 30.0, 0.1)

    def press(self, ts: str | None = None) -> None:
        """The next terminal in turn presses SOS, with a message id unique to the run."""
        terminal = next(self._next_terminal)
        terminal.press(f"{self.name}-{next(self._numbers)}", ts)

    def terminal(self) -> SosTerminal:
        """The next terminal in turn."""
        return next(self._next_terminal)

    async def press_while(self, fault: asyncio.Task[None]) -> None:
        """Press at a steady rate until at least `scale.sos` presses and the fault is over."""
        every = self.scale.load_s / self.scale.sos
        pressed, started = 0, time.monotonic()
        while pressed < self.scale.sos or not fault.done():
            self.press()
            pressed += 1
            delay = started + pressed * every - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        """Stop every device."""
        self.readings_stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


Fault = Callable[[ChaosHarness, Load], Coroutine[Any, Any, None]]
WARM_UP_S = 2.0


async def no_fault(harness: ChaosHarness, load: Load) -> None:
    """Nothing breaks: the control."""
    await asyncio.sleep(WARM_UP_S)


async def gateway_killed_five_times(harness: ChaosHarness, load: Load) -> None:
    """SIGKILL one gateway five times, starting it again each time."""
    gateway = harness.gateways[0]
    for _ in range(5):
        await asyncio.sleep(WARM_UP_S)
        await gateway.kill()
        await asyncio.sleep(0.5)
        await harness.start_gateway(gateway)


BROKER_DOWN_S = 2.0


async def broker_restarted(harness: ChaosHarness, load: Load) -> None:
    """The one broker of the single topology (devices and gateways on it): stopped (SIGTERM),
    down 2 s, started again."""
    await asyncio.sleep(WARM_UP_S)
    await harness.core.stop()
    await asyncio.sleep(BROKER_DOWN_S)
    await harness.core.start()
    await asyncio.sleep(WARM_UP_S)


async def core_restarted(harness: ChaosHarness, load: Load) -> None:
    """The core broker (the gateways and the edge's bridge on it) stopped, down 2 s, started:
    the devices stay connected to the edge, which holds their uplinks for the bridge."""
    await asyncio.sleep(WARM_UP_S)
    await harness.core.stop()
    await asyncio.sleep(BROKER_DOWN_S)
    await harness.start_core()  # and wait for the bridge: until then uplinks wait at the edge
    await asyncio.sleep(WARM_UP_S)


async def core_down_long(harness: ChaosHarness, load: Load) -> None:
    """The core broker down for the scale's outage (longer than the bridge's first retry):
    whether the gateways, retrying with a growing backoff, subscribe again before the bridge,
    retrying on its restart_timeout, delivers what the edge held."""
    await asyncio.sleep(WARM_UP_S)
    await harness.core.stop()
    await asyncio.sleep(load.scale.core_down_s)
    await harness.start_core()
    await asyncio.sleep(WARM_UP_S)


async def edge_restarted(harness: ChaosHarness, load: Load) -> None:
    """The edge broker (every device, and the bridge) stopped, down 2 s, started again."""
    await asyncio.sleep(WARM_UP_S)
    await harness.edge.stop()
    await asyncio.sleep(BROKER_DOWN_S)
    await harness.start_edge()
    await asyncio.sleep(WARM_UP_S)


async def redis_restarted_empty(harness: ChaosHarness, load: Load) -> None:
    """SIGKILL Redis and start it again without its data (streams and consumer groups gone)."""
    await asyncio.sleep(WARM_UP_S)
    await harness.redis.restart(keep_data=False, down_s=1.0)
    await asyncio.sleep(WARM_UP_S * 2)


async def postgres_stopped(harness: ChaosHarness, load: Load) -> None:
    """Stop PostgreSQL (fast shutdown) for the scale's outage, then start it again."""
    await asyncio.sleep(WARM_UP_S)
    await harness.postgres.stop()
    await asyncio.sleep(load.scale.postgres_down_s)
    await harness.postgres.start()
    await asyncio.sleep(WARM_UP_S)


async def callcenter_killed_during_escalation(harness: ChaosHarness, load: Load) -> None:
    """SIGKILL the call centre once incidents are open and unacknowledged, while escalations
    fall due (ELDERCARE_ACK_ESCALATE_AFTER_S is a few seconds), and start it again later."""
    await asyncio.sleep(harness.tuning.ack_escalate_after_s + WARM_UP_S)
    callcenter = harness.callcenters[0]
    await callcenter.kill()
    await asyncio.sleep(load.scale.callcenter_down_s)
    await callcenter.start()
    await asyncio.sleep(WARM_UP_S)


async def one_gateway_down(harness: ChaosHarness, load: Load) -> None:
    """SIGKILL one of the two gateways on the shared subscription and leave it down a while."""
    await asyncio.sleep(WARM_UP_S)
    gateway = harness.gateways[-1]
    await gateway.kill()
    await asyncio.sleep(load.scale.gateway_down_s)
    await harness.start_gateway(gateway)
    await asyncio.sleep(WARM_UP_S)


# Valid messages that Python's datetime cannot take to UTC (FACTS.md): the gateway must accept,
# acknowledge and judge them like any SOS.
VALID_EXTREME_CLOCKS = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")
# What a broken or hostile terminal may send: each must be rejected and kept, never stop anything.
GARBAGE = (
    b'{"v":1,"id":',  # cut short
    b"\xff\xfe\x00garbage",  # not UTF-8
    b"[1,2,3]",  # JSON, not an object
    b'{"v":1,"id":"g1","ts":"2026-11-22T08:15:30+08:00","type":"selfdestruct"}',
    b'{"v":1,"id":"g2","ts":"not a time","type":"sos","button":"main"}',
    b'{"v":1,"id":"' + b"x" * 65 + b'","ts":"2026-11-22T08:15:30+08:00","type":"sos"}',
    b'{"v":1,"id":"g3","ts":"2026-11-22T08:15:30+08:00","type":"vitals","bp_sys":182}',
    b'{"v":1,"id":"g4","ts":"2026-11-22T08:15:30+08:00","type":"vitals","temp":NaN}',
    b'{"v":1,"id":"g5","ts":"2026-11-22T08:15:30+08:00","type":"vitals","hr":1e400}',
    b"[" * 2040 + b"]" * 2040,  # deeper than json's recursion limit, within 4096 bytes
    b'{"v":1,"id":"g6","ts":"2026-11-22T08:15:30+08:00","type":"sos","button":"main","pad":"'
    + b"p" * 5000
    + b'"}',  # over 4096 bytes
    b"",  # empty
    b'{"v":1,"id":"g7","ts":"2026-11-22T08:15:30+08:00","type":"cancel","ref":null}',
)


async def poison_among_valid(harness: ChaosHarness, load: Load) -> None:
    """Garbage and SOS with extreme (valid) clocks among the steady valid load."""
    await asyncio.sleep(WARM_UP_S)
    for n, garbage in enumerate(GARBAGE):
        load.terminal().publish_raw(garbage)
        if n % 3 == 0:
            load.press(VALID_EXTREME_CLOCKS[n % 2])
        await asyncio.sleep(0.3)
    await asyncio.sleep(WARM_UP_S)


EXPERIMENTS: dict[str, Fault] = {
    "baseline": no_fault,
    "gateway-sigkill-x5": gateway_killed_five_times,
    "core-restart": core_restarted,
    "edge-restart": edge_restarted,
    "core-outage": core_down_long,
    "broker-restart": broker_restarted,
    "redis-restart-empty": redis_restarted_empty,
    "postgres-outage": postgres_stopped,
    "callcenter-sigkill-escalating": callcenter_killed_during_escalation,
    "one-gateway-down": one_gateway_down,
    "poison": poison_among_valid,
}


# Experiments that mean something on one topology only; the others run on either.
TOPOLOGY_OF: dict[str, Topology] = {
    "core-restart": EDGE_CORE,
    "edge-restart": EDGE_CORE,
    "core-outage": EDGE_CORE,
    "broker-restart": SINGLE,
}
# Measurements, not claims: what Mosquitto 2.0 loses because it does not restore `$share`
# subscriptions after a restart (docs/operations.md "Broker faults"): on one broker, whatever
# devices send before the gateways subscribe again; on edge + core after a long core outage,
# whatever the bridge delivers if it is back before them. Their figures are printed; a
# nonzero loss does not fail the run.
MEASUREMENTS = frozenset({"broker-restart", "core-outage"})


def fits(name: str, topology: Topology) -> bool:
    """Whether the experiment can run on this topology."""
    return TOPOLOGY_OF.get(name, topology) == topology


async def run_experiment(harness: ChaosHarness, name: str, scale: Scale) -> Figures:
    """Run one experiment to its settled counts."""
    fault = EXPERIMENTS[name]
    if not fits(name, harness.topology):
        raise ValueError(f"{name} runs on the {TOPOLOGY_OF[name]} topology, not {harness.topology}")
    await harness.ensure_up()
    crashes_before = harness.unexpected_exits()
    load = Load(harness, name, scale)
    started = time.monotonic()
    try:
        await load.connect()
        faulting = asyncio.create_task(fault(harness, load))
        await load.press_while(faulting)
        await faulting
        load.readings_stop.set()
        crashes = harness.unexpected_exits() - crashes_before
        # Start only what is down: the processes are started afresh after a failed experiment,
        # never in the middle of one (that would be a second fault, and hide what this one did).
        await harness.ensure_up()
        await settle(harness, load, crashes)
    except BaseException:
        harness.restart_before_next = True
        raise
    finally:
        await load.stop()
    figures = await count(
        harness.dsn, name, load.records, crashes=harness.unexpected_exits() - crashes_before
    )
    figures = replace(figures, crashes=max(figures.crashes, crashes))
    harness.restart_before_next = bool(figures.failures)
    figures.notes["seconds"] = round(time.monotonic() - started, 1)
    figures.notes["connection_errors"] = load.records.connection_errors
    figures.notes["poison_sent"] = load.records.poison_sent
    return figures


async def settle(harness: ChaosHarness, load: Load, crashes: int) -> Figures:
    """Everything healthy: wait until the counts are complete, or stop changing (bounded)."""
    deadline = time.monotonic() + load.scale.settle_max_s
    last_key: tuple[int, ...] | None = None
    changed_at = time.monotonic()
    while True:
        figures = await count(harness.dsn, load.name, load.records, crashes=crashes)
        now = time.monotonic()
        if figures.settled or now > deadline:
            return figures
        if figures.progress_key() != last_key:
            last_key, changed_at = figures.progress_key(), now
        elif now - changed_at > load.scale.quiet_s:
            return figures
        await asyncio.sleep(1.0)
