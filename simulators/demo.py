"""The living street of `eldercare up`: a modest fleet going about its day, and now and then an alarm."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence

from simulators.devices import Broker, LinkRefusedError, NoAckError
from simulators.fleet import Fleet, FleetPlan
from simulators.messages import DeviceProfile
from simulators.scenarios import SCENARIOS, NoCastError, Stage, pick_cast, play

# The embedded broker carries one to two thousand devices (docs/gateway.md); the demo stays well
# below, so that the console, not the broker, is what the machine spends its time on.
DEMO_DEVICES = 300
SCENARIO_EVERY_S = 120.0
# Only scenarios that leave the fleet as it was: no cut power, no garbage, no storms.
DEMO_SCENARIOS = ("sos", "sos-cancelled", "fall-at-night", "hypertensive-crisis", "hypoglycaemia")

log = logging.getLogger(__name__)


def demo_cast(
    profiles: Sequence[DeviceProfile], count: int, rng: random.Random
) -> list[DeviceProfile]:
    """The devices of the demo: a random sample of the register, the same on every start."""
    return sorted(rng.sample(list(profiles), min(count, len(profiles))), key=lambda p: p.device_id)


async def run_demo(
    profiles: Sequence[DeviceProfile],
    broker: Broker,
    *,
    stop: asyncio.Event,
    say: Callable[[str], None],
    every_s: float = SCENARIO_EVERY_S,
    rng: random.Random | None = None,
) -> None:
    """Run the fleet and play a scenario every `every_s` until `stop` is set."""
    logging.getLogger("simulators.devices").setLevel(logging.ERROR)  # gmqtt's reconnect chatter
    rng = rng or random.Random()
    fleet = Fleet(profiles, FleetPlan(brokers=(broker,)), rng)
    try:
        await fleet.connect_all()
        say(
            f"Demo: {len(fleet.online):,} simulated devices online; a scenario every {every_s:g} s."
        )
        routine = asyncio.create_task(fleet.run_routine(stop))
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
            if not stop.is_set():
                await _one_scenario(fleet, rng, say)
        await routine
    finally:
        await fleet.close()


async def _one_scenario(fleet: Fleet, rng: random.Random, say: Callable[[str], None]) -> None:
    scenario = SCENARIOS[rng.choice(DEMO_SCENARIOS)]
    online = [d.profile for d in fleet.devices if d.device_id in fleet.online]
    try:
        cast = pick_cast(scenario, online, rng)
        await play(scenario, Stage(fleet, cast, pace_s=2.0))
    except (NoCastError, NoAckError, LinkRefusedError, OSError) as error:
        log.warning("demo scenario %s not played: %s", scenario.name, error)
        return
    say(f"Demo: {scenario.name} on {', '.join(p.device_id for p in cast)}")
