"""The synthetic register: deterministic, in the street office's export format, every row valid."""

from __future__ import annotations

import csv
import datetime
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import openpyxl
import pytest

from callcenter.register import columns, national_id
from callcenter.register.synthetic import write_synthetic_register
from devices.ids import is_valid_imei

REAL_EXPORT = Path("/work/shared/data/pinghu_elders.csv")
AS_OF = datetime.date(2026, 11, 23)
MOBILE = re.compile(r"1[3-9]\d{9}")
ADDRESS = re.compile(r"深圳市龙岗区平湖街道(?P<community>.+?社区)\S+?\d+号\S+?\d+栋\d{3,4}")
COUNT = 2_000


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file))


def _communities() -> dict[str, tuple[float, float]]:
    text = resources.files("callcenter.centres").joinpath("communities.json").read_text("utf-8")
    return {c["name"]: (c["lat"], c["lon"]) for c in json.loads(text)["communities"]}


def _age(birth: datetime.date, as_of: datetime.date) -> int:
    return as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))


def _km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat1 - lat2) * 111.32
    dx = (lon1 - lon2) * 111.32 * math.cos(math.radians(lat2))
    return math.hypot(dx, dy)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    path = tmp_path_factory.mktemp("register") / "elders.csv"
    write_synthetic_register(path, COUNT, as_of=AS_OF)
    header, *rows = _read_csv(path)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_same_seed_and_date_write_a_byte_identical_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_synthetic_register(first, 300, seed=7, as_of=AS_OF)
    write_synthetic_register(second, 300, seed=7, as_of=AS_OF)
    assert first.read_bytes() == second.read_bytes()


