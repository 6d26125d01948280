"""Properties of the whole ingest path, for any input: handle never raises, each message has one
outcome (recorded, or kept as a reject) and is acknowledged once, what the decoder accepts the
database records, and the next device's SOS is still recorded and acknowledged.

Driven with arbitrary bytes and with messages of every uplink type whose fields take extreme
values, on SQLite and PostgreSQL (Ingest.handle), through a real Mosquitto with the gateway's
MQTT client, and through the WebSocket endpoint. Example counts are small and the generation is
derandomized, so the run is the same every time and takes seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from devices.protocol import (
    ACKED_TYPES,
    MAX_PAYLOAD_BYTES,
    UPLINK_TYPES,
    Rejection,
    ack_received,
    decode_uplink,
    downlink_topic,
    uplink_topic,
)
from eldercare.app import create_app
from gateway.ingest.schemas import Inbound
from kernel.database import create_engine
from kernel.models import DeviceEvent, RejectedMessage, utcnow
from kernel.settings import Role, Settings
from tests.gateway.conftest import Broker, Sessions, Street, Taker, rejects_of

Start = Callable[..., Any]
MAX_SKEW = dt.timedelta(hours=24)
DELIVERY_S = 10.0
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    # One street, one gateway for all examples: that it carries on is the property.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# Extreme values, each as the JSON text a device might send (so NaN, deep nesting and a lone
# surrogate in raw UTF-8 can be sent as they are).


def as_json(value: Any, *, ascii_only: bool = True) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate: bytes no decoder accepts


TEXTS = st.sampled_from(
    ["", "a" * 64, "a" * 65, "\x00", "a\x00b", "\ud800", "x\udfff", "\u202eSOS\u202c", "مرحبا",
     "🆘" * 64, "\ufeff", "\n", "a" * 3000]
) | st.text(st.characters(exclude_categories=()), max_size=70)  # fmt: skip
NUMBERS = st.sampled_from(
    [0, -1, 2**31, 2**63, -(2**63) - 1, 10**300, 1e308, -1e308, 5e-324, 0.5, 100.0000001,
     float("nan"), float("inf"), float("-inf")]
) | st.one_of(st.integers(), st.floats())  # fmt: skip
# Every offset RFC 3339 allows; with years 1 and 9999 some are beyond Python's datetime in UTC.
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
TIMES = st.one_of(
    st.sampled_from(
        ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z",
         "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59+23:59", "0001-01-01T00:00:00-23:59",
         "2026-02-29T00:00:00Z", "1970-01-01T00:00:00Z", "2026-11-22T08:15:30.1234567890+08:00"]
    ),
    st.datetimes(max_value=dt.datetime(1, 1, 2), timezones=OFFSETS),
    st.datetimes(min_value=dt.datetime(9999, 12, 30), timezones=OFFSETS),
    st.datetimes(timezones=OFFSETS),
).map(lambda ts: ts if isinstance(ts, str) else ts.isoformat())  # fmt: skip
EXTREMES = st.one_of(
    st.tuples(TEXTS, st.booleans()).map(lambda t: as_json(t[0], ascii_only=t[1])),
    NUMBERS.map(as_json),
    TIMES.map(as_json),
    st.sampled_from([b"true", b"null", b"{}", b"[]", b"1e400", b"-1e400", b"-0", b"9" * 400]),
    st.integers(2, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
)
# Valid values of each type's fields; `ts` is added, near the gateway's clock, when drawn.
VALID_FIELDS: dict[str, dict[str, Any]] = {
    "sos": {"button": "pendant"},
    "service": {"need": "meal"},
    "cancel": {"ref": "m-41"},
    "fall": {"confidence": 0.93},
    "vitals": {"bp_sys": 150, "bp_dia": 90, "hr": 80, "spo2": 97, "glucose": 6, "temp": 36.6},
    "door": {"state": "open"},
    "location": {"lat": 30.698, "lon": 121.015, "acc_m": 12.5},
    "heartbeat": {"battery": 80, "rssi": -71, "fw": "1.4.2"},
    "offline": {},
}
ids = itertools.count()


# The extremes most likely to trouble each field, besides any extreme at all.
EXTREMES_FOR = {
    "ts": TIMES.map(as_json),
    "id": st.tuples(TEXTS, st.booleans()).map(lambda t: as_json(t[0], ascii_only=t[1])),
    "ref": st.tuples(TEXTS, st.booleans()).map(lambda t: as_json(t[0], ascii_only=t[1])),
    "fw": st.tuples(TEXTS, st.booleans()).map(lambda t: as_json(t[0], ascii_only=t[1])),
}


@st.composite
def extreme_messages(draw: st.DrawFn) -> bytes:
    """A message of an uplink type with one or two fields at extreme values, perhaps with extra
    fields or a key repeated."""
    message_type = draw(st.sampled_from(sorted(UPLINK_TYPES)))
    skew = draw(st.integers(-23 * 3600, 23 * 3600))
    ts = (utcnow() + dt.timedelta(seconds=skew)).astimezone(draw(OFFSETS)).isoformat()
    fields = {"v": 1, "id": f"x{next(ids)}", "ts": ts, "type": message_type}
    pairs = {
        name: as_json(value) for name, value in {**fields, **VALID_FIELDS[message_type]}.items()
    }
    for name in draw(st.lists(st.sampled_from(sorted(pairs)), min_size=1, max_size=2)):
        pairs[name] = draw(EXTREMES_FOR.get(name, EXTREMES) | EXTREMES)
    more = st.tuples(st.sampled_from(["extra", "id", "ts", "type", "v"]), EXTREMES)
    members = [*pairs.items(), *draw(st.lists(more, max_size=2))]
    return b"{" + b",".join(as_json(name) + b":" + value for name, value in members) + b"}"


ANY_PAYLOAD = st.one_of(
    st.binary(max_size=MAX_PAYLOAD_BYTES + 8), extreme_messages(), extreme_messages()
)


def sender_of(street: Street, payload: bytes) -> str:
    """The street's device that sends this type, so that the message reaches the database."""
    text = payload.decode("utf-8", "replace")
    if '"type":"vitals"' in text:
        return street.monitor
    if '"type":"door"' in text:
        return street.door
    return street.terminal


