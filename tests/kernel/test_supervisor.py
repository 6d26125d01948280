"""The supervisor: a loop that raises is logged, counted, named as down, and started again."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prometheus_client import REGISTRY

from kernel import supervisor as supervisor_module
from kernel.supervisor import LOOP_FAILURES, Supervisor


@pytest.fixture(autouse=True)
def short_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pause after a failure doubles from FIRST_PAUSE_S; short here so the test is quick.
    monkeypatch.setattr(supervisor_module, "FIRST_PAUSE_S", 0.05)


async def test_a_loop_that_raises_is_logged_counted_and_started_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = Supervisor()
    runs: list[int] = []
    before = LOOP_FAILURES.labels("flaky")._value.get()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise ZeroDivisionError("a bug nobody foresaw")
        await supervisor.stop_signal.pause(60)

    with caplog.at_level(logging.ERROR, logger="kernel.supervisor"):
        supervisor.start("flaky", flaky)
        for _ in range(100):
            if len(runs) >= 3:
                break
            await asyncio.sleep(0.02)
    assert len(runs) == 3
    assert LOOP_FAILURES.labels("flaky")._value.get() == before + 2
    failures = [r for r in caplog.records if "loop flaky failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info for r in failures)  # with its traceback
    assert supervisor.problems() == {}  # running again
    await supervisor.stop()
    assert supervisor.loops["flaky"].task is not None and supervisor.loops["flaky"].task.done()


async def test_a_loop_waiting_to_start_again_is_named_with_its_error() -> None:
    supervisor = Supervisor()

    async def broken() -> None:
        raise RuntimeError("cannot reach the thing")

    supervisor.start("broken", broken)
    await asyncio.sleep(0.01)
    problems = supervisor.problems()
    assert list(problems) == ["broken"]
    assert "RuntimeError: cannot reach the thing" in problems["broken"]
    await supervisor.stop()


async def test_a_loop_that_returns_without_a_stop_counts_as_failed() -> None:
    supervisor = Supervisor()

    async def gives_up() -> None:
        return

    supervisor.start("gives-up", gives_up)
    await asyncio.sleep(0.01)
    assert "returned without being asked to stop" in supervisor.problems()["gives-up"]
    await supervisor.stop()


async def test_stop_waits_for_the_round_then_cancels_a_loop_that_ignores_it() -> None:
    supervisor = Supervisor()
    finished: list[str] = []

    async def polite() -> None:
        await supervisor.stop_signal.pause(60)
        finished.append("polite")

    async def deaf() -> None:
        await asyncio.sleep(60)

    supervisor.start("polite", polite)
    supervisor.start("deaf", deaf)
    await asyncio.sleep(0)
    await supervisor.stop(wait_s=0.1)
    assert finished == ["polite"]
    assert all(s.task is not None and s.task.done() for s in supervisor.loops.values())


async def test_a_blocked_event_loop_is_measured_and_a_stall_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor_module, "LOOP_BEHIND_S", 0.3)
    supervisor = Supervisor()
    before = _lag_between(0.2, 1.0)
    supervisor.start("event-loop", supervisor.watch_event_loop)
    await asyncio.sleep(0.05)  # the probe is asleep, due in 0.1 s
    time.sleep(0.6)  # noqa: ASYNC251 - the blocking call under test: nothing else runs meanwhile
    for _ in range(100):
        if supervisor.last_lag_s > 0:
            break
        await asyncio.sleep(0.01)

    assert supervisor.last_lag_s >= 0.4
    assert list(supervisor.problems()) == ["event-loop"]
    assert _lag_between(0.2, 1.0) == before + 1  # in the histogram /metrics serves
    await supervisor.stop()


def _lag_between(low: float, high: float) -> float:
    """How many event-loop probes were late by more than `low` and at most `high` seconds."""

    def upto(bound: float) -> float:
        name = "eldercare_event_loop_lag_seconds_bucket"
        return REGISTRY.get_sample_value(name, {"le": str(bound)}) or 0.0

    return upto(high) - upto(low)
