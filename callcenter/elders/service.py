"""The rules of the elders directory: what a search text means, who sees ID numbers, bounds."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from devices.vitals import VITALS, Thresholds, effective_thresholds
from kernel.errors import DomainError
from kernel.models import StaffRole, VitalThreshold

# Supervisors handle complaints and identity checks; admins keep the register: both read IDs whole.
ID_READING_ROLES = frozenset({StaffRole.SUPERVISOR, StaffRole.ADMIN})
# Spaces and dashes people type into a number ("138 0013 8000", "0755-1234").
_NUMBER_NOISE = re.compile(r"[\s\-]")
_DIGITS = re.compile(r"\d+")
_ID_TAIL = re.compile(r"\d*[xX]")


class ThresholdsOutOfOrderError(DomainError):
    """The bounds would leave a band upside down (e.g. a warning above the critical bound)."""

    status_code = 422
    code = "thresholds_out_of_order"


@dataclass(frozen=True, slots=True)
class SearchText:
    """What a search box entry asks for: a name part, or the tail of a phone or ID number."""

    name: str | None = None
    phone_tail: str | None = None
    id_tail: str | None = None


def parse_search(q: str) -> SearchText:
    """Digits are the end of a phone or ID number, digits then X an ID's end; anything else a name."""
    text = q.strip()
    number = _NUMBER_NOISE.sub("", text)
    if _DIGITS.fullmatch(number):
        return SearchText(phone_tail=number, id_tail=number)
    if _ID_TAIL.fullmatch(number):
        return SearchText(id_tail=number.upper())
    return SearchText(name=text)


def mask_national_id(number: str) -> str:
    """440307********123X: the region (first 6) and the last 4, which elders quote on the phone."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "********" + number[-4:]


def mask_phone(number: str | None) -> str | None:
    """138****4321: enough to tell elders apart in a list; the whole number is on the profile."""
    if number is None or len(number) <= 7:
        return number
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def national_id_for(role: StaffRole, number: str) -> str:
    """The ID number as this role may read it: whole for supervisors and admins, else masked."""
    return number if role in ID_READING_ROLES else mask_national_id(number)


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
