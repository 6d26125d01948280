"""The number Twilio dials for each way the register and the console write one (E.164)."""

from __future__ import annotations

import pytest

from callcenter.voice.service import dialable, masked


@pytest.mark.parametrize(
    ("stored", "dialled"),
    [
        ("13800138000", "+8613800138000"),  # a mainland mobile
        ("075528912345", "+8675528912345"),  # a landline with its area code
        ("02088886666", "+862088886666"),  # another city's landline
        ("28912345", "+8675528912345"),  # a local landline: the street's own area code
        ("+86 138-0013-8000", "+8613800138000"),  # written the way people write them
        ("12345", None),  # no phone number
    ],
)
def test_a_stored_number_is_dialled_in_e164(stored: str, dialled: str | None) -> None:
    assert dialable(stored, "0755") == dialled


def test_only_the_last_four_digits_are_shown() -> None:
    assert masked("13800138000") == "****8000"
