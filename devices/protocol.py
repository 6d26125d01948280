"""The home-terminal wire protocol, version 1 (docs/protocol.md): uplink models, the decoder, downlinks and topics."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from devices.ids import DeviceKind

MAX_PAYLOAD_BYTES = 4096
# The largest MQTT packet a broker takes: sixteen times the largest message. Beyond it every broker
# closes the connection before it holds the packet whole (a 50 MB message once went through
# whole). Between MAX_PAYLOAD_BYTES and this an oversized message reaches the gateway, is
# rejected as `too_large` with an ack the device reads, and is kept for review. The cap is not
# set at the message's own size: a terminal whose client resends its unacknowledged message after
# every reconnect (a persistent session does) would be thrown off by that message for ever, and
# its SOS with it; the chaos suite's poison experiment saw 19 SOS never acked so.
MAX_PACKET_BYTES = 16 * MAX_PAYLOAD_BYTES
DEFAULT_MAX_SKEW = timedelta(hours=24)
WELCOME = b'{"v":1,"type":"welcome"}'
# The close code the gateway uses when a WebSocket hello is refused (docs/protocol.md).
WS_CLOSE_UNAUTHORIZED = 4401

UPLINK_PREFIX = "eldercare/v1/up/"
DOWNLINK_PREFIX = "eldercare/v1/down/"
# A terminal's alarms, on a topic of their own: a broker delivers one subscription's messages in
# order, and an SOS published behind a burst of readings on the uplink topic waited in the
# broker for all of them. The gateway reads this topic on a connection of its own, ahead of
# readings. Added to v1: a terminal that sends its alarms on the uplink topic is served as before.
ALARM_PREFIX = "eldercare/v1/alarm/"

# The device waits for an `ack` on these: a person pressed a key and is told "呼叫已收到".
ACKED_TYPES = frozenset({"sos", "service", "fall", "cancel"})
# What the alarm topic carries: every message a person waits on. `cancel` goes with them so that
# it never overtakes the `sos` it cancels (MQTT keeps one topic's order, not two topics').
ALARM_TYPES = ACKED_TYPES
# Devices must publish these at QoS 1; `offline` is the last will, which the doc also puts at
# QoS 1. Only `heartbeat` may go at QoS 0.
QOS1_TYPES = frozenset(
    {"sos", "service", "cancel", "fall", "vitals", "door", "location", "offline"}
)
# The doc's device table, plus `offline`, which any device's link can produce.
UPLINK_TYPES_BY_KIND: Mapping[DeviceKind, frozenset[str]] = {
    DeviceKind.SOS_TERMINAL: frozenset(
        {"sos", "service", "cancel", "fall", "location", "heartbeat", "offline"}
    ),
    DeviceKind.HEALTH_MONITOR: frozenset({"vitals", "heartbeat", "offline"}),
    DeviceKind.DOOR_SENSOR: frozenset({"door", "heartbeat", "offline"}),
}
# A person is waiting on these, and the gateway acts on arrival time, not the device's ts:
# a terminal whose clock reset after a battery change must still be able to call for help.
# The doc says every valid message is accepted, so the skew check is kept to readings,
# whose ts dates the data itself.
_SKEW_EXEMPT_TYPES = ACKED_TYPES
_MAX_DETAIL_CHARS = 200


class RejectReason(enum.StrEnum):
    """Stable codes for a refused message: the `reason` of a rejected ack, metrics and review."""

    NOT_JSON = "not_json"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_AN_OBJECT = "not_an_object"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    BAD_TIMESTAMP = "bad_timestamp"
    CLOCK_SKEW = "clock_skew"
    # Set by the gateway, not the decoder: they need the registry or the transport.
    UNKNOWN_DEVICE = "unknown_device"
    DEVICE_MISMATCH = "device_mismatch"
    UNEXPECTED_TYPE = "unexpected_type"  # a type this kind of device does not send
    # A message the gateway failed on (a bug it tripped, a row the database refused): kept, so
    # that one message's failure stays with it and never stops the others.
    UNPROCESSABLE = "unprocessable"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused; `detail` names the field and never quotes the payload."""

    reason: RejectReason
    detail: str