def test_another_seed_writes_other_people_not_just_other_names(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_synthetic_register(first, 300, seed=7, as_of=AS_OF)
    write_synthetic_register(second, 300, seed=8, as_of=AS_OF)
    assert first.read_bytes() != second.read_bytes()
    id_column = columns.HEADERS.index(columns.NATIONAL_ID)
    first_ids = {row[id_column] for row in _read_csv(first)[1:]}
    second_ids = {row[id_column] for row in _read_csv(second)[1:]}
    assert first_ids.isdisjoint(second_ids)


def test_header_bom_and_crlf_match_the_street_office_export(tmp_path: Path) -> None:
    path = tmp_path / "elders.csv"
    write_synthetic_register(path, 50, as_of=AS_OF)
    raw = path.read_bytes()
    expected_header = b"\xef\xbb\xbf" + ",".join(columns.HEADERS).encode() + b"\r\n"
    if REAL_EXPORT.exists():
        with REAL_EXPORT.open("rb") as real:
            expected_header = real.readline()
    assert raw.startswith(expected_header)
    assert raw.count(b"\n") == raw.count(b"\r\n") == 51
    assert raw.endswith(b"\r\n")


def test_default_count_is_the_real_registers_elders_with_no_id_drawn_twice(tmp_path: Path) -> None:
    path = tmp_path / "elders.csv"
    write_synthetic_register(path, as_of=AS_OF)
    header, *rows = _read_csv(path)
    assert len(rows) == 16_884
    # At this size a few draws repeat an earlier ID number, so this checks they were redrawn.
    ids = [row[header.index(columns.NATIONAL_ID)] for row in rows]
    assert len(set(ids)) == len(ids)


def test_rows_are_numbered_from_one_with_every_column_filled_as_the_office_does(
    records: list[dict[str, str]],
) -> None:
    assert [r[columns.SERIAL] for r in records] == [str(n) for n in range(1, COUNT + 1)]
    assert all(len(r) == len(columns.HEADERS) for r in records)
    assert {r[columns.REMARKS] for r in records} == {""}
    assert all(r[columns.NAME] for r in records)
    assert {r[columns.LIVING] for r in records} <= set(columns.LIVING_SITUATIONS)
    assert {r[columns.SELF_CARE] for r in records} <= set(columns.SELF_CARE_LEVELS)


def test_every_national_id_is_valid_unique_and_agrees_with_birth_date_and_sex(
    records: list[dict[str, str]],
) -> None:
    ids = [r[columns.NATIONAL_ID] for r in records]
    assert len(set(ids)) == len(ids)
    for record, number in zip(records, ids, strict=True):
        assert national_id.is_valid(number), number
        birth = national_id.birth_date(number)
        assert birth is not None
        assert record[columns.BIRTH_DATE] == birth.isoformat()
        assert national_id.is_male(number) == (record[columns.SEX] == "男"), number
        assert 60 <= _age(birth, AS_OF) <= 100, number


def test_ages_stay_between_60_and_100_when_the_export_date_is_a_leap_day(tmp_path: Path) -> None:
    leap_day = datetime.date(2024, 2, 29)
    path = tmp_path / "elders.csv"
    write_synthetic_register(path, COUNT, seed=1, as_of=leap_day)
    header, *rows = _read_csv(path)
    births = [datetime.date.fromisoformat(row[header.index(columns.BIRTH_DATE)]) for row in rows]
    assert all(60 <= _age(birth, leap_day) <= 100 for birth in births)


def test_every_elder_lives_in_a_pinghu_community_near_its_centre(
    records: list[dict[str, str]],
) -> None:
    communities = _communities()
    for record in records:
        community = record[columns.COMMUNITY]
        assert community in communities
        address = ADDRESS.fullmatch(record[columns.ADDRESS])
        assert address is not None, record[columns.ADDRESS]
        assert address["community"] == community
        lat, lon = float(record[columns.LATITUDE]), float(record[columns.LONGITUDE])
        assert _km_between(lat, lon, *communities[community]) <= 1.5
        assert re.fullmatch(r"\d+\.\d{6}", record[columns.LONGITUDE])
        assert re.fullmatch(r"\d+\.\d{6}", record[columns.LATITUDE])


def test_phones_are_mobiles_and_the_first_contact_is_always_there(
    records: list[dict[str, str]],
) -> None:
    relations = {"儿子", "女儿", "孙子", "孙女", "儿媳", "女婿", "配偶", "侄子", "邻居"}
    for record in records:
        assert record[columns.CONTACT1_NAME]
        assert record[columns.CONTACT1_RELATION] in relations
        assert MOBILE.fullmatch(record[columns.CONTACT1_PHONE])
        second = [record[c] for c in (columns.CONTACT2_NAME, columns.CONTACT2_RELATION)]
        if record[columns.CONTACT2_PHONE]:
            assert MOBILE.fullmatch(record[columns.CONTACT2_PHONE])
            assert all(second) and second[1] in relations
        else:
            assert second == ["", ""]
        own = record[columns.OWN_PHONE]
        assert own == "" or MOBILE.fullmatch(own)


def test_device_ids_are_well_formed_and_never_shared(records: list[dict[str, str]]) -> None:
    shapes = {
        columns.SOS_TERMINAL: is_valid_imei,
        columns.HEALTH_MONITOR: lambda v: re.fullmatch(r"BP\d{10}", v) is not None,
        columns.DOOR_SENSOR: lambda v: re.fullmatch(r"MC\d{10}", v) is not None,
    }
    for column, is_well_formed in shapes.items():
        ids = [r[column] for r in records if r[column]]
        assert ids, column
        assert all(is_well_formed(i) for i in ids), column
        assert len(set(ids)) == len(ids), column


def test_proportions_resemble_the_real_register(records: list[dict[str, str]]) -> None:
    def share(predicate: Callable[[dict[str, str]], bool]) -> float:
        return sum(1 for r in records if predicate(r)) / len(records)

    # Real shares: 44% without own phone, 45% with a second contact, 93% with a terminal,
    # 12% living alone, 32% without a chronic condition, 52% women.
    assert share(lambda r: r[columns.OWN_PHONE] == "") == pytest.approx(0.44, abs=0.05)
    assert share(lambda r: r[columns.CONTACT2_PHONE] != "") == pytest.approx(0.45, abs=0.05)
    assert share(lambda r: r[columns.SOS_TERMINAL] != "") == pytest.approx(0.93, abs=0.03)
    assert share(lambda r: r[columns.LIVING] == "独居") == pytest.approx(0.12, abs=0.03)
    assert share(lambda r: r[columns.CONDITIONS] == "") == pytest.approx(0.32, abs=0.05)
    assert share(lambda r: r[columns.SEX] == "女") == pytest.approx(0.52, abs=0.05)
    conditions = Counter(
        c for r in records for c in r[columns.CONDITIONS].split(columns.CONDITION_SEPARATOR) if c
    )
    assert conditions.most_common(1)[0][0] == "高血压"
    assert all(r[columns.DOOR_SENSOR] for r in records if r[columns.LIVING] == "独居")


def test_xlsx_holds_the_same_rows_as_text_cells(tmp_path: Path) -> None:
    csv_path, xlsx_path = tmp_path / "elders.csv", tmp_path / "elders.xlsx"
    write_synthetic_register(csv_path, 500, seed=3, as_of=AS_OF)
    write_synthetic_register(xlsx_path, 500, seed=3, as_of=AS_OF)
    workbook = openpyxl.load_workbook(xlsx_path, read_only=True)
    try:
        cells = list(workbook.worksheets[0].iter_rows())
        values = [["" if c.value is None else c.value for c in row] for row in cells]
        assert all(c.data_type == "s" for row in cells for c in row if c.value is not None)
    finally:
        workbook.close()
    assert values == _read_csv(csv_path)
