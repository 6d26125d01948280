"""What the benchmarks share: a free local port, and quantiles of measured latencies."""

from __future__ import annotations

import socket
import statistics
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def quantile(values: list[float], q: float) -> float:
    """The q-quantile, never beyond the values seen."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def event_loop_lag(http_port: int) -> dict[float, float]:
    """A running process's event-loop probes so far, cumulative by upper bound in seconds
    (`eldercare_event_loop_lag_seconds` on its /metrics)."""
    return histogram(http_port, "eldercare_event_loop_lag_seconds")


def histogram(http_port: int, name: str) -> dict[float, float]:
    """A running process's histogram `name` so far, cumulative by upper bound in seconds."""
    url = f"http://127.0.0.1:{http_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def lag_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The `q` quantile (ms, as the upper bound of its bucket) of what was observed between two
    readings of a histogram (`event_loop_lag`, `histogram`); 0 if nothing was."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= q * total:
            return bound * 1000
    return float("inf")