def expected_answer(payload: bytes) -> str | None:
    """What the device is told: `received` (a call recorded), `rejected`, or None (nothing)."""
    decoded = decode_uplink(payload, now=utcnow(), max_skew=MAX_SKEW)
    if isinstance(decoded, Rejection):
        return "rejected"
    return "received" if decoded.type in ACKED_TYPES else None


async def counts(sessions: Sessions) -> tuple[int, int]:
    """How many events and rejects are recorded."""
    async with sessions() as session:
        events = await session.scalar(select(func.count()).select_from(DeviceEvent))
        rejects = await session.scalar(select(func.count()).select_from(RejectedMessage))
    return events or 0, rejects or 0


async def recorded(sessions: Sessions, device: str, message: Any) -> bool:
    """Whether this device's message id is recorded already."""
    message_id = getattr(message, "id", None)
    if message_id is None:
        return False
    async with sessions() as session:
        query = select(DeviceEvent.id).where(
            DeviceEvent.device_id == device, DeviceEvent.message_id == message_id
        )
        return (await session.scalar(query)) is not None


def sos_with(**fields: Any) -> bytes:
    sos = {"v": 1, "id": "p1", "ts": utcnow().isoformat(), "type": "sos", "button": "main"}
    return json.dumps({**sos, **fields}).encode()


def reading_with(**fields: Any) -> bytes:
    reading = {"v": 1, "id": "r1", "ts": utcnow().isoformat(), "type": "vitals", "hr": 72}
    return json.dumps({**reading, **fields}, separators=(",", ":")).encode()


# Found from outside: each once stopped ingest (an OverflowError in the UTC conversion). An
# alarm is taken without such a ts (a person is waiting); a reading is refused.
POISON = [
    sos_with(id="p1", ts="0001-01-01T00:00:00+01:00"),
    reading_with(ts="9999-12-31T23:59:59-01:00"),
    sos_with(id="a\x00b"),
]


@settings(EXAMPLES, max_examples=100)  # Ingest.handle alone is quick: more of them
@given(payload=ANY_PAYLOAD)
@example(payload=POISON[0])
@example(payload=POISON[1])
@example(payload=POISON[2])
async def test_every_message_has_one_outcome_and_the_next_sos_is_recorded(
    street: Street, taker: Taker, payload: bytes
) -> None:
    device = sender_of(street, payload)
    acknowledged: list[str] = []
    inbound = Inbound(
        "mqtt", device, uplink_topic(device), payload, utcnow(), lambda: acknowledged.append("x")
    )
    decoded = decode_uplink(payload, now=inbound.received_at, max_skew=MAX_SKEW)
    events_before, rejects_before = await counts(street.sessions)
    # Examples share the test's database: a message id drawn twice is a resend, recorded once.
    resent = not isinstance(decoded, Rejection) and await recorded(street.sessions, device, decoded)

    answers = await taker.ingest.handle(inbound)
    await taker.writer.flush()

    events, rejects = await counts(street.sessions)
    assert acknowledged == ["x"]  # the transport's acknowledgement: once, when recorded or kept
    assert [json.loads(answer)["status"] for answer in answers] == (
        [expected] if (expected := expected_answer(payload)) else []
    )
    if isinstance(decoded, Rejection):
        assert (events - events_before, rejects - rejects_before) == (0, 1)
    elif decoded.type == "heartbeat" or resent:
        assert (events, rejects) == (events_before, rejects_before)  # presence only
    else:  # whatever the decoder accepts, the database records
        assert (events - events_before, rejects - rejects_before) == (1, 0)

    sos_id = f"next-{next(ids)}"
    sos = json.dumps(
        {"v": 1, "id": sos_id, "ts": utcnow().isoformat(), "type": "sos", "button": "main"}
    )
    next_inbound = Inbound("mqtt", street.terminal_2, None, sos.encode(), utcnow())
    assert await taker.ingest.handle(next_inbound) == [ack_received(sos_id)]
    assert (await counts(street.sessions))[0] == events + 1


