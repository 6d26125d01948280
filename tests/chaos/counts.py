"""Counting an experiment from both sides: what the devices saw, what the database holds.

An SOS is *acked* when its terminal heard `{"type":"ack","ref":id,"status":"received"}`;
*recorded* when a `device_events` row of type sos holds (device, id); *judged* when the alarm
engine made a step of it: an `incident_timeline` entry whose `device_event_id` is the event (the
record `callcenter.incidents.repository.already_handled` reads), or an incident that names the
event (counted too, should the incidents table come to carry a `device_event_id`).

SOS sent with an extreme clock (the poison experiment's `0001-01-01T00:00:00+01:00`) are
counted with the others (the gateway takes an alarm whose only fault is its ts, at its arrival
time: docs/protocol.md), and how they fared is also in the notes.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from tests.chaos.devices import DeviceRecords

# The figures an experiment must bring to zero.
MUST_BE_ZERO = (
    "lost",
    "doubled",
    "never_judged",
    "unacked",
    "readings_unrecorded",
    "crashes",
    "escalations_doubled",
    "escalations_overdue",
)


@dataclass
class Figures:
    """One experiment's counts (see the module docstring for what each word means)."""

    experiment: str
    sent: int = 0
    acked: int = 0
    recorded: int = 0
    judged: int = 0
    incidents: int = 0
    lost: int = 0  # acked, not recorded
    doubled: int = 0  # (device, id) recorded twice, or one event judged twice
    never_judged: int = 0  # recorded, not judged
    unacked: int = 0  # pressed, never acked (the terminal is still resending)
    readings_pubacked: int = 0
    readings_unrecorded: int = 0  # PUBACKed by the broker, not in device_events
    crashes: int = 0  # system processes that ended without being asked to
    escalations: int = 0
    escalations_doubled: int = 0  # one incident escalated to the same level twice
    escalations_overdue: int = 0  # unacknowledged more than 5 s past its deadline, not escalated
    max_sends: int = 0
    ack_p50_s: float | None = None
    ack_max_s: float | None = None
    # From the event's recording to its step on an incident (the database's clocks).
    judge_p50_s: float | None = None
    judge_max_s: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> dict[str, int]:
        """The must-be-zero figures that are not."""
        return {name: getattr(self, name) for name in MUST_BE_ZERO if getattr(self, name)}

    @property
    def settled(self) -> bool:
        """Nothing left in flight: every press acked, every event judged, every reading stored."""
        return not (
            self.unacked
            or self.never_judged
            or self.readings_unrecorded
            or self.lost
            or self.escalations_overdue
        )

    def progress_key(self) -> tuple[int, ...]:
        """What changes while the system is still catching up."""
        return (
            self.acked,
            self.recorded,
            self.judged,
            self.readings_pubacked - self.readings_unrecorded,
        )


async def _has_column(connection: asyncpg.Connection, table: str, column: str) -> bool:
    found = await connection.fetchval(
        "SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2",
        table,
        column,
    )
    return found is not None


