"""An alarm acknowledged to a device is never lost, and every alarm reaches a person.

The short form of the chaos suite (tests/chaos, `./dev chaos` for the long form): the system
runs as separate `eldercare up` processes on this run's own PostgreSQL, Redis and Mosquitto
(devices on an edge broker bridged to the core broker the gateways read, as deployed);
simulated terminals press SOS (resending every 4 s until acked) and monitors send readings
while one thing breaks; then, everything healthy again, both sides are counted. Each
experiment asserts nothing acked was lost, nothing doubled, nothing left unjudged or unacked,
no PUBACKed reading unrecorded, no process crashed and no escalation missed or doubled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.chaos.experiments import SHORT, run_experiment
from tests.chaos.harness import ChaosHarness
from tests.chaos.report import render
from tests.chaos.servers import ServerMissing
from tests.conftest import server_unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.mosquitto]

# Nine experiments, each with elders of its own: terminals and monitors, with room to spare.
SEED_COUNT = 200


@pytest.fixture(scope="module")
def harness() -> Iterator[ChaosHarness]:
    """One set of servers and system processes for the module (each experiment its own devices)."""
    harness = ChaosHarness(SEED_COUNT)
    try:
        asyncio.run(harness.start())
    except ServerMissing as missing:
        asyncio.run(harness.close())
        server_unavailable("A server for the chaos suite", str(missing))
    except BaseException:
        asyncio.run(harness.close(keep_folder=True))
        raise
    yield harness
    asyncio.run(harness.close())


def _experiment(harness: ChaosHarness, name: str) -> None:
    figures = asyncio.run(run_experiment(harness, name, SHORT))
    text = render([figures], title=name)
    print(text)
    assert not figures.failures, f"logs in {harness.folder}\n{text}"


def test_without_faults_nothing_is_lost_doubled_or_unjudged(harness: ChaosHarness) -> None:
    _experiment(harness, "baseline")


def test_gateway_sigkilled_five_times_loses_no_acknowledged_alarm(harness: ChaosHarness) -> None:
    _experiment(harness, "gateway-sigkill-x5")


def test_core_broker_restart_loses_no_alarm_or_acknowledged_reading(harness: ChaosHarness) -> None:
    _experiment(harness, "core-restart")


def test_edge_broker_restart_loses_no_alarm_or_acknowledged_reading(harness: ChaosHarness) -> None:
    _experiment(harness, "edge-restart")


def test_redis_restarted_without_its_data_loses_no_alarm(harness: ChaosHarness) -> None:
    _experiment(harness, "redis-restart-empty")


def test_postgres_outage_loses_no_acknowledged_alarm(harness: ChaosHarness) -> None:
    _experiment(harness, "postgres-outage")


def test_callcenter_sigkilled_while_escalating_escalates_every_alarm_once(
    harness: ChaosHarness,
) -> None:
    _experiment(harness, "callcenter-sigkill-escalating")


def test_one_of_two_gateways_down_loses_no_alarm(harness: ChaosHarness) -> None:
    _experiment(harness, "one-gateway-down")


def test_poison_among_valid_messages_stops_no_alarm(harness: ChaosHarness) -> None:
    _experiment(harness, "poison")
