"""What the benchmarks share: a free local port, quantiles of measured latencies, a process's
own histograms, and py-spy's profile of it."""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path


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


def py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling a process (every thread, busy samples only: py-spy's default leaves idle
    time out) until it is sent SIGINT, as collapsed stacks in `out`."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        sys.exit("--profile needs py-spy (pip install py-spy)")
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
         "--rate", "250", "--nonblocking", "--threads"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def print_profile(path: Path, who: str, top: int = 25) -> None:
    """Where the sampled time went: by thread, then the frames holding the most samples
    (inclusive, then own; under uvloop the event loop's C code is counted to `Runner.run`)."""
    by_thread: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1]
        by_thread[thread] = by_thread.get(thread, 0) + count
        total += count
        for frame in set(frames[1:]):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    print(f"\nprofile of {who} ({total:,} samples, {path}):")
    for thread, count in sorted(by_thread.items(), key=lambda kv: -kv[1]):
        print(f"  thread {thread}: {count / total:6.1%}")
    print("  most samples, inclusive:")
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {count / total:6.1%}  {frame[:150]}")
    print("  most samples, own:")
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {count / total:6.1%}  {frame[:150]}")
