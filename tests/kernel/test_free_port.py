"""The test run's port allocator (tests/conftest.py): every server a test starts gets a port
of its own, free when handed out and never handed out again in the same run."""

from __future__ import annotations

import socket

import pytest

from tests import brokers
from tests.conftest import (
    PortAllocator,
    _ports_below_the_ephemeral_range,
    free_port,
    this_workers_ports,
)


def test_the_allocator_never_hands_out_a_port_twice() -> None:
    # Binding port 0 and closing it, as free_port once did, repeats ~35 times in 1,000 calls.
    # An allocator like free_port's, on the same ports: 1,000 of free_port's own would leave an
    # xdist worker's share too few for the rest of its tests.
    allocator = PortAllocator(this_workers_ports(_ports_below_the_ephemeral_range()))
    ports = [allocator.take() for _ in range(1_000)]
    assert len(set(ports)) == len(ports)


def test_the_brokers_module_hands_out_ports_from_the_same_allocator() -> None:
    assert brokers.free_port is free_port


def test_a_port_something_listens_on_is_not_handed_out() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(RuntimeError, match="handed out"):
            PortAllocator(range(port, port + 1)).take()


def test_a_free_port_is_handed_out_once_and_then_no_more() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ports = PortAllocator(range(port, port + 1))
    assert ports.take() == port
    with pytest.raises(RuntimeError, match="handed out"):
        ports.take()


def test_each_xdist_worker_hands_out_ports_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    ports = range(20_000, 20_100)
    monkeypatch.delenv("ELDERCARE_TEST_PORT_SHARE", raising=False)  # `./dev test` sets it
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    shares = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        shares.append(set(this_workers_ports(ports)))
    assert set().union(*shares) == set(ports)
    assert sum(len(share) for share in shares) == len(ports)  # no port in two shares
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert this_workers_ports(ports) == ports  # one process: every port


def test_runs_side_by_side_and_their_workers_hand_out_ports_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ports = range(20_000, 20_120)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    shares = []
    for run in ("0/2", "1/2"):
        monkeypatch.setenv("ELDERCARE_TEST_PORT_SHARE", run)
        for worker in ("gw0", "gw1", "gw2"):
            monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
            shares.append(set(this_workers_ports(ports)))
    assert set().union(*shares) == set(ports)
    assert sum(len(share) for share in shares) == len(ports)
