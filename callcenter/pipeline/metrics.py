"""Prometheus metrics of the alarm pipeline (gateway's device events to incidents)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_HANDLED = Counter(
    "eldercare_pipeline_events_total", "Device events the alarm engine has handled"
)
LAG = Histogram(
    "eldercare_pipeline_lag_seconds",
    "From a device event's arrival at the gateway to the alarm engine's commit of it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
EVENTS_FAILED = Counter(
    "eldercare_pipeline_events_failed_total",
    "Device events the alarm engine could not judge (kept with their error), by type",
    ["type"],
)
