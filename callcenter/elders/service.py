"""The rules of the elders directory: what a search text means, who sees ID numbers, bounds."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.accounts import permissions
from callcenter.accounts.permissions import Action, Where
from callcenter.accounts.schemas import Actor
from callcenter.elders.schemas import ElderEdit
from devices.vitals import VITALS, Thresholds, effective_thresholds
from kernel.errors import DomainError
from kernel.models import VitalThreshold

# Spaces, dashes and brackets people type into a number ("138 0013 8000", "(0755) 2891-2345").
_NUMBER_NOISE = re.compile(r"[\s\-()（）.]")
_DIGITS = re.compile(r"\d+")
_NATIONAL_ID = re.compile(r"\d{17}[\dxX]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# A whole landline as the register keeps it: 0755 + 7-8 digits, or the 7-8 local digits alone.
_LANDLINE = re.compile(r"(0\d{2,3})?\d{7,8}")

# Searches by a number (ID or phone) per person: 30 in any 10 minutes (one a call at the
# busiest, with room to spare) and 200 in a day (a double shift of calls). They bound how fast
# anyone can confirm guesses of a whole number: an ID whose last 4 digits and age are known
# still leaves thousands of candidates (region and birth day), weeks at this pace, each search
# in the audit log.
NUMBER_SEARCH_LIMITS = ((dt.timedelta(minutes=10), 30), (dt.timedelta(days=1), 200))


class ThresholdsOutOfOrderError(DomainError):
    """The bounds would leave a band upside down (e.g. a warning above the critical bound)."""

    status_code = 422
    code = "thresholds_out_of_order"


class WholeNumberNeededError(DomainError):
    """A number that is not a whole ID or phone number: a part of one would uncover masked digits."""

    status_code = 422
    code = "whole_number_needed"


class TooManyNumberSearchesError(DomainError):
    """Too many searches by ID or phone number for now: search by name, or wait."""

    status_code = 429
    code = "too_many_number_searches"


@dataclass(frozen=True, slots=True)
class SearchText:
    """What a search box entry asks for: a name part, or a whole phone or ID number."""

    name: str | None = None
    phone: str | None = None
    national_id: str | None = None

    @property
    def by(self) -> str:
        """What is searched by, as the audit log says it (never the text)."""
        return "national_id" if self.national_id else "phone" if self.phone else "name"


def _without_country_code(digits: str) -> str:
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def parse_search(q: str) -> SearchText:
    """A whole ID number (X in either case), a whole phone number, or else a part of a name.

    Numbers are matched whole, never by their ends: every digit a search may match beyond
    what a masked listing shows is a digit uncovered (ends of growing length gave a whole ID
    number back in 61 searches). A whole number names one person; the part a mask shows
    (an ID's or a phone's last 4) is a list's business, not a search's.
    """
    text = q.strip()
    number = _without_country_code(_NUMBER_NOISE.sub("", text))
    if _NATIONAL_ID.fullmatch(number):
        return SearchText(national_id=number.upper())
    if _DIGITS.fullmatch(number) and (_MOBILE.fullmatch(number) or _LANDLINE.fullmatch(number)):
        return SearchText(phone=number)
    if _DIGITS.fullmatch(number.rstrip("xX")):
        raise WholeNumberNeededError(
            "search by a whole number: the 18-character ID number, an 11-digit mobile or a "
            "whole landline (or by a part of the name)"
        )
    return SearchText(name=text)


def number_search_wait(searches: Sequence[dt.datetime], now: dt.datetime) -> dt.timedelta | None:
    """How long until one more number search is allowed, given this person's recent ones."""
    for window, limit in NUMBER_SEARCH_LIMITS:
        inside = sorted(at for at in searches if at > now - window)
        if len(inside) >= limit:
            return inside[len(inside) - limit] + window - now
    return None