# RFC 3339 date-time with a mandatory offset. ASCII digits only (`\d` would take any script's),
# and offsets within ±23:59, which datetime.fromisoformat alone does not enforce.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


def _rfc3339(value: object) -> datetime:
    """An RFC 3339 string with offset (or an aware datetime) as an aware datetime."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise PydanticCustomError("bad_timestamp", "must carry a UTC offset")
        moment = value
    elif not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise PydanticCustomError("bad_timestamp", "must be an RFC 3339 date-time with offset")
    else:
        try:
            moment = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
        except ValueError:
            raise PydanticCustomError("bad_timestamp", "must be a real date and time") from None
    try:
        # 0001-01-01T00:00:00+01:00 is valid RFC 3339 but falls before year 1 in UTC, where
        # the gateway keeps every time, and Python cannot represent that (OverflowError).
        moment.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "bad_timestamp", "must fall within the years 1 to 9999 in UTC"
        ) from None
    return moment


def _storable(value: str) -> str:
    """The string, if a database can keep it: PostgreSQL's text refuses U+0000 (a JSON "\\u0000")."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339)]
# A JSON escape can put a lone surrogate ("\ud800") in a str, which could never be echoed in an
# ack; pydantic refuses those in every length-checked string, so all strings here have a length.
# Every free-text string is recorded, so each one is also _storable.
MessageId = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_storable)]


class _Envelope(BaseModel):
    """Fields every uplink carries; `v` and `type` are checked by decode_uplink before this."""

    # strict: a number sent as a string, or true for 1, is a device bug to surface, not coerce.
    # extra="ignore": the protocol may grow optional fields, and an older gateway must accept them.
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    v: Literal[1] = 1


class _Stamped(_Envelope):
    """An uplink that must say which message it is and when the device sent it."""

    id: MessageId
    ts: Timestamp


class Sos(_Stamped):
    """The red key: one press, one message."""

    type: Literal["sos"] = "sos"
    button: Literal["main", "pendant", "pull_cord"]


class Service(_Stamped):
    """The green key: a non-emergency request that becomes a work order."""

    type: Literal["service"] = "service"
    need: Literal["meal", "housework", "repair", "chat", "other"] | None = None


class Cancel(_Stamped):
    """The elder cancelled an earlier `sos` or `fall`, named by its message id."""

    type: Literal["cancel"] = "cancel"
    ref: MessageId


class Fall(_Stamped):
    """The terminal's fall detector fired."""

    type: Literal["fall"] = "fall"
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False)


# Vital-sign bounds are physically possible, not clinical thresholds: wide enough for any
# reading a living elder and a home cuff, oximeter, glucometer or thermometer can produce,
# narrow enough to refuse garbage such as SpO2 140. Alarm thresholds live in the vital-sign
# rules, never here, so a dangerous but real reading is always accepted.
class Vitals(_Stamped):
    """Any non-empty subset of readings; blood pressure comes as a pair."""

    type: Literal["vitals"] = "vitals"
    bp_sys: int | None = Field(default=None, ge=40, le=300)  # mmHg
    bp_dia: int | None = Field(default=None, ge=20, le=200)  # mmHg
    hr: float | None = Field(default=None, ge=20, le=300, allow_inf_nan=False)  # beats/min
    spo2: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)  # %
    glucose: float | None = Field(default=None, ge=0.5, le=40, allow_inf_nan=False)  # mmol/L
    temp: float | None = Field(default=None, ge=30, le=45, allow_inf_nan=False)  # °C

    @model_validator(mode="after")
    def _readings_make_sense(self) -> Self:
        if (self.bp_sys is None) != (self.bp_dia is None):
            absent, present = ("bp_dia", "bp_sys") if self.bp_dia is None else ("bp_sys", "bp_dia")
            raise PydanticCustomError("reading_missing", f"{absent}: required with {present}")
        if self.bp_sys is not None and self.bp_dia is not None and self.bp_sys <= self.bp_dia:
            raise PydanticCustomError("reading_invalid", "bp_sys: must be above bp_dia")
        if (
            self.bp_sys is None
            and self.hr is None
            and self.spo2 is None
            and self.glucose is None
            and self.temp is None
        ):
            raise PydanticCustomError(
                "reading_missing", "vitals: at least one of bp_sys/bp_dia, hr, spo2, glucose, temp"
            )
        return self