async def count(
    dsn: str,
    experiment: str,
    records: DeviceRecords,
    *,
    crashes: int = 0,
) -> Figures:
    """Count one experiment: its devices' records against the database.

    Each experiment has devices (and elders) of its own, so what the database holds of these
    devices is this experiment's.
    """
    figures = Figures(experiment, crashes=crashes)
    presses = dict(records.presses)
    extreme = {k: p for k, p in records.presses.items() if p.extreme_clock}
    figures.sent = len(presses)
    acked = {key for key, sos in presses.items() if sos.acked_at is not None}
    figures.acked = len(acked)
    figures.unacked = figures.sent - figures.acked
    if presses:
        figures.max_sends = max(sos.sends for sos in presses.values())
    waits = sorted(s.acked_at - s.pressed_at for s in presses.values() if s.acked_at is not None)
    if waits:
        figures.ack_p50_s = statistics.median(waits)
        figures.ack_max_s = waits[-1]
    devices = sorted(
        {device for device, _ in records.presses} | {d for d, _ in records.readings_pubacked}
    )
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT id, device_id, message_id, type FROM device_events "
            "WHERE device_id = ANY($1::text[]) AND type IN ('sos', 'vitals')",
            devices,
        )
        sos_events: dict[int, tuple[str, str]] = {}
        recorded_keys: Counter[tuple[str, str]] = Counter()
        readings: set[tuple[str, str]] = set()
        extreme_recorded: set[tuple[str, str]] = set()
        for row in rows:
            key = (row["device_id"], row["message_id"])
            if row["type"] == "sos":
                if key in extreme:
                    extreme_recorded.add(key)
                if key in presses:
                    sos_events[row["id"]] = key
                    recorded_keys[key] += 1
            else:
                readings.add(key)
        judgments: Counter[int] = Counter()
        ids = list(sos_events)
        judge_waits: list[float] = []
        for row in await connection.fetch(
            "SELECT t.device_event_id, extract(epoch FROM t.at - e.received_at) AS wait "
            "FROM incident_timeline t JOIN device_events e ON e.id = t.device_event_id "
            "WHERE t.device_event_id = ANY($1::bigint[])",
            ids,
        ):
            judgments[row["device_event_id"]] += 1
            judge_waits.append(float(row["wait"]))
        if await _has_column(connection, "incidents", "device_event_id"):
            for row in await connection.fetch(
                "SELECT i.device_event_id FROM incidents i WHERE i.device_event_id = ANY($1::bigint[]) "
                "AND NOT EXISTS (SELECT 1 FROM incident_timeline t "
                "WHERE t.device_event_id = i.device_event_id)",
                ids,
            ):
                judgments[row["device_event_id"]] += 1
        figures.incidents = await connection.fetchval(
            "SELECT count(*) FROM incidents WHERE device_id = ANY($1::text[]) AND kind = 'sos'",
            devices,
        )
        overdue = await connection.fetchval(
            "SELECT count(*) FROM incidents WHERE device_id = ANY($1::text[]) "
            "AND acknowledged_at IS NULL AND status IN ('new','assigned','acknowledged',"
            "'en_route','on_site') AND ack_due_at < now() - interval '5 seconds'",
            devices,
        )
        escalations = await connection.fetch(
            "SELECT t.incident_id, t.detail::text AS detail FROM incident_timeline t "
            "JOIN incidents i ON i.id = t.incident_id "
            "WHERE i.device_id = ANY($1::text[]) AND t.action = 'escalated'",
            devices,
        )
        if await _has_column(connection, "device_events", "judge_error"):
            # The engine's own marks (judged_at, judge_error), beside the steps counted above.
            marks = await connection.fetchrow(
                "SELECT count(*) FILTER (WHERE judged_at IS NULL) AS unmarked, "
                "count(*) FILTER (WHERE judge_error IS NOT NULL) AS errors "
                "FROM device_events WHERE id = ANY($1::bigint[])",
                ids,
            )
            figures.notes["engine_unjudged"] = marks["unmarked"]
            figures.notes["judge_errors"] = marks["errors"]
        rejected = await connection.fetchval(
            "SELECT count(*) FROM rejected_messages WHERE device_id = ANY($1::text[])", devices
        )
    finally:
        await connection.close()
    if judge_waits:
        judge_waits.sort()
        figures.judge_p50_s = statistics.median(judge_waits)
        figures.judge_max_s = judge_waits[-1]
    figures.recorded = len(recorded_keys)
    figures.lost = len(acked - set(recorded_keys))
    figures.judged = sum(1 for event in sos_events if judgments[event])
    figures.doubled = sum(1 for n in recorded_keys.values() if n > 1) + sum(
        1 for n in judgments.values() if n > 1
    )
    figures.never_judged = sum(1 for event in sos_events if not judgments[event])
    figures.readings_pubacked = len(records.readings_pubacked)
    figures.readings_unrecorded = len(records.readings_pubacked - readings)
    steps = Counter((row["incident_id"], _level(row["detail"])) for row in escalations)
    figures.escalations = len(escalations)
    figures.escalations_doubled = sum(1 for n in steps.values() if n > 1)
    figures.escalations_overdue = overdue
    if extreme:
        figures.notes["extreme_clock_sos"] = (
            f"sent {len(extreme)}, acked received "
            f"{sum(1 for p in extreme.values() if p.acked_at is not None)}, rejected "
            f"{sum(1 for p in extreme.values() if p.rejections)} "
            f"({', '.join(sorted({r for p in extreme.values() for r in p.rejections}))}), "
            f"recorded {len(extreme_recorded)}"
        )
    rejected_presses = [p for p in presses.values() if p.rejections]
    if rejected_presses:
        figures.notes["valid_sos_rejected"] = len(rejected_presses)
    figures.notes.update(
        rejected_kept=rejected,
        sends=sum(s.sends for s in presses.values()),
    )
    return figures


def _level(detail: str) -> str:
    # The level is in the step's JSON detail; compared as text, it needs no parsing.
    marker = '"level": '
    start = detail.find(marker)
    return detail[start + len(marker) : start + len(marker) + 1] if start >= 0 else "?"
