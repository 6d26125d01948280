"""What a panel's event codes mean here: Contact ID (SIA DC-05) and SIA (DC-03) codes.

A code is in one of three places: mapped below (an alarm becomes the protocol's `sos` or `fall`,
a user's cancel its `cancel`; a trouble, a restore or a test is kept with the account), a real code of the standard's table
that this call centre does not handle (`unmapped`: a fire or burglary panel must report to a
receiver that does), or no code of the standard at all (`unknown`). The standards' own tables,
which tell the last two apart and name every code, are the library's (siadc09.dc05, .dc03).
"""

from __future__ import annotations

import dataclasses
import enum

from siadc09 import dc03, dc05


class Meaning(enum.StrEnum):
    """What the receiver does with an event."""

    SOS = "sos"
    FALL = "fall"
    CANCEL = "cancel"  # a user cancelled the panel's alarm: the protocol's cancel key
    ALARM_ENDED = "alarm_ended"  # a restore of an alarm: the panel's zone is quiet again
    MAINS_LOST = "mains_lost"
    MAINS_RESTORED = "mains_restored"
    BATTERY_LOW = "battery_low"
    BATTERY_RESTORED = "battery_restored"
    TEST_PASSED = "test_passed"
    TEST_FAILED = "test_failed"


ALARMS = frozenset({Meaning.SOS, Meaning.FALL})
# What goes through the ingest path as a protocol message (recorded, then ACKed): a person waits.
CALLS = ALARMS | {Meaning.CANCEL}


class Unhandled(enum.StrEnum):
    """Why an event is answered DUH (and kept as a reject with this reason)."""

    UNKNOWN = "unknown_code"  # not a code of the standard's table
    UNMAPPED = "unmapped_code"  # a code of the standard this call centre does not take


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One event of a panel's message: its code as sent, the zone or user, and the standard's name."""

    code: str  # Contact ID: qualifier and event code ("1101"); SIA: two letters ("MA")
    zone: int | None
    name: str


# Contact ID qualifiers (DC-05 4.1.2.3). siadc09's own NEWRESTORE says 2; the standard says 3.
NEW_EVENT = "1"
RESTORE = "3"
STATUS_REPORT = "6"  # a condition reported before is still present

# Contact ID event code: (meaning of a new event or status report, meaning of its restore).
_CID: dict[str, tuple[Meaning, Meaning]] = {
    "100": (Meaning.SOS, Meaning.ALARM_ENDED),  # medical
    "101": (Meaning.SOS, Meaning.ALARM_ENDED),  # personal emergency
    "103": (Meaning.FALL, Meaning.ALARM_ENDED),  # fall detected (DC-05-2016)
    "120": (Meaning.SOS, Meaning.ALARM_ENDED),  # panic: at an elder's home, a call for help
    # A user cancelled the alarm reported before. A cancel has no restore; whatever its qualifier
    # it is taken as the cancel key, which never drops an alarm (the call centre calls back).
    "406": (Meaning.CANCEL, Meaning.CANCEL),
    "301": (Meaning.MAINS_LOST, Meaning.MAINS_RESTORED),  # AC loss
    "342": (Meaning.MAINS_LOST, Meaning.MAINS_RESTORED),  # module AC loss
    "302": (Meaning.BATTERY_LOW, Meaning.BATTERY_RESTORED),  # low system battery
    "309": (Meaning.BATTERY_LOW, Meaning.BATTERY_RESTORED),  # battery test failure
    "311": (Meaning.BATTERY_LOW, Meaning.BATTERY_RESTORED),  # battery missing or dead
    "338": (Meaning.BATTERY_LOW, Meaning.BATTERY_RESTORED),  # module low battery
    "384": (Meaning.BATTERY_LOW, Meaning.BATTERY_RESTORED),  # RF (pendant) low battery
    "602": (Meaning.TEST_PASSED, Meaning.TEST_PASSED),  # periodic test report
    "603": (Meaning.TEST_PASSED, Meaning.TEST_PASSED),  # periodic RF transmission
    "307": (Meaning.TEST_FAILED, Meaning.TEST_PASSED),  # self-test failure
    "608": (Meaning.TEST_FAILED, Meaning.TEST_PASSED),  # periodic test, system trouble present
}
# A general alarm is a fall only on a panel that reports its fall detector so (per account).
CID_GENERAL_ALARM = "140"

# SIA (DC-03) event codes.
_SIA: dict[str, Meaning] = {
    "MA": Meaning.SOS,  # medical alarm
    "QA": Meaning.SOS,  # emergency alarm
    "PA": Meaning.SOS,  # panic alarm
    "MH": Meaning.ALARM_ENDED,
    "QH": Meaning.ALARM_ENDED,
    "PH": Meaning.ALARM_ENDED,
    # Cancel report (Contact ID 406's counterpart; "untyped zone cancel", addressed by user). The
    # typed cancels stay unmapped with their alarms: BC burglary, FC fire.
    "OC": Meaning.CANCEL,
    "AT": Meaning.MAINS_LOST,  # AC trouble
    "AR": Meaning.MAINS_RESTORED,
    "YT": Meaning.BATTERY_LOW,  # system battery trouble
    "XT": Meaning.BATTERY_LOW,  # transmitter (pendant) battery trouble
    "YM": Meaning.BATTERY_LOW,  # system battery missing
    "YR": Meaning.BATTERY_RESTORED,
    "XR": Meaning.BATTERY_RESTORED,
    "RP": Meaning.TEST_PASSED,  # automatic test
    "RX": Meaning.TEST_PASSED,  # manual test
    "RY": Meaning.TEST_FAILED,  # test off normal
}
# The SIA counterpart of Contact ID's general alarm: an untyped zone alarm and its restore.
SIA_GENERAL_ALARM = {"UA": Meaning.FALL, "UH": Meaning.ALARM_ENDED}
_SIA_EVENTS = dc03.BLOCK["N"]["block"]


def contact_id(qualifier: str, code: str, *, falls_as_general_alarm: bool) -> Meaning | Unhandled:
    """The meaning of a Contact ID event (qualifier 1, 3 or 6 and a three-digit code)."""
    if qualifier not in (NEW_EVENT, RESTORE, STATUS_REPORT) or code not in dc05.EVENT:
        return Unhandled.UNKNOWN
    if code == CID_GENERAL_ALARM and falls_as_general_alarm:
        return Meaning.ALARM_ENDED if qualifier == RESTORE else Meaning.FALL
    if code not in _CID:
        return Unhandled.UNMAPPED
    raised, restored = _CID[code]
    return restored if qualifier == RESTORE else raised


def contact_id_name(code: str) -> str:
    """The standard's name of a Contact ID event code, or "" for a code it does not list."""
    found = dc05.EVENT.get(code)
    return str(found["name"]) if found else ""


def sia(code: str, *, falls_as_general_alarm: bool) -> Meaning | Unhandled:
    """The meaning of a SIA event code (two letters)."""
    if code not in _SIA_EVENTS:
        return Unhandled.UNKNOWN
    if code in SIA_GENERAL_ALARM and falls_as_general_alarm:
        return SIA_GENERAL_ALARM[code]
    return _SIA.get(code, Unhandled.UNMAPPED)


def sia_name(code: str) -> str:
    """The standard's name of a SIA event code, or "" for a code it does not list."""
    found = _SIA_EVENTS.get(code)
    return str(found["name"]) if found else ""