class Door(_Stamped):
    """A door sensor changed state."""

    type: Literal["door"] = "door"
    state: Literal["open", "closed"]


class Location(_Stamped):
    """A WGS-84 position fix of a terminal."""

    type: Literal["location"] = "location"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    acc_m: float = Field(ge=0, allow_inf_nan=False)


class Heartbeat(_Stamped):
    """The device is alive; battery, signal and firmware for maintenance."""

    type: Literal["heartbeat"] = "heartbeat"
    battery: int = Field(ge=0, le=100)
    rssi: int | None = Field(default=None, ge=-150, le=0)  # dBm
    fw: Annotated[str, Field(max_length=32), AfterValidator(_storable)] | None = None


class Offline(_Envelope):
    """The broker's last will (or a dropped WebSocket): the link is gone."""

    type: Literal["offline"] = "offline"
    id: MessageId | None = None
    ts: Timestamp | None = None


UplinkModel = Sos | Service | Cancel | Fall | Vitals | Door | Location | Heartbeat | Offline
Uplink = Annotated[UplinkModel, Field(discriminator="type")]

_MODEL_BY_TYPE: Mapping[str, type[UplinkModel]] = {
    model.model_fields["type"].default: model for model in get_args(UplinkModel)
}
UPLINK_TYPES = frozenset(_MODEL_BY_TYPE)
_KNOWN_TYPES_TEXT = ", ".join(_MODEL_BY_TYPE)


class Hello(BaseModel):
    """The first WebSocket frame: which device is connecting, and its secret."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    v: Literal[1] = 1
    type: Literal["hello"] = "hello"
    device: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_storable)]
    secret: Annotated[
        str, Field(min_length=1, max_length=64, repr=False), AfterValidator(_storable)
    ]


class _DuplicateKeyError(ValueError):
    """A JSON object named the same key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 leaves duplicate names undefined: one reader takes the first "type", another
    # the last. Refusing them keeps the logged raw message meaning what the gateway acted on.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKeyError
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every payload: json.loads with options builds a new one each call.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)


