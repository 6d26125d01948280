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
    url = f"http://127.0.0.1:{http_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("eldercare_event_loop_lag_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def lag_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The `q` quantile (ms, as the upper bound of its bucket) of the probes between two
    `event_loop_lag` readings; 0 if there were none."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= q * total:
            return bound * 1000
    return float("inf")
