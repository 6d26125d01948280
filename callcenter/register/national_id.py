"""Resident identity numbers (居民身份证号码, GB 11643-1999): check character, birth date, sex."""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"\d{17}[\dX]")


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid(national_id: str) -> bool:
    """True for 18 characters of the right shape whose check character matches."""
    return (
        bool(_SHAPE.fullmatch(national_id)) and check_character(national_id[:17]) == national_id[17]
    )


def birth_date(national_id: str) -> dt.date | None:
    """The birth date encoded in characters 7-14, or None if it is not a real date."""
    try:
        return dt.date(int(national_id[6:10]), int(national_id[10:12]), int(national_id[12:14]))
    except ValueError:
        return None


def is_male(national_id: str) -> bool:
    """The 17th character is odd for men and even for women."""
    return int(national_id[16]) % 2 == 1