def _parse(payload: bytes) -> Any | Rejection:
    """The JSON value of a payload within the size limit, or why it is not one."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection(
            RejectReason.TOO_LARGE, f"{len(payload)} bytes, at most {MAX_PAYLOAD_BYTES} allowed"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection(RejectReason.NOT_UTF8, f"invalid UTF-8 at byte {error.start}")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        return Rejection(RejectReason.NOT_JSON, f"{error.msg} at character {error.pos}")
    except _DuplicateKeyError:
        return Rejection(RejectReason.NOT_JSON, "an object repeats a key")
    except ValueError as error:  # NaN/Infinity, or an integer beyond Python's digit limit
        return Rejection(RejectReason.NOT_JSON, str(error)[:_MAX_DETAIL_CHARS])
    except RecursionError:
        return Rejection(RejectReason.NOT_JSON, "nested too deeply")


def _load_envelope(payload: bytes) -> dict[str, Any] | Rejection:
    """A version-1 JSON object from the payload, or the first reason it is not one."""
    value = _parse(payload)
    if isinstance(value, Rejection):
        return value
    if not isinstance(value, dict):
        return Rejection(RejectReason.NOT_AN_OBJECT, "a message must be a JSON object")
    if "v" not in value:
        return Rejection(RejectReason.MISSING_FIELD, "v: required")
    version = value["v"]
    # type() rather than isinstance: JSON true is a bool, which Python counts as the int 1.
    if type(version) is not int or version != 1:
        return Rejection(RejectReason.UNSUPPORTED_VERSION, "v: only version 1 is supported")
    return value


def _field_reason(error: Mapping[str, Any]) -> RejectReason:
    if error["type"] in ("missing", "reading_missing"):
        return RejectReason.MISSING_FIELD
    if error["loc"][:1] == ("ts",):
        return RejectReason.BAD_TIMESTAMP
    return RejectReason.INVALID_FIELD


# When a message has several faults the most basic one is reported, then the earliest field.
_PRECEDENCE = {
    RejectReason.MISSING_FIELD: 0,
    RejectReason.BAD_TIMESTAMP: 1,
    RejectReason.INVALID_FIELD: 2,
}


def _describe(error: Mapping[str, Any]) -> str:
    """`field: what is wrong`, in words a device engineer reads, without the input value."""
    kind, ctx, message = error["type"], error.get("ctx") or {}, str(error["msg"])
    if kind == "missing":
        problem = "required"
    elif kind == "less_than_equal":
        problem = f"must be at most {ctx['le']:g}"
    elif kind == "greater_than_equal":
        problem = f"must be at least {ctx['ge']:g}"
    elif kind == "string_too_short":
        problem = "must not be empty"
    elif " should " in message:  # pydantic's "Input should be a valid integer" and kin
        problem = "must " + message.split(" should ", 1)[1]
    else:
        problem = message
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {problem}" if where else problem


def _rejection_from(error: ValidationError) -> Rejection:
    """The one rejection to report for a model's validation errors, chosen deterministically."""
    errors = error.errors(include_url=False, include_input=False)
    first = min(errors, key=lambda item: _PRECEDENCE[_field_reason(item)])
    return Rejection(_field_reason(first), _describe(first)[:_MAX_DETAIL_CHARS])


