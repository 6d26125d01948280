"""Wire protocol v1: every uplink the doc allows is accepted, every bad one refused with a stable reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from devices.ids import DeviceKind
from devices.protocol import (
    ACKED_TYPES,
    ALARM_TYPES,
    DOWNLINK_PREFIX,
    MAX_PAYLOAD_BYTES,
    QOS1_TYPES,
    REDACTED,
    UPLINK_PREFIX,
    UPLINK_TYPES,
    UPLINK_TYPES_BY_KIND,
    WELCOME,
    Cancel,
    Door,
    Fall,
    Heartbeat,
    Hello,
    Location,
    Offline,
    Rejection,
    RejectReason,
    Service,
    Sos,
    Uplink,
    Vitals,
    ack_received,
    ack_rejected,
    alarm_topic,
    decode_hello,
    decode_uplink,
    device_from_alarm_topic,
    device_from_topic,
    device_from_uplink_topic,
    downlink_topic,
    message_id_of,
    notice,
    redact_secrets,
    topic_for,
    uplink_topic,
)

NOW = datetime(2026, 11, 22, 0, 15, 30, tzinfo=UTC)
DOC_EXAMPLE = (
    b'{"v":1,"id":"a7f3c2","ts":"2026-11-22T08:15:30.120+08:00","type":"vitals",'
    b'"bp_sys":182,"bp_dia":112,"hr":96}'
)
# The fields each type needs besides the common ones, with valid values.
TYPE_FIELDS: dict[str, dict[str, Any]] = {
    "sos": {"button": "pendant"},
    "service": {"need": "meal"},
    "cancel": {"ref": "m-41"},
    "fall": {"confidence": 0.93},
    "vitals": {"spo2": 97, "temp": 36.6},
    "door": {"state": "open"},
    "location": {"lat": 30.698, "lon": 121.015, "acc_m": 12.5},
    "heartbeat": {"battery": 80, "rssi": -71, "fw": "1.4.2"},
    "offline": {},
}
MODEL_OF_TYPE: dict[str, type[BaseModel]] = {
    "sos": Sos,
    "service": Service,
    "cancel": Cancel,
    "fall": Fall,
    "vitals": Vitals,
    "door": Door,
    "location": Location,
    "heartbeat": Heartbeat,
    "offline": Offline,
}
HYPOTHESIS = settings(max_examples=300, deadline=None, database=None)


def create_message(message_type: str = "vitals", **overrides: Any) -> dict[str, Any]:
    """A valid uplink of this type as a dict; an override of None removes that field."""
    message = {
        "v": 1,
        "id": "m-42",
        "ts": "2026-11-22T08:15:30.120+08:00",
        "type": message_type,
        **TYPE_FIELDS[message_type],
    }
    message.update(overrides)
    return {key: value for key, value in message.items() if value is not None}


def encode(message: Any) -> bytes:
    # surrogatepass: a lone surrogate in a drawn value goes out as the bytes a broken device would
    # send (not UTF-8), for the decoder to refuse; plain UTF-8 cannot encode it at all.
    return json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")


def decode(message: Any, **options: Any) -> Uplink | Rejection:
    payload = message if isinstance(message, bytes) else encode(message)
    return decode_uplink(payload, now=NOW, **options)


def assert_rejected(result: object, reason: RejectReason, detail_part: str = "") -> None:
    assert isinstance(result, Rejection), result
    assert result.reason is reason, result
    assert detail_part in result.detail


# Accepted messages


def test_doc_example_is_accepted_as_vitals() -> None:
    result = decode(DOC_EXAMPLE)
    assert isinstance(result, Vitals)
    assert (result.id, result.bp_sys, result.bp_dia, result.hr) == ("a7f3c2", 182, 112, 96)
    assert result.ts == datetime(2026, 11, 22, 0, 15, 30, 120000, tzinfo=UTC)
    assert result.spo2 is None


@pytest.mark.parametrize("message_type", sorted(TYPE_FIELDS))
def test_every_uplink_type_of_the_doc_is_accepted(message_type: str) -> None:
    result = decode(create_message(message_type))
    assert type(result) is MODEL_OF_TYPE[message_type]
    assert result.type == message_type
    for field, value in TYPE_FIELDS[message_type].items():
        assert getattr(result, field) == value


def test_uplink_union_picks_the_model_by_type() -> None:
    adapter: TypeAdapter[Uplink] = TypeAdapter(Uplink)
    result = adapter.validate_python(
        {"v": 1, "id": "x", "ts": NOW, "type": "door", "state": "closed"}
    )
    assert isinstance(result, Door)


def test_last_will_with_only_version_and_type_is_accepted() -> None:
    result = decode(b'{"v":1,"type":"offline"}')
    assert isinstance(result, Offline)
    assert result.id is None and result.ts is None


def test_service_without_need_is_accepted() -> None:
    result = decode(create_message("service", need=None))
    assert isinstance(result, Service) and result.need is None


@pytest.mark.parametrize(
    "readings",
    [{"hr": 20}, {"spo2": 0}, {"glucose": 0.5}, {"temp": 45}, {"bp_sys": 300, "bp_dia": 200}],
)
def test_any_single_reading_at_its_bound_is_accepted(readings: dict[str, float]) -> None:
    result = decode(create_message("vitals", **{"spo2": None, "temp": None, **readings}))
    assert isinstance(result, Vitals)
    assert all(getattr(result, name) == value for name, value in readings.items())


def test_unknown_extra_fields_are_ignored() -> None:
    result = decode(create_message("sos", floor=3, meta={"fw": [1, 2]}))
    assert isinstance(result, Sos) and result.button == "pendant"
    assert not hasattr(result, "floor")


@pytest.mark.parametrize(
    "ts", ["2026-11-22T00:15:30Z", "2026-11-22t00:15:30z", "2026-11-22 08:15:30.123456789+08:00"]
)
def test_rfc3339_variants_are_accepted(ts: str) -> None:
    result = decode(create_message("door", ts=ts))
    assert isinstance(result, Door)
    assert abs(result.ts - NOW) < timedelta(seconds=1)


def test_payload_of_exactly_the_limit_is_accepted() -> None:
    message = create_message("heartbeat", padding="")
    message["padding"] = "x" * (MAX_PAYLOAD_BYTES - len(encode(message)))
    assert len(encode(message)) == MAX_PAYLOAD_BYTES
    assert isinstance(decode(message), Heartbeat)


def test_decoded_models_are_frozen() -> None:
    result = decode(create_message("sos"))
    assert isinstance(result, Sos)
    with pytest.raises(ValidationError):
        result.button = "main"  # type: ignore[misc]


# Rejected messages: one concrete payload for each reason


@pytest.mark.parametrize(
    ("payload", "reason", "detail_part"),
    [
        (encode(create_message("vitals", pad="x" * 4096))[:4097], RejectReason.TOO_LARGE, "4097"),
        (b'{"v":1,"type":"offline","x":"\xff"}', RejectReason.NOT_UTF8, "byte 29"),
        (b"", RejectReason.NOT_JSON, ""),
        (b'{"v":1,"type":', RejectReason.NOT_JSON, ""),
        (b'{"v":1,"type":"offline","x":NaN}', RejectReason.NOT_JSON, "NaN"),
        (b'{"v":1,"type":"sos","type":"offline"}', RejectReason.NOT_JSON, "repeats a key"),
        (b"[" * 4000 + b"]" * 96, RejectReason.NOT_JSON, ""),
        (b"[]", RejectReason.NOT_AN_OBJECT, ""),
        (b'"sos"', RejectReason.NOT_AN_OBJECT, ""),
        (b"null", RejectReason.NOT_AN_OBJECT, ""),
    ],
    ids=[
        "4097_bytes",
        "not_utf8",
        "empty",
        "truncated",
        "nan",
        "dup_key",
        "deep",
        "list",
        "str",
        "null",
    ],
)
def test_undecodable_payload_is_rejected(
    payload: bytes, reason: RejectReason, detail_part: str
) -> None:
    assert_rejected(decode(payload), reason, detail_part)


@pytest.mark.parametrize(
    ("overrides", "reason", "detail_part"),
    [
        ({"v": 2}, RejectReason.UNSUPPORTED_VERSION, "v:"),
        ({"v": "1"}, RejectReason.UNSUPPORTED_VERSION, "v:"),
        ({"v": True}, RejectReason.UNSUPPORTED_VERSION, "v:"),
        ({"v": 2, "type": "reboot"}, RejectReason.UNSUPPORTED_VERSION, "v:"),
        ({"type": "reboot"}, RejectReason.UNKNOWN_TYPE, "type:"),
        ({"type": ["sos"]}, RejectReason.UNKNOWN_TYPE, "type:"),
        ({"spo2": 140}, RejectReason.INVALID_FIELD, "spo2: must be at most 100"),
        ({"spo2": 140, "id": None}, RejectReason.MISSING_FIELD, "id: required"),
        ({"bp_sys": 140}, RejectReason.MISSING_FIELD, "bp_dia"),
        ({"bp_dia": 90}, RejectReason.MISSING_FIELD, "bp_sys"),
        ({"bp_sys": 90, "bp_dia": 90}, RejectReason.INVALID_FIELD, "bp_sys"),
        ({"bp_sys": "182", "bp_dia": 112}, RejectReason.INVALID_FIELD, "bp_sys"),
        ({"bp_sys": 182.5, "bp_dia": 112}, RejectReason.INVALID_FIELD, "bp_sys"),
        ({"spo2": None, "temp": None}, RejectReason.MISSING_FIELD, "at least one"),
        ({"hr": 19}, RejectReason.INVALID_FIELD, "hr: must be at least 20"),
        ({"glucose": 0.1}, RejectReason.INVALID_FIELD, "glucose: must be at least 0.5"),
        ({"temp": 45.5}, RejectReason.INVALID_FIELD, "temp: must be at most 45"),
        ({"id": None}, RejectReason.MISSING_FIELD, "id: required"),
        ({"id": ""}, RejectReason.INVALID_FIELD, "id:"),
        ({"id": "x" * 65}, RejectReason.INVALID_FIELD, "id:"),
        ({"id": 42}, RejectReason.INVALID_FIELD, "id:"),
        ({"ts": None}, RejectReason.MISSING_FIELD, "ts: required"),
        ({"ts": "2026-11-22T08:15:30.120"}, RejectReason.BAD_TIMESTAMP, "ts:"),
        ({"ts": 1795392930}, RejectReason.BAD_TIMESTAMP, "ts:"),
        ({"ts": "1795392930"}, RejectReason.BAD_TIMESTAMP, "ts:"),
        ({"ts": "2026-02-30T08:15:30+08:00"}, RejectReason.BAD_TIMESTAMP, "ts:"),
        ({"ts": "2026-11-22T08:15:30+08:99"}, RejectReason.BAD_TIMESTAMP, "ts:"),
        ({"ts": "２０２６-11-22T08:15:30+08:00"}, RejectReason.BAD_TIMESTAMP, "ts:"),
    ],
)
def test_bad_vitals_message_is_rejected_with_its_reason(
    overrides: dict[str, Any], reason: RejectReason, detail_part: str
) -> None:
    message = create_message("vitals", **overrides)
    assert_rejected(decode(message), reason, detail_part)


def test_number_too_large_for_a_float_is_an_invalid_field() -> None:
    payload = encode(create_message("vitals", temp=0)).replace(b'"temp": 0', b'"temp": 1e400')
    assert_rejected(decode(payload), RejectReason.INVALID_FIELD, "temp: must be a finite number")


def test_missing_version_or_type_is_a_missing_field() -> None:
    assert_rejected(decode({"type": "offline"}), RejectReason.MISSING_FIELD, "v:")
    assert_rejected(decode({"v": 1}), RejectReason.MISSING_FIELD, "type:")


@pytest.mark.parametrize(
    ("message_type", "overrides", "reason", "detail_part"),
    [
        ("cancel", {"ref": None}, RejectReason.MISSING_FIELD, "ref: required"),
        ("cancel", {"ref": ""}, RejectReason.INVALID_FIELD, "ref:"),
        ("sos", {"button": None}, RejectReason.MISSING_FIELD, "button: required"),
        ("sos", {"button": "side"}, RejectReason.INVALID_FIELD, "button:"),
        ("service", {"need": "taxi"}, RejectReason.INVALID_FIELD, "need:"),
        ("fall", {"confidence": 1.5}, RejectReason.INVALID_FIELD, "confidence: must be at most 1"),
        ("fall", {"confidence": True}, RejectReason.INVALID_FIELD, "confidence:"),
        ("door", {"state": "ajar"}, RejectReason.INVALID_FIELD, "state:"),
        ("location", {"lat": 91}, RejectReason.INVALID_FIELD, "lat:"),
        ("location", {"lon": -180.5}, RejectReason.INVALID_FIELD, "lon:"),
        ("location", {"acc_m": -1}, RejectReason.INVALID_FIELD, "acc_m:"),
        ("heartbeat", {"battery": 101}, RejectReason.INVALID_FIELD, "battery:"),
        ("heartbeat", {"battery": None}, RejectReason.MISSING_FIELD, "battery:"),
        ("heartbeat", {"rssi": 5}, RejectReason.INVALID_FIELD, "rssi:"),
        ("heartbeat", {"fw": "v" * 33}, RejectReason.INVALID_FIELD, "fw:"),
        ("offline", {"ts": "2026-11-22T08:15:30"}, RejectReason.BAD_TIMESTAMP, "ts:"),
    ],
)
def test_bad_field_of_each_type_is_rejected_with_its_reason(
    message_type: str, overrides: dict[str, Any], reason: RejectReason, detail_part: str
) -> None:
    assert_rejected(decode(create_message(message_type, **overrides)), reason, detail_part)


@pytest.mark.parametrize(
    ("message_type", "field"),
    [("sos", "id"), ("cancel", "ref"), ("heartbeat", "fw"), ("offline", "id")],
)
def test_text_with_a_lone_surrogate_escape_is_rejected(message_type: str, field: str) -> None:
    # Such a string could not be echoed back in an ack: it has no UTF-8 encoding.
    payload = encode(create_message(message_type, **{field: "SURROGATE"}))
    payload = payload.replace(b'"SURROGATE"', b'"\\ud800"')
    assert_rejected(decode(payload), RejectReason.INVALID_FIELD, f"{field}:")


@pytest.mark.parametrize(
    ("message_type", "field"),
    [("sos", "id"), ("cancel", "ref"), ("heartbeat", "fw"), ("offline", "id")],
)
def test_text_with_a_nul_character_is_rejected(message_type: str, field: str) -> None:
    # PostgreSQL's text cannot hold U+0000: accepted, the message could never be recorded.
    message = create_message(message_type, **{field: "a\u0000b"})
    assert_rejected(decode(message), RejectReason.INVALID_FIELD, f"{field}: must not contain")


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("message_type", ["vitals", "offline", "location"])
def test_timestamp_beyond_the_years_1_to_9999_in_utc_is_a_bad_timestamp(
    message_type: str, ts: str
) -> None:
    # Valid RFC 3339, but in UTC (where every time is recorded) a year Python cannot represent.
    assert_rejected(
        decode(create_message(message_type, ts=ts)), RejectReason.BAD_TIMESTAMP, "years 1 to 9999"
    )


@pytest.mark.parametrize(
    "ts", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "yesterday", 17, None]
)
@pytest.mark.parametrize("message_type", ["sos", "fall", "service", "cancel"])
def test_an_alarm_whose_only_fault_is_its_ts_is_taken_without_it(
    message_type: str, ts: object
) -> None:
    # A person is waiting, and the gateway acts on arrival time: a broken clock must not stop a
    # call for help (as a skewed one does not).
    message = create_message(message_type)
    if ts is None:
        del message["ts"]
    else:
        message["ts"] = ts
    taken = decode(message)
    assert not isinstance(taken, Rejection), taken
    assert (taken.type, taken.ts) == (message_type, None)


def test_an_alarm_with_a_bad_ts_and_another_fault_is_still_rejected() -> None:
    message = create_message("sos", ts="0001-01-01T00:00:00+01:00", button="elbow")
    assert isinstance(decode(message), Rejection)


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00"])
def test_timestamp_at_the_first_representable_moment_is_accepted(ts: str) -> None:
    assert isinstance(decode(create_message("sos", ts=ts)), Sos)


@pytest.mark.parametrize("offset", [timedelta(hours=25), -timedelta(hours=25)])
def test_reading_from_a_device_clock_off_by_more_than_a_day_is_rejected(offset: timedelta) -> None:
    message = create_message("vitals", ts=(NOW + offset).isoformat())
    assert_rejected(decode(message), RejectReason.CLOCK_SKEW, "ts:")


def test_clock_skew_limit_is_the_callers() -> None:
    message = create_message("heartbeat", ts=(NOW + timedelta(minutes=10)).isoformat())
    assert isinstance(decode(message), Heartbeat)
    assert_rejected(decode(message, max_skew=timedelta(minutes=5)), RejectReason.CLOCK_SKEW)


@pytest.mark.parametrize("message_type", sorted(ACKED_TYPES))
def test_call_from_a_device_with_a_wrong_clock_is_still_accepted(message_type: str) -> None:
    message = create_message(message_type, ts="2000-01-01T00:00:00+08:00")
    assert type(decode(message)) is MODEL_OF_TYPE[message_type]


def test_last_will_is_clock_checked_only_when_it_has_a_ts() -> None:
    stale = create_message("offline", ts="2000-01-01T00:00:00Z")
    assert_rejected(decode(stale), RejectReason.CLOCK_SKEW)
    assert isinstance(decode(create_message("offline", ts=None)), Offline)


def test_rejection_detail_never_quotes_the_payload() -> None:
    marker = "ZZ-MARKER-ZZ"
    for message in (
        create_message("sos", button=marker),
        create_message("sos", type=marker),
        create_message("vitals", ts=marker),
        create_message("sos", id=marker * 10),
    ):
        result = decode(message)
        assert isinstance(result, Rejection) and marker not in result.detail


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decode_uplink(DOC_EXAMPLE, now=datetime(2026, 11, 22))


# WebSocket hello


def test_hello_is_decoded_and_its_secret_kept_out_of_repr() -> None:
    result = decode_hello('{"v":1,"type":"hello","device":"BP0000000001","secret":"s3cr3t"}')
    assert isinstance(result, Hello)
    assert (result.device, result.secret) == ("BP0000000001", "s3cr3t")
    assert "s3cr3t" not in repr(result)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"v":1,"type":"hello","device":"BP0000000001"}', RejectReason.MISSING_FIELD),
        ('{"v":1,"type":"hello","device":"","secret":"s"}', RejectReason.INVALID_FIELD),
        (
            '{"v":1,"type":"hello","device":"d","secret":"' + "s" * 65 + '"}',
            RejectReason.INVALID_FIELD,
        ),
        ('{"v":1,"type":"sos","device":"d","secret":"s"}', RejectReason.UNKNOWN_TYPE),
        ('{"v":2,"type":"hello","device":"d","secret":"s"}', RejectReason.UNSUPPORTED_VERSION),
        ("hello", RejectReason.NOT_JSON),
        ("\ud800", RejectReason.NOT_UTF8),
        ("[]", RejectReason.NOT_AN_OBJECT),
        ('{"v":1,"type":"hello","device":"\\ud800","secret":"s"}', RejectReason.INVALID_FIELD),
        ('{"v":1,"type":"hello","device":"d","secret":"\\udfff"}', RejectReason.INVALID_FIELD),
    ],
)
def test_bad_hello_is_rejected_with_its_reason(text: str, reason: RejectReason) -> None:
    assert_rejected(decode_hello(text), reason)


@pytest.mark.parametrize("field", ["device", "secret"])
def test_hello_with_a_nul_character_is_rejected(field: str) -> None:
    # The device id is looked up and a refused one kept: PostgreSQL's text cannot hold U+0000.
    hello = {"v": 1, "type": "hello", "device": "BP0000000001", "secret": "s3cr3t"}
    result = decode_hello(json.dumps({**hello, field: "a\u0000"}))
    assert_rejected(result, RejectReason.INVALID_FIELD, f"{field}: must not contain")


def test_welcome_frame_is_exact() -> None:
    assert WELCOME == b'{"v":1,"type":"welcome"}'


# Downlinks


def test_received_ack_bytes_are_exact() -> None:
    assert ack_received("a7f3c2") == b'{"v":1,"type":"ack","ref":"a7f3c2","status":"received"}'


def test_rejected_ack_bytes_are_exact_with_and_without_ref() -> None:
    assert ack_rejected("a7f3c2", RejectReason.INVALID_FIELD, "spo2: must be at most 100") == (
        b'{"v":1,"type":"ack","ref":"a7f3c2","status":"rejected",'
        b'"reason":"invalid_field","detail":"spo2: must be at most 100"}'
    )
    assert ack_rejected(None, RejectReason.NOT_JSON, "x") == (
        b'{"v":1,"type":"ack","ref":null,"status":"rejected","reason":"not_json","detail":"x"}'
    )


def test_notice_bytes_are_exact_utf8_with_optional_eta() -> None:
    assert notice("INC-7", "社工正在赶来", eta_min=8) == (
        '{"v":1,"type":"notice","ref":"INC-7","text":"社工正在赶来","eta_min":8}'.encode()
    )
    assert (
        notice("INC-7", "已结束")
        == '{"v":1,"type":"notice","ref":"INC-7","text":"已结束"}'.encode()
    )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (encode(create_message("vitals", spo2=140)), "m-42"),
        (b'{"id":"abc","v":9}', "abc"),
        (b'{"id":42}', None),
        (b'{"id":""}', None),
        (b'{"id":"\\udc00"}', None),
        (b'["id"]', None),
        (b"\xff\xfe", None),
        (b'{"id":"abc","pad":"' + b"x" * 4096 + b'"}', None),
    ],
)
def test_message_id_is_read_best_effort_for_a_rejected_ack(
    payload: bytes, expected: str | None
) -> None:
    assert message_id_of(payload) == expected


# Types, QoS, kinds


def test_ack_and_qos_sets_follow_the_doc() -> None:
    assert {"sos", "service", "fall", "cancel"} == ACKED_TYPES
    assert {"heartbeat"} == UPLINK_TYPES - QOS1_TYPES
    assert set(MODEL_OF_TYPE) == UPLINK_TYPES


def test_each_device_kind_sends_only_what_the_doc_lists() -> None:
    assert set(UPLINK_TYPES_BY_KIND) == set(DeviceKind)
    assert UPLINK_TYPES_BY_KIND[DeviceKind.HEALTH_MONITOR] == {"vitals", "heartbeat", "offline"}
    assert UPLINK_TYPES_BY_KIND[DeviceKind.DOOR_SENSOR] == {"door", "heartbeat", "offline"}
    assert "sos" in UPLINK_TYPES_BY_KIND[DeviceKind.SOS_TERMINAL]
    assert "vitals" not in UPLINK_TYPES_BY_KIND[DeviceKind.SOS_TERMINAL]


# Topics


def test_topics_are_built_and_parsed_for_a_device() -> None:
    assert uplink_topic("864500000000017") == "eldercare/v1/up/864500000000017"
    assert downlink_topic("MC0000000001") == "eldercare/v1/down/MC0000000001"
    assert UPLINK_PREFIX == "eldercare/v1/up/" and DOWNLINK_PREFIX == "eldercare/v1/down/"
    assert device_from_uplink_topic(uplink_topic("BP0000000001")) == "BP0000000001"


def test_alarms_have_a_topic_of_their_own_and_every_other_message_the_uplink() -> None:
    terminal = "864500000000017"
    assert alarm_topic(terminal) == "eldercare/v1/alarm/864500000000017"
    assert ALARM_TYPES == {"sos", "fall", "cancel", "service"} == ACKED_TYPES
    for message_type in UPLINK_TYPES:
        expected = alarm_topic if message_type in ALARM_TYPES else uplink_topic
        assert topic_for(terminal, message_type) == expected(terminal)
    assert device_from_alarm_topic(alarm_topic(terminal)) == terminal
    assert device_from_topic(alarm_topic(terminal)) == terminal
    assert device_from_topic(uplink_topic(terminal)) == terminal
    # Each parser knows its own topic only; nobody names a device by its downlink.
    assert device_from_uplink_topic(alarm_topic(terminal)) is None
    assert device_from_alarm_topic(uplink_topic(terminal)) is None
    assert device_from_topic(downlink_topic(terminal)) is None


@pytest.mark.parametrize(
    "topic",
    [
        "eldercare/v1/up/+",
        "eldercare/v1/up/#",
        "eldercare/v1/up/a/b",
        "eldercare/v1/up/",
        "eldercare/v1/up//",
        "eldercare/v1/up/a\x00",
        "eldercare/v1/up/" + "9" * 65,
        "eldercare/v1/down/BP0000000001",
        "eldercare/v2/up/BP0000000001",
        "/eldercare/v1/up/BP0000000001",
        "Eldercare/v1/up/BP0000000001",
        "eldercare/v1/upBP0000000001",
    ],
)
def test_malicious_or_foreign_topic_names_no_device(topic: str) -> None:
    assert device_from_uplink_topic(topic) is None
    alarm = topic.replace("/up", "/alarm", 1)
    assert device_from_alarm_topic(alarm) is None and device_from_topic(alarm) is None


@pytest.mark.parametrize("device_id", ["", "a/b", "+", "#", "x" * 65])
def test_topic_is_not_built_for_a_device_id_that_would_escape_its_level(device_id: str) -> None:
    with pytest.raises(ValueError):
        uplink_topic(device_id)
    with pytest.raises(ValueError):
        alarm_topic(device_id)
    with pytest.raises(ValueError):
        downlink_topic(device_id)


# Properties: the decoder answers every input, never raises


def assert_answered(result: Uplink | Rejection) -> None:
    if isinstance(result, Rejection):
        assert isinstance(result.reason, RejectReason) and 0 < len(result.detail) <= 200
        return
    assert type(result) is MODEL_OF_TYPE[result.type]
    if result.id is not None:
        assert ack_received(result.id)  # whatever was accepted can be acknowledged
    # ... and recorded: its time in UTC, its text without NUL (which PostgreSQL's text refuses).
    if result.ts is not None:
        result.ts.astimezone(UTC)
    assert not any("\x00" in value for value in result.model_dump().values() if type(value) is str)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
ALL_FIELDS = {name for model in MODEL_OF_TYPE.values() for name in model.model_fields}
FIELD_NAMES = ALL_FIELDS - {"v", "type"}
# Objects that reach model validation: right envelope, arbitrary field values.
envelopes = st.builds(
    lambda message_type, fields: {"v": 1, "type": message_type, **fields},
    st.sampled_from(sorted(UPLINK_TYPES)),
    st.dictionaries(
        st.sampled_from(sorted(FIELD_NAMES)),
        json_values,
        max_size=6,
    ),
)


@HYPOTHESIS
@given(st.binary(max_size=MAX_PAYLOAD_BYTES + 8))
def test_decoder_answers_arbitrary_bytes(payload: bytes) -> None:
    assert_answered(decode_uplink(payload, now=NOW))
    message_id_of(payload)


@HYPOTHESIS
@given(json_values | envelopes)
def test_decoder_answers_arbitrary_json(value: Any) -> None:
    payload = json.dumps(value).encode()
    assert_answered(decode_uplink(payload, now=NOW))
    result = message_id_of(payload)
    assert result is None or ack_rejected(result, RejectReason.NOT_JSON, "x")


@HYPOTHESIS
@given(st.sampled_from(sorted(UPLINK_TYPES)), st.data())
def test_decoder_answers_mutated_valid_messages(message_type: str, data: st.DataObject) -> None:
    message = create_message(message_type)
    key = data.draw(st.sampled_from([*message, "extra"]))
    if data.draw(st.booleans()):
        message.pop(key, None)
    else:
        message[key] = data.draw(json_values)
    payload = bytearray(encode(message))
    for _ in range(data.draw(st.integers(0, 3))):
        position = data.draw(st.integers(0, len(payload)))
        payload[position : position + data.draw(st.integers(0, 2))] = data.draw(
            st.binary(max_size=2)
        )
    assert_answered(decode_uplink(bytes(payload), now=NOW))


# Every offset RFC 3339 allows; with years 1 and 9999 some of these are beyond Python in UTC.
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@HYPOTHESIS
@given(
    st.sampled_from(sorted(UPLINK_TYPES)),
    st.one_of(
        st.datetimes(max_value=datetime(1, 1, 2), timezones=offsets),
        st.datetimes(min_value=datetime(9999, 12, 30), timezones=offsets),
        st.datetimes(timezones=offsets),
    ),
)
def test_decoder_answers_any_rfc3339_timestamp(message_type: str, ts: datetime) -> None:
    assert_answered(decode(create_message(message_type, ts=ts.isoformat())))


@HYPOTHESIS
@given(st.text(st.characters(exclude_categories=()), max_size=200) | json_values.map(json.dumps))
def test_hello_decoder_answers_arbitrary_text(text: str) -> None:
    result = decode_hello(text)
    assert isinstance(result, (Hello, Rejection))


@HYPOTHESIS
@given(
    st.integers(41, 300).flatmap(
        lambda sys: st.tuples(st.just(sys), st.integers(20, min(sys - 1, 200)))
    ),
    st.floats(0, 100),
    st.datetimes(
        NOW.replace(tzinfo=None) - timedelta(hours=23),
        NOW.replace(tzinfo=None) + timedelta(hours=23),
        timezones=st.just(UTC),
    ),
)
def test_any_physically_possible_reading_round_trips(
    pressure: tuple[int, int], spo2: float, ts: datetime
) -> None:
    sent = Vitals(id="r", ts=ts, bp_sys=pressure[0], bp_dia=pressure[1], spo2=spo2)
    assert decode(sent.model_dump_json().encode()) == sent


@pytest.mark.parametrize(
    "raw",
    [
        b'{"v":2,"type":"hello","device":"X","secret":"s3cr3t-value"}',
        b'{"v":1,"type":"hello","secret":"s3cr3t-value","secret":"s3cr3t-value"}',
        b'{"v":1,"type":"hello","device":"X","secret":"s3cr3t-val',  # cut
        b'{"v":1,"s\\u0065cret":"s3cr3t-value"}',  # a key spelt with an escape
        b'{"v":1,"Password": "s3cr3t-value", "x": 1}',
        b'\xff{"auth_token":"s3cr3t-value"}',  # not UTF-8
        b'[{"nested":{"token":"s3cr3t-value"}}]',
        # A lone surrogate, which JSON may escape and UTF-8 cannot hold: this raised, and the
        # WebSocket frame carrying it was never answered.
        b'{"secret":"s3cr3t-value","note":"\\ud800"}',
        b'[{"a":"\\udfff"},{"password":"s3cr3t-value"}]',
        # Nested nearly as deep as json decodes: walking it raised RecursionError.
        b'{"secret":"s3cr3t-value","n":' + b"[" * 980 + b"]" * 980 + b"}",
    ],
)
def test_redact_secrets_leaves_no_credential_in_any_payload(raw: bytes) -> None:
    redacted = redact_secrets(raw)
    assert b"s3cr3t-val" not in redacted
    assert REDACTED.encode() in redacted


def test_redact_secrets_leaves_a_message_without_credentials_as_it_came() -> None:
    raw = b'{"v":1, "id":"a1","type":"sos","button":"main"}'
    assert redact_secrets(raw) is raw
    assert redact_secrets(b"not json at all") == b"not json at all"


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 990 + b"]" * 990,  # as deep as the decoder takes: a walk of it may not be
        b'{"secret":"s3cr3t-value","x":"\\ud800"}',  # a lone surrogate, not UTF-8 writable
        b'"' + b"secret" * 1400,  # a quote and no end
        b'{"' + b"\\" * 4000,
    ],
)
def test_redact_secrets_never_raises(raw: bytes) -> None:
    assert b"s3cr3t-val" not in redact_secrets(raw)