def mask_national_id(number: str) -> str:
    """**************123X: only the last 4, which elders quote on the phone.

    Not the region: with the birth date (or the age) and the last 4, the region's 6 digits
    would leave a whole number a handful of guesses away.
    """
    if len(number) <= 10:
        return "*" * len(number)
    return "*" * (len(number) - 4) + number[-4:]


def mask_phone(number: str | None) -> str | None:
    """138****4321: enough to tell elders apart in a list; the whole number is on the profile."""
    if number is None or len(number) <= 7:
        return number
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def reads_national_ids(actor: Actor) -> bool:
    """Whether this person reads ID numbers and birth dates whole (supervisors, admins)."""
    return permissions.may(actor, Action.NATIONAL_ID_READ)


def national_id_for(actor: Actor, number: str) -> str:
    """The ID number as this person may read it: whole for supervisors and admins, else masked."""
    return number if reads_national_ids(actor) else mask_national_id(number)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_bounds(vital: str, override: Thresholds) -> None:
    """Refuse an override whose bounds, with the defaults it keeps, are not in rising order.

    Low bounds may equal each other (no low warning band), as may high bounds; a low bound may
    not reach a high one, which would leave the normal or warning range empty.
    """
    bounds = effective_thresholds(vital, {vital: override})
    ladder = [
        (name, value)
        for name in ("critical_low", "warn_low", "warn_high", "critical_high")
        if (value := getattr(bounds, name)) is not None
    ]
    for (low_name, low), (high_name, high) in itertools.pairwise(ladder):
        same_side = low_name.endswith("_low") == high_name.endswith("_low")
        if low > high or (low == high and not same_side):
            raise ThresholdsOutOfOrderError(
                f"{vital}: {_bound(override, low_name, low)} must be below "
                f"{_bound(override, high_name, high)}"
            )


def _bound(override: Thresholds, name: str, value: float) -> str:
    default = " (the default)" if getattr(override, name) is None else ""
    return f"{name} {value:g}{default}"


def threshold_view(
    overrides: Mapping[str, VitalThreshold],
) -> list[tuple[str, Thresholds, VitalThreshold | None]]:
    """Every vital with the bounds in force and the elder's override (None: the defaults)."""
    return [
        (
            vital,
            effective_thresholds(
                vital,
                {
                    vital: Thresholds(
                        row.warn_low, row.warn_high, row.critical_low, row.critical_high
                    )
                }
                if (row := overrides.get(vital)) is not None
                else None,
            ),
            overrides.get(vital),
        )
        for vital in VITALS
    ]


# --- editing an elder's record in the console -------------------------------------------------

# Register fields the console may change: a re-import keeps the console's value while the
# office's file says otherwise, and reports it (callcenter/register/service.py).
CONSOLE_EDITABLE_REGISTER_FIELDS = ("phone", "contacts")


class StaleEditError(DomainError):
    """The elder was changed since the version the edit is based on: reload and edit again."""

    status_code = 409
    code = "stale_edit"


def edits_for(actor: Actor, where: Where) -> list[ElderEdit]:
    """What this person may change on the elder's page there (the console shows only these)."""
    rights: tuple[tuple[ElderEdit, Action], ...] = (
        ("contacts", Action.ELDER_CONTACTS),
        ("home_access", Action.ELDER_HOME_ACCESS),
        ("access_codes", Action.ELDER_ACCESS_CODES),
        ("medical", Action.ELDER_MEDICAL),
        ("away", Action.ELDER_AWAY),
        ("thresholds", Action.ELDER_THRESHOLD),
        ("life_status", Action.ELDER_LIFE_STATUS),
    )
    return [name for name, action in rights if permissions.may(actor, action, where)]


def marked_as_edited(
    marks: Mapping[str, Any] | None, field: str, *, actor: str, at: dt.datetime
) -> dict[str, Any]:
    """The console-edit marks with `field` changed now by `actor`."""
    return {**(marks or {}), field: {"at": at.isoformat(), "by": actor}}


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The names of the fields whose value differs (what the audit log says, never the values)."""
    return sorted(name for name, value in after.items() if before.get(name) != value)