def decode_uplink(
    payload: bytes, *, now: datetime, max_skew: timedelta = DEFAULT_MAX_SKEW
) -> Uplink | Rejection:
    """The uplink message in a raw MQTT or WebSocket payload, or why it is refused; never raises."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    try:
        return _decode_uplink(payload, now, max_skew)
    except (ArithmeticError, ValueError, RecursionError) as error:
        return _unrepresentable(error)


def _unrepresentable(error: BaseException) -> Rejection:
    # The decoder names every fault it foresees; this is for a value that none of its checks
    # caught and Python could not take (an OverflowError deep in a validator, say).
    return Rejection(
        RejectReason.INVALID_FIELD, f"a value cannot be represented ({type(error).__name__})"
    )


def _decode_uplink(payload: bytes, now: datetime, max_skew: timedelta) -> Uplink | Rejection:
    envelope = _load_envelope(payload)
    if isinstance(envelope, Rejection):
        return envelope
    if "type" not in envelope:
        return Rejection(RejectReason.MISSING_FIELD, "type: required")
    message_type = envelope["type"]
    if not isinstance(message_type, str) or message_type not in _MODEL_BY_TYPE:
        return Rejection(RejectReason.UNKNOWN_TYPE, f"type: must be one of {_KNOWN_TYPES_TEXT}")
    try:
        message = _MODEL_BY_TYPE[message_type].model_validate(envelope)
    except ValidationError as error:
        if message_type in _SKEW_EXEMPT_TYPES and all(
            e["loc"][:1] == ("ts",) for e in error.errors()
        ):
            return _alarm_without_device_time(message_type, envelope, now)
        return _rejection_from(error)
    if message.type not in _SKEW_EXEMPT_TYPES and message.ts is not None:
        skew = abs(message.ts - now)
        if skew > max_skew:
            return Rejection(
                RejectReason.CLOCK_SKEW,
                f"ts: {skew.total_seconds() / 3600:.1f} h from the gateway clock, "
                f"at most {max_skew.total_seconds() / 3600:g} h allowed",
            )
    return message


def _alarm_without_device_time(
    message_type: str, envelope: dict[str, Any], now: datetime
) -> Uplink | Rejection:
    """An alarm whose only fault is its `ts` (missing, malformed, beyond the years 1 to 9999 in
    UTC): taken without it (`ts` None), since the gateway acts on arrival time and a person is
    waiting; a clock that reset or broke must not stop a call for help. Anything else wrong
    with it is still a rejection."""
    try:
        stamped = _MODEL_BY_TYPE[message_type].model_validate({**envelope, "ts": now})
    except ValidationError as error:
        return _rejection_from(error)
    return stamped.model_copy(update={"ts": None})


def decode_hello(text: str) -> Hello | Rejection:
    """The first WebSocket frame as a Hello, or why it is refused; never raises."""
    try:
        return _decode_hello(text)
    except (ArithmeticError, ValueError, RecursionError) as error:
        return _unrepresentable(error)


def _decode_hello(text: str) -> Hello | Rejection:
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError:
        return Rejection(RejectReason.NOT_UTF8, "text is not valid Unicode")
    envelope = _load_envelope(payload)
    if isinstance(envelope, Rejection):
        return envelope
    if "type" not in envelope:
        return Rejection(RejectReason.MISSING_FIELD, "type: required")
    if envelope["type"] != "hello":
        return Rejection(RejectReason.UNKNOWN_TYPE, "type: the first frame must be hello")
    try:
        return Hello.model_validate(envelope)
    except ValidationError as error:
        return _rejection_from(error)


# A field whose value is a credential: the hello's `secret`, and whatever a confused client calls
# one. Its value is never kept, logged or shown (docs/gateway.md, "Rejected messages").
_SECRET_KEY = re.compile(r"secret|pass(?:word|wd)?|pwd|token|credential|auth", re.IGNORECASE)
# The raw-bytes scan, for bytes that are not JSON (cut, broken): each string in turn, and when one
# is a key (a colon follows) of a credential, its value (a string up to its closing quote or the
# end, or anything up to the next , } or ]). Every pattern matches in one pass without
# backtracking across quotes, so the scan is linear in the payload (a device sends what it likes).
_RAW_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_RAW_COLON = re.compile(rb"\s*:\s*")
_RAW_BARE_VALUE = re.compile(rb"[^,}\]]*")
_RAW_SECRET_KEY = re.compile(_SECRET_KEY.pattern.encode(), re.IGNORECASE)
REDACTED = "[redacted]"


def _redact_value(value: Any) -> Any:
    """The value with credential-like members redacted; the very same object if it had none."""
    if isinstance(value, dict):
        items = {
            key: REDACTED if _SECRET_KEY.search(key) else _redact_value(item)
            for key, item in value.items()
        }
        return value if all(items[key] is item for key, item in value.items()) else items
    if isinstance(value, list):
        redacted = [_redact_value(item) for item in value]
        return value if all(a is b for a, b in zip(redacted, value, strict=True)) else redacted
    return value


def redact_secrets(payload: bytes) -> bytes:
    """The payload with the value of every credential-like field replaced by "[redacted]".

    A JSON payload is read as JSON, so that a key spelt with escapes (`"s\\u0065cret"`) is found
    too, and written back compactly when it held one; any other payload (cut, broken, not JSON)
    has such members replaced in its raw bytes. Never raises.
    """
    try:
        value = _DECODER.decode(payload.decode("utf-8"))
        redacted = _redact_value(value)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, a repeated key, too deep
        return _redact_raw(payload)
    if redacted is value:
        return payload
    # ASCII escapes: a lone surrogate ("\\ud800") in the message cannot be written as UTF-8.
    return json.dumps(redacted, separators=(",", ":")).encode("ascii")


def _redact_raw(payload: bytes) -> bytes:
    parts: list[bytes] = []
    kept_to = at = 0
    while (key := _RAW_STRING.search(payload, at)) is not None:
        at = key.end()
        colon = _RAW_COLON.match(payload, at)
        if colon is None or not _RAW_SECRET_KEY.search(key.group()):
            continue
        start = colon.end()
        value = (_RAW_STRING if payload[start : start + 1] == b'"' else _RAW_BARE_VALUE).match(
            payload, start
        )
        assert value is not None  # the bare pattern matches the empty string
        parts += [payload[kept_to:start], b'"' + REDACTED.encode() + b'"']
        kept_to = at = value.end()
    return b"".join([*parts, payload[kept_to:]]) if parts else payload


def message_id_of(payload: bytes) -> str | None:
    """The message's `id` if the payload is a JSON object with a usable one, else None; never raises."""
    # Payloads over the limit are not parsed at all: the limit exists to bound work per message.
    value = _parse(payload)
    if not isinstance(value, dict):
        return None
    message_id = value.get("id")
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= 64:
        return None
    try:
        message_id.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return message_id


