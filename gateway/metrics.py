"""Prometheus metrics of the device-facing edge."""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter(
    "eldercare_gateway_messages_total", "Uplink messages accepted, by type", ["type"]
)
DUPLICATES = Counter(
    "eldercare_gateway_duplicates_total", "Uplink messages seen again (same device and id)"
)
READINGS_JUDGED_HERE = Counter(
    "eldercare_gateway_readings_judged_here_total",
    "Vital readings in the normal range, recorded already judged (the alarm engine skips them)",
)
REJECTS = Counter(
    "eldercare_gateway_rejects_total", "Uplink messages rejected, by reason", ["reason"]
)
UNPROCESSABLE = Counter(
    "eldercare_gateway_unprocessable_total",
    "Uplink messages the gateway failed on or the database refused (kept as rejects), by error",
    ["error"],
)
DATABASE_RETRIES = Counter(
    "eldercare_gateway_database_retries_total",
    "Writes and lookups tried again because the database was away or busy",
)
ROWS_DROPPED = Counter(
    "eldercare_gateway_rows_dropped_total",
    "Rows the database refused even alone, written to the log instead, by kind",
    ["kind"],
)
ACKS_SENT = Counter("eldercare_gateway_acks_total", "Acks sent to devices, by status", ["status"])
INGEST_LAG = Histogram(
    "eldercare_gateway_ingest_lag_seconds",
    "From a message's arrival to its durable record",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
# Where an alarm's time goes before its ack, in the writes it shares with readings (SQLite has one
# writer; docs/gateway.md, "Where the time goes"). `./dev bench ingest` prints them.
_WRITE_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1.0
)  # fmt: skip
ALARM_TURN_WAIT = Histogram(
    "eldercare_gateway_alarm_turn_wait_seconds",
    "How long an alarm waited for its turn on the database's writer before it was recorded",
    buckets=_WRITE_BUCKETS,
)
ALARM_WRITE = Histogram(
    "eldercare_gateway_alarm_write_seconds",
    "An alarm's own transaction, from its turn on the writer to its commit",
    buckets=_WRITE_BUCKETS,
)
BATCH_WRITE = Histogram(
    "eldercare_gateway_batch_write_seconds",
    "How long one transaction of the batch writer held the writer's turn (what an alarm waits for)",
    buckets=_WRITE_BUCKETS,
)
ALARMS_WITHOUT_DEVICE_TIME = Counter(
    "eldercare_gateway_alarms_without_device_time_total",
    "Alarms taken without their ts (missing or impossible): the device's clock needs a look",
)
DEVICES_ONLINE = Gauge("eldercare_gateway_devices_online", "Devices currently online")


@functools.cache
def messages_in(message_type: str) -> Counter:
    """MESSAGES_IN's counter for one type, looked up once (`labels` locks and hashes each call).
    Only the protocol's message types reach it, so the cache stays small."""
    return MESSAGES_IN.labels(message_type)
