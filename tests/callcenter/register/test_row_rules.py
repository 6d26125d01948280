"""The register's row rules, one defect kind at a time (see tests/data/README.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from callcenter.centres.service import community_codes_by_name
from callcenter.register import columns
from callcenter.register.normalise import RegisterContext, RowVerdict, judge_row
from callcenter.register.schemas import RawRow
from kernel.models import IssueSeverity, LivingSituation, SelfCare, Sex
from tests.factories import AS_OF, create_imei, create_national_id, create_row


def judge(*rows: dict[str, str], as_of: dt.date = AS_OF) -> list[RowVerdict]:
    context = RegisterContext(as_of=as_of, community_codes=community_codes_by_name())
    return [judge_row(RawRow(row_number=n, cells=row), context) for n, row in enumerate(rows, 2)]


def codes(verdict: RowVerdict, severity: IssueSeverity) -> list[tuple[str, str]]:
    return [(i.code, i.column) for i in verdict.issues if i.severity is severity]


def test_a_clean_row_is_imported_as_written() -> None:
    (verdict,) = judge(create_row())
    assert verdict.issues == []
    record = verdict.record
    assert record is not None
    assert record.name == "王秀英"
    assert record.sex is Sex.FEMALE
    assert record.birth_date == dt.date(1950, 3, 7)
    assert record.community_code == "PH03"
    assert record.living_situation is LivingSituation.ALONE
    assert record.self_care is SelfCare.INDEPENDENT
    assert record.conditions == ("糖尿病", "高血压")
    assert (record.lat, record.lon) == (22.6684, 114.1302)


@pytest.mark.parametrize(
    "written",
    [
        "+86 139 1234 5678",
        "139-1234-5678",
        "139 1234 5678",
        "１３９１２３４５６７８",
        "+8613912345678",
    ],
)
def test_phone_numbers_written_differently_are_normalised(written: str) -> None:
    (verdict,) = judge(create_row(**{columns.CONTACT1_PHONE: written, columns.OWN_PHONE: written}))
    assert verdict.issues == []
    assert verdict.record is not None
    assert verdict.record.contacts[0].phone == "13912345678"
    assert verdict.record.phone == "13912345678"


@pytest.mark.parametrize("written", ["1950-03-07", "1950/3/7", "19500307", "1950/03/07"])
def test_birth_dates_written_differently_are_normalised(written: str) -> None:
    (verdict,) = judge(create_row(**{columns.BIRTH_DATE: written}))
    assert verdict.issues == []
    assert verdict.record is not None and verdict.record.birth_date == dt.date(1950, 3, 7)


@pytest.mark.parametrize("written", [" 王秀英", "王 秀英 ", "王\u3000秀英", "\u3000王秀英\u3000"])
def test_names_lose_stray_spaces_including_full_width(written: str) -> None:
    (verdict,) = judge(create_row(**{columns.NAME: written}))
    assert verdict.record is not None and verdict.record.name == "王秀英"


def test_community_without_its_suffix_is_recognised() -> None:
    (verdict,) = judge(create_row(**{columns.COMMUNITY: "禾花"}))
    assert verdict.issues == []
    assert verdict.record is not None and verdict.record.community_code == "PH03"


def test_lower_case_x_check_character_is_accepted() -> None:
    national_id = next(
        nid
        for n in range(1, 400)
        if (nid := create_national_id(dt.date(1948, 1, n % 28 + 1), male=True)).endswith("X")
    )
    (verdict,) = judge(create_row(**{columns.NATIONAL_ID: national_id.lower(), columns.SEX: "男",
                                     columns.BIRTH_DATE: national_id[6:14]}))  # fmt: skip
    assert verdict.issues == []
    assert verdict.record is not None and verdict.record.national_id == national_id


def _with_wrong_check(national_id: str) -> str:
    wrong = "0" if national_id[17] != "0" else "1"
    return national_id[:17] + wrong


@pytest.mark.parametrize(
    ("overrides", "code", "column"),
    [
        ({columns.NAME: "  "}, "name_missing", columns.NAME),
        ({columns.NATIONAL_ID: ""}, "national_id_missing", columns.NATIONAL_ID),
        ({columns.BIRTH_DATE: "1950-03-08"}, "birth_date_mismatch", columns.BIRTH_DATE),
        ({columns.COMMUNITY: "布吉社区"}, "community_not_in_pinghu", columns.COMMUNITY),
        ({columns.LONGITUDE: "113.2644", columns.LATITUDE: "23.1291"}, "position_outside_shenzhen", columns.LONGITUDE),
        ({columns.LONGITUDE: "22.6684", columns.LATITUDE: "114.1302"}, "position_outside_shenzhen", columns.LONGITUDE),
        ({columns.LONGITUDE: "", columns.LATITUDE: ""}, "position_outside_shenzhen", columns.LONGITUDE),
    ],
)  # fmt: skip
def test_rows_that_cannot_be_trusted_as_a_person_are_rejected(
    overrides: dict[str, str], code: str, column: str
) -> None:
    (verdict,) = judge(create_row(**overrides))
    assert verdict.record is None
    assert codes(verdict, IssueSeverity.REJECTED) == [(code, column)]


def test_swapped_position_says_so() -> None:
    (verdict,) = judge(create_row(**{columns.LONGITUDE: "22.6684", columns.LATITUDE: "114.1302"}))
    assert "swapped" in verdict.issues[0].message


def test_wrong_id_check_character_is_rejected() -> None:
    row = create_row()
    (verdict,) = judge(
        create_row(**{columns.NATIONAL_ID: _with_wrong_check(row[columns.NATIONAL_ID])})
    )
    assert verdict.record is None
    assert codes(verdict, IssueSeverity.REJECTED) == [("national_id_check", columns.NATIONAL_ID)]


def test_elder_under_60_is_rejected() -> None:
    birth = dt.date(1967, 6, 1)
    young = create_row(**{columns.NATIONAL_ID: create_national_id(birth, male=False),
                          columns.BIRTH_DATE: birth.isoformat()})  # fmt: skip
    (verdict,) = judge(young)
    assert codes(verdict, IssueSeverity.REJECTED) == [("under_60", columns.NATIONAL_ID)]


def test_sixtieth_birthday_counts_on_the_day() -> None:
    birth = dt.date(1966, 11, 23)
    row = create_row(**{columns.NATIONAL_ID: create_national_id(birth, male=False),
                        columns.BIRTH_DATE: birth.isoformat()})  # fmt: skip
    (on_the_day,) = judge(row, as_of=dt.date(2026, 11, 23))
    (day_before,) = judge(row, as_of=dt.date(2026, 11, 22))
    assert on_the_day.record is not None
    assert day_before.record is None


def test_an_id_already_imported_from_an_earlier_row_is_rejected() -> None:
    first = create_row()
    second = create_row(**{columns.NATIONAL_ID: first[columns.NATIONAL_ID], columns.NAME: "王秀"})
    verdicts = judge(first, second)
    assert verdicts[0].record is not None
    assert codes(verdicts[1], IssueSeverity.REJECTED) == [
        ("national_id_duplicate", columns.NATIONAL_ID)
    ]
    assert verdicts[1].issues[0].row == 3


def test_terminal_already_bound_to_an_earlier_elder_is_left_out_with_a_warning() -> None:
    first = create_row()
    second = create_row(**{columns.SOS_TERMINAL: first[columns.SOS_TERMINAL]})
    verdicts = judge(first, second)
    assert verdicts[1].record is not None
    assert [d.column for d in verdicts[1].record.devices] == [columns.HEALTH_MONITOR]
    assert codes(verdicts[1], IssueSeverity.WARNING) == [
        ("device_already_bound", columns.SOS_TERMINAL)
    ]


def test_terminal_failing_its_check_digit_is_left_out_with_a_warning() -> None:
    imei = create_imei()
    bad = imei[:14] + str((int(imei[14]) + 1) % 10)
    (verdict,) = judge(create_row(**{columns.SOS_TERMINAL: bad}))
    assert verdict.record is not None
    assert all(d.device_id != bad for d in verdict.record.devices)
    assert codes(verdict, IssueSeverity.WARNING) == [("imei_check_digit", columns.SOS_TERMINAL)]


@pytest.mark.parametrize("written", ["无", "0755-8888", "12345678901", "1391234567"])
def test_contact_phone_that_is_not_a_mobile_is_left_out_with_a_warning(written: str) -> None:
    (verdict,) = judge(create_row(**{columns.CONTACT1_PHONE: written}))
    assert verdict.record is not None
    assert verdict.record.contacts[0].phone is None
    assert verdict.record.contacts[0].name == "李明"
    assert codes(verdict, IssueSeverity.WARNING) == [
        ("contact_phone_not_mobile", columns.CONTACT1_PHONE)
    ]


def test_a_landline_is_a_good_own_phone_but_not_a_contact_mobile() -> None:
    (verdict,) = judge(create_row(**{columns.OWN_PHONE: "0755-28881234"}))
    assert verdict.issues == []
    assert verdict.record is not None and verdict.record.phone == "075528881234"


def test_sex_is_taken_from_the_id_number_when_the_column_disagrees() -> None:
    (verdict,) = judge(create_row(**{columns.SEX: "男"}))
    assert verdict.record is not None and verdict.record.sex is Sex.FEMALE
    assert codes(verdict, IssueSeverity.WARNING) == [("sex_mismatch", columns.SEX)]