def _encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def ack_received(ref: str) -> bytes:
    """The ack telling the device its message `ref` is durably recorded."""
    return _encode({"v": 1, "type": "ack", "ref": ref, "status": "received"})


def ack_rejected(ref: str | None, reason: RejectReason, detail: str) -> bytes:
    """The ack telling the device its message was refused; ref is null when it had no readable id."""
    # ref stays in the object as null so firmware can read every ack the same way.
    ack = {"v": 1, "type": "ack", "ref": ref, "status": "rejected"}
    return _encode({**ack, "reason": reason.value, "detail": detail})


def notice(ref: str, text: str, eta_min: int | None = None) -> bytes:
    """A notice about incident `ref` for the elder, e.g. a worker is on the way."""
    message: dict[str, Any] = {"v": 1, "type": "notice", "ref": ref, "text": text}
    if eta_min is not None:
        message["eta_min"] = eta_min
    return _encode(message)


# One MQTT topic level, nothing a broker reads as a separator or wildcard (MQTT forbids NUL);
# 64 characters is the longest id the protocol accepts anywhere.
_TOPIC_LEVEL = re.compile("[^/+#\x00]{1,64}")


def _topic(prefix: str, device_id: str) -> str:
    if not _TOPIC_LEVEL.fullmatch(device_id):
        raise ValueError("a device id must be one MQTT topic level without wildcards")
    return prefix + device_id


def uplink_topic(device_id: str) -> str:
    """The topic a device publishes on."""
    return _topic(UPLINK_PREFIX, device_id)


def downlink_topic(device_id: str) -> str:
    """The topic a device subscribes to."""
    return _topic(DOWNLINK_PREFIX, device_id)


def alarm_topic(device_id: str) -> str:
    """The topic a terminal publishes its alarms on (ALARM_TYPES)."""
    return _topic(ALARM_PREFIX, device_id)


def topic_for(device_id: str, message_type: str) -> str:
    """The topic a device publishes a message of this type on: alarms on their own."""
    return alarm_topic(device_id) if message_type in ALARM_TYPES else uplink_topic(device_id)


def _device_under(prefix: str, topic: str) -> str | None:
    if not topic.startswith(prefix):
        return None
    device_id = topic[len(prefix) :]
    return device_id if _TOPIC_LEVEL.fullmatch(device_id) else None


def device_from_uplink_topic(topic: str) -> str | None:
    """The device id of an uplink topic, or None for any other topic."""
    return _device_under(UPLINK_PREFIX, topic)


def device_from_alarm_topic(topic: str) -> str | None:
    """The device id of an alarm topic, or None for any other topic."""
    return _device_under(ALARM_PREFIX, topic)


def device_from_topic(topic: str) -> str | None:
    """The device id of a topic a device publishes on (uplink or alarm), or None."""
    return _device_under(UPLINK_PREFIX, topic) or _device_under(ALARM_PREFIX, topic)