# Through a real Mosquitto, with the gateway's own MQTT client.


def drawn(strategy: st.SearchStrategy[bytes]) -> list[bytes]:
    """The examples EXAMPLES would run, drawn up front: an async test that holds connections
    open across examples cannot be given to Hypothesis (a failure names its payload instead)."""
    found: list[bytes] = []

    @EXAMPLES
    @given(strategy)
    def collect(value: bytes) -> None:
        found.append(value)

    collect()
    return found


@pytest.mark.mosquitto
@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_over_mqtt_any_message_is_answered_once_and_the_next_sos_acknowledged(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    await start_gateway(broker.login())
    devices = (street.terminal, street.monitor, street.door, street.terminal_2)

    def client(device_id: str) -> aiomqtt.Client:
        secret = street.secrets[device_id]
        return aiomqtt.Client("127.0.0.1", broker.port, username=device_id, password=secret)

    async with (
        client(street.terminal) as terminal,
        client(street.monitor) as monitor,
        client(street.door) as door,
        client(street.terminal_2) as other,
    ):
        clients = dict(zip(devices, (terminal, monitor, door, other), strict=True))
        for device_id, device in clients.items():
            await device.subscribe(downlink_topic(device_id), qos=1)
        rejected = 0
        for payload in [*POISON, *drawn(ANY_PAYLOAD)]:
            device_id = sender_of(street, payload)
            expected = expected_answer(payload)
            await clients[device_id].publish(uplink_topic(device_id), payload, qos=1)
            sos_id = f"next-{next(ids)}"
            sos = json.dumps(
                {"v": 1, "id": sos_id, "ts": utcnow().isoformat(), "type": "sos", "button": "main"}
            )
            await other.publish(uplink_topic(street.terminal_2), sos, qos=1)
            async with asyncio.timeout(DELIVERY_S):
                assert (await anext(other.messages)).payload == ack_received(sos_id), payload
                if expected is not None:
                    answer = (await anext(clients[device_id].messages)).payload
                    assert isinstance(answer, bytes)
                    assert json.loads(answer)["status"] == expected, payload
            rejected += expected == "rejected"
        # No second answer to any message, and every refused one kept, once.
        for device in clients.values():
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await anext(device.messages)
    async with asyncio.timeout(DELIVERY_S):
        while len(await rejects_of(street.sessions)) < rejected:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert len(await rejects_of(street.sessions)) == rejected


# Through the WebSocket endpoint of a gateway-only process on the street's database.


@pytest.fixture
def gateway_on_street(street: Street, migrated_url: str, tmp_path: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "app", database_url=migrated_url, role=Role.GATEWAY
    )


def test_over_websocket_any_frame_is_answered_once_and_the_next_sos_acknowledged(
    gateway_on_street: Settings, street: Street
) -> None:
    hello = {"v": 1, "type": "hello"}
    rejected = 0
    with (
        TestClient(create_app(gateway_on_street, mqtt=False)) as app,
        app.websocket_connect("/ws/device") as terminal,
        app.websocket_connect("/ws/device") as monitor,
        app.websocket_connect("/ws/device") as door,
        app.websocket_connect("/ws/device") as other,
    ):
        sockets = {
            street.terminal: terminal,
            street.monitor: monitor,
            street.door: door,
            street.terminal_2: other,
        }
        for device_id, socket in sockets.items():
            socket.send_text(
                json.dumps({**hello, "device": device_id, "secret": street.secrets[device_id]})
            )
            assert json.loads(socket.receive_text())["type"] == "welcome"

        @EXAMPLES
        @given(payload=ANY_PAYLOAD, as_text=st.booleans())
        @example(payload=POISON[0], as_text=True)
        @example(payload=POISON[1], as_text=True)
        @example(payload=POISON[2], as_text=False)
        def one_frame(payload: bytes, as_text: bool) -> None:
            nonlocal rejected
            socket = sockets[sender_of(street, payload)]
            expected = expected_answer(payload)
            if as_text:
                # A text frame is a str: bytes that are not UTF-8 reach the gateway as surrogates.
                socket.send_text(payload.decode("utf-8", "surrogateescape"))
            else:
                socket.send_bytes(payload)
            if expected is not None:
                assert json.loads(socket.receive_text())["status"] == expected
            sos_id = f"next-{next(ids)}"
            sos = {
                "v": 1,
                "id": sos_id,
                "ts": utcnow().isoformat(),
                "type": "sos",
                "button": "main",
            }
            other.send_text(json.dumps(sos))
            assert other.receive_text().encode() == ack_received(sos_id)
            rejected += expected == "rejected"

        one_frame()
        for socket in sockets.values():
            socket.close(code=1000)
    assert asyncio.run(rejects_kept(gateway_on_street.effective_database_url)) == rejected


async def rejects_kept(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(select(func.count()).select_from(RejectedMessage)) or 0
    finally:
        await engine.dispose()
