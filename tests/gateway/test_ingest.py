"""The one ingest path, driven directly: what is recorded, acknowledged, rejected and kept."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from callcenter.elders.repository import readings_since
from callcenter.elders.schemas import VitalReadingRead
from gateway import metrics, presence
from gateway.ingest.schemas import Inbound
from gateway.presence import mark_silent_devices_offline
from gateway.runtime import GatewayRuntime
from kernel import migrate
from kernel.models import Device, utcnow
from tests.gateway.conftest import Street, events_of, message, rejects_of

Start = Callable[..., Any]


def inbound(device: str | None, payload: bytes, transport: str = "mqtt") -> Inbound:
    topic = f"eldercare/v1/up/{device}" if device else "eldercare/v1/up/"
    return Inbound(transport, device, topic, payload, utcnow())


async def test_sos_is_recorded_before_its_ack_and_a_resend_is_recorded_once(
    street: Street, start_gateway: Start
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    sos = message("sos", "a1", button="main")
    first = await gateway.ingest.handle(inbound(street.terminal, sos))
    assert [e.type for e in await events_of(street.sessions, street.terminal)] == ["sos"]
    again = await gateway.ingest.handle(inbound(street.terminal, sos))
    assert first == again == [b'{"v":1,"type":"ack","ref":"a1","status":"received"}']
    (event,) = await events_of(street.sessions, street.terminal)
    assert event.elder_id is not None and event.payload["button"] == "main"


def _named_without_payload(value: object) -> str | None:
    """Test ids without the payloads, whose timestamps change from one collection to the next
    (pytest-xdist's workers must collect the same ids)."""
    return "payload" if isinstance(value, bytes) else None


@pytest.mark.parametrize(
    ("device", "payload", "type_"),
    [
        ("terminal", message("service", "s1", need="meal"), "service"),
        ("terminal", message("fall", "f1", confidence=0.93), "fall"),
        ("terminal", message("cancel", "c1", ref="a1"), "cancel"),
        ("terminal", message("location", "l1", lat=22.68, lon=114.13, acc_m=15), "location"),
        ("door", message("door", "d1", state="open"), "door"),
        ("monitor", message("vitals", "v1", bp_sys=182, bp_dia=112, hr=96), "vitals"),
        ("terminal", b'{"v":1,"type":"offline"}', "offline"),
    ],
    ids=_named_without_payload,
)
async def test_every_message_type_is_recorded(
    street: Street, start_gateway: Start, device: str, payload: bytes, type_: str
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    device_id = getattr(street, device)
    answers = await gateway.ingest.handle(inbound(device_id, payload))
    await gateway.writer.flush()
    assert [e.type for e in await events_of(street.sessions, device_id)] == [type_]
    acked = type_ in {"service", "fall", "cancel"}
    assert [json.loads(a)["status"] for a in answers] == (["received"] if acked else [])


async def test_vitals_are_stored_as_readings_of_the_elder(
    street: Street, start_gateway: Start
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    for n in range(3):
        await gateway.ingest.handle(
            inbound(street.monitor, message("vitals", f"v{n}", spo2=95 - n))
        )
    await gateway.ingest.handle(inbound(street.monitor, message("vitals", "v0", spo2=95)))  # resent
    await gateway.writer.flush()
    # Stored once, as events (which the alarm engine judges), and read back as the elder's history.
    events = await events_of(street.sessions, street.monitor)
    assert [(e.message_id, e.payload["spo2"]) for e in events] == [
        ("v0", 95),
        ("v1", 94),
        ("v2", 93),
    ]
    elder = events[0].elder_id
    assert elder is not None
    async with street.sessions() as session:
        history = [
            VitalReadingRead.of_event(event)
            for event in await readings_since(
                session, elder, utcnow() - dt.timedelta(hours=1), max_skew=dt.timedelta(days=1)
            )
        ]
    assert [(r.device_id, r.spo2, r.hr) for r in history] == [
        (street.monitor, s, None) for s in (95, 94, 93)
    ]
    assert [r.measured_at for r in history] == [e.device_ts for e in events]


async def test_heartbeat_and_last_will_set_presence(street: Street, start_gateway: Start) -> None:
    gateway: GatewayRuntime = await start_gateway()
    await gateway.ingest.handle(
        inbound(street.terminal, message("heartbeat", "h1", battery=17, rssi=-71, fw="2.1.0"))
    )
    await gateway.writer.flush()
    async with street.sessions() as session:
        device = await session.get(Device, street.terminal)
    assert device is not None
    assert (device.online, device.battery, device.rssi, device.firmware) == (True, 17, -71, "2.1.0")
    assert device.last_seen_at is not None

    await gateway.ingest.handle(inbound(street.terminal, b'{"v":1,"type":"offline"}'))
    await gateway.writer.flush()
    async with street.sessions() as session:
        device = await session.get(Device, street.terminal)
    assert device is not None and device.online is False


async def test_silent_devices_go_offline_with_an_offline_event(
    street: Street, start_gateway: Start
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    await gateway.ingest.handle(inbound(street.terminal, message("heartbeat", "h1", battery=80)))
    await gateway.writer.flush()
    assert await mark_silent_devices_offline(street.sessions, dt.timedelta(hours=1)) == []
    assert await mark_silent_devices_offline(street.sessions, dt.timedelta(0)) == [street.terminal]
    assert [e.type for e in await events_of(street.sessions, street.terminal)] == ["offline"]


async def test_many_silent_devices_go_offline_a_chunk_a_transaction(
    street: Street, start_gateway: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presence, "SWEEP_CHUNK", 1)
    gateway: GatewayRuntime = await start_gateway()
    for device in (street.terminal, street.monitor, street.door):
        await gateway.ingest.handle(inbound(device, message("heartbeat", "h1", battery=80)))
    await gateway.writer.flush()
    gone = await mark_silent_devices_offline(street.sessions, dt.timedelta(0))
    assert sorted(gone) == sorted([street.terminal, street.monitor, street.door])
    for device in gone:
        assert [e.type for e in await events_of(street.sessions, device)] == ["offline"]
    assert await mark_silent_devices_offline(street.sessions, dt.timedelta(0)) == []


async def test_unbound_terminal_sos_is_an_unidentified_caller_not_a_reject(
    street: Street, start_gateway: Start
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    answers = await gateway.ingest.handle(
        inbound(street.unbound, message("sos", "u1", button="main"))
    )
    assert json.loads(answers[0])["status"] == "received"
    (event,) = await events_of(street.sessions, street.unbound)
    assert (event.type, event.elder_id) == ("sos", None)
    refused = await gateway.ingest.handle(inbound(street.unbound, message("service", "u2")))
    assert json.loads(refused[0])["reason"] == "unknown_device"


def _reason_count(reason: str) -> float:
    return metrics.REJECTS.labels(reason)._value.get()


@pytest.mark.parametrize(
    ("device", "payload", "reason"),
    [
        ("terminal", b"not json at all", "not_json"),
        ("terminal", b"\xff\xfe\x00", "not_utf8"),
        ("terminal", b"[1, 2]", "not_an_object"),
        ("terminal", b"{" + b" " * 5000 + b"}", "too_large"),
        ("terminal", message("reboot", "x1"), "unknown_type"),
        ("terminal", b'{"v":1,"type":"sos","ts":"2026-11-23T14:00:00+08:00","button":"main"}', "missing_field"),
        ("monitor", message("vitals", "x2", spo2=140), "invalid_field"),
        ("monitor", b'{"v":1,"id":"x3","type":"vitals","ts":"2026-11-23T14:00:00","hr":70}', "bad_timestamp"),
        ("monitor", b'{"v":1,"id":"x4","type":"vitals","ts":"2020-01-01T00:00:00+08:00","hr":70}', "clock_skew"),
        ("door", message("sos", "x5", button="main"), "unexpected_type"),
        ("unregistered", message("sos", "x6", button="main"), "unknown_device"),
    ],
    ids=_named_without_payload,
)  # fmt: skip
async def test_every_reject_is_kept_counted_and_answered_and_serving_goes_on(
    street: Street, start_gateway: Start, device: str, payload: bytes, reason: str
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    device_id = getattr(street, device, "864000000000009")
    before = _reason_count(reason)
    answers = await gateway.ingest.handle(inbound(device_id, payload))
    await gateway.writer.flush()
    (kept,) = await rejects_of(street.sessions)
    assert (kept.reason, kept.device_id, kept.size) == (reason, device_id, len(payload))
    assert kept.raw == payload[:8192]
    assert _reason_count(reason) == before + 1
    if device == "unregistered":
        assert answers == []  # an unknown device has no downlink to be told on
    else:
        assert json.loads(answers[0])["status"] == "rejected"
        assert json.loads(answers[0])["reason"] == reason
    assert await events_of(street.sessions, device_id) == []
    # the next device is served as if nothing happened
    ok = await gateway.ingest.handle(
        inbound(street.terminal_2, message("sos", "ok", button="main"))
    )
    assert json.loads(ok[0])["status"] == "received"


async def test_downgrading_below_readings_once_rebuilds_the_older_readings_table(
    street: Street, start_gateway: Start, migrated_url: str
) -> None:
    gateway: GatewayRuntime = await start_gateway()
    for n in range(3):
        await gateway.ingest.handle(inbound(street.monitor, message("vitals", f"v{n}", hr=60 + n)))
    await gateway.ingest.handle(inbound(street.terminal, message("sos", "s1", button="main")))
    await gateway.writer.flush()
    await gateway.stop()
    events = await events_of(street.sessions, street.monitor)

    await asyncio.to_thread(migrate.downgrade, migrated_url, "0007")
    async with street.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT message_id, elder_id, hr, spo2 FROM vital_readings ORDER BY message_id"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (f"v{n}", events[n].elder_id, 60.0 + n, None) for n in range(3)
    ]  # the sos is no reading
    await asyncio.to_thread(migrate.upgrade, migrated_url)
    async with street.sessions() as session:
        assert len(await readings_since(
            session, events[0].elder_id or 0, utcnow() - dt.timedelta(hours=1),
            max_skew=dt.timedelta(days=1),
        )) == 3  # fmt: skip


def _observed(histogram: Any) -> float:
    """How many times a histogram (without labels) has observed so far."""
    return next(s.value for s in histogram.collect()[0].samples if s.name.endswith("_count"))


async def test_an_alarms_wait_for_the_writer_its_write_and_the_batches_holds_are_measured(
    street: Street, start_gateway: Start
) -> None:
    # Where an alarm's time goes in the writes it shares with readings (bench/ingest prints it).
    gateway: GatewayRuntime = await start_gateway()
    waits, writes, batches = (
        _observed(h) for h in (metrics.ALARM_TURN_WAIT, metrics.ALARM_WRITE, metrics.BATCH_WRITE)
    )
    await gateway.ingest.handle(inbound(street.monitor, message("vitals", "v1", hr=70, spo2=97)))
    await gateway.ingest.handle(inbound(street.terminal, message("sos", "m1", button="main")))
    await gateway.writer.flush()
    assert _observed(metrics.ALARM_TURN_WAIT) == waits + 1
    assert _observed(metrics.ALARM_WRITE) == writes + 1
    assert _observed(metrics.BATCH_WRITE) >= batches + 1
