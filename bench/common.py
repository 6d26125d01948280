"""What the benchmarks share: a free local port, and quantiles of measured latencies."""

from __future__ import annotations

import socket
import statistics


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def quantile(values: list[float], q: float) -> float:
    """The q-quantile, never beyond the values seen."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]
