"""A deterministic synthetic street register, written exactly as the street office exports it.

The demo and the tests seed from this instead of real people's data; because the file has the
office's format (UTF-8 with BOM, CRLF, Chinese headers, or an .xlsx sheet), the same importer
reads it. Every row is a clean, valid person: the defects of the real export are left out.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

from faker import Faker
from openpyxl import Workbook

from callcenter.register import columns
from callcenter.register.national_id import check_character
from devices.ids import luhn_check_digit

_T = TypeVar("_T")

# The weights and shares below were measured once from the street office's 17,012-row export
# (/work/shared/data/pinghu_elders.csv) and hard-coded, so seeding never needs that file.
_REAL_ROWS = 17_012

# Region prefixes of the ID numbers: Longgang district and Shenzhen itself, then the home
# counties of migrants who retired here (Wuhua, Jieyang Rongcheng, Longhui in Hunan, Xingguo in
# Jiangxi).
_REGION_CODES: dict[str, int] = {
    "440307": 6479,
    "440301": 2082,
    "441424": 2117,
    "445202": 2107,
    "430524": 2132,
    "360732": 2079,
}
# Age in whole years as of the export date, by band. The real file also holds 129 elders aged
# 101-104; they are folded out because the synthetic register caps ages at 100.
_AGE_BANDS: dict[tuple[int, int], int] = {
    (60, 69): 9449,
    (70, 79): 5021,
    (80, 89): 1988,
    (90, 100): 393,
}
_FEMALE_SHARE = 8921 / _REAL_ROWS
_COMMUNITY_WEIGHTS: dict[str, int] = {
    "平湖社区": 1840,
    "白坭坑社区": 1647,
    "辅城坳社区": 1569,
    "凤凰社区": 1515,
    "禾花社区": 1514,
    "山厦社区": 1439,
    "力昌社区": 1335,
    "上木古社区": 1326,
    "鹅公岭社区": 1324,
    "新南社区": 1172,
    "新木社区": 1147,
    "良安田社区": 1001,
}
_LIVING_WEIGHTS: dict[str, int] = {"独居": 2035, "空巢": 5990, "与子女同住": 8416, "其他": 571}
_SELF_CARE_WEIGHTS: dict[str, int] = {"自理": 14458, "半失能": 1844, "失能": 710}
# Each condition occurs independently at its real rate (that reproduces the real file's 0/1/2/3+
# condition counts); they are listed in the order the office writes them.
_CONDITION_RATES: dict[str, float] = {
    name: n / _REAL_ROWS
    for name, n in {
        "高血压": 7645,
        "糖尿病": 3158,
        "冠心病": 1671,
        "慢阻肺": 988,
        "脑卒中后遗症": 691,
        "骨质疏松": 1351,
        "阿尔茨海默症": 793,
    }.items()
}
_OWN_PHONE_SHARE = 9445 / _REAL_ROWS
_CONTACT1_RELATIONS: dict[str, int] = {
    "孙子": 2252,
    "儿子": 2247,
    "女婿": 2220,
    "孙女": 2186,
    "儿媳": 2165,
    "女儿": 2118,
    "配偶": 1320,
    "侄子": 1257,
    "邻居": 1247,
}
_SECOND_CONTACT_SHARE = 7628 / _REAL_ROWS
_CONTACT2_RELATIONS: dict[str, int] = {
    "邻居": 895,
    "配偶": 870,
    "女婿": 864,
    "侄子": 863,
    "孙子": 849,
    "女儿": 842,
    "孙女": 837,
    "儿媳": 808,
    "儿子": 800,
}
_CONTACT1_COLUMNS = (columns.CONTACT1_NAME, columns.CONTACT1_RELATION, columns.CONTACT1_PHONE)
_CONTACT2_COLUMNS = (columns.CONTACT2_NAME, columns.CONTACT2_RELATION, columns.CONTACT2_PHONE)
_MALE_RELATIONS = frozenset({"儿子", "孙子", "女婿", "侄子"})
_FEMALE_RELATIONS = frozenset({"女儿", "孙女", "儿媳"})
# Devices: most elders have an SOS terminal; health monitors go only to elders with a chronic
# condition, and every elder living alone has a door sensor (so do some others).
_SOS_TERMINAL_SHARE = 15839 / _REAL_ROWS
_HEALTH_MONITOR_SHARE_IF_ILL = 5547 / 11585
_DOOR_SENSOR_SHARE_IF_NOT_ALONE = 2164 / 14977

# Address parts as the real file uses them; roads are not tied to communities there either.
_ROADS = (
    "新木路", "辅城路", "华南大道", "禾花路", "山厦路", "鹅公岭路", "力昌路", "良白路",
    "凤凰大道", "平新北路", "富民路", "守珠路", "平湖大街", "上木古路", "平安大道",
)  # fmt: skip
_ESTATE_PREFIXES = "金银北富西安福东南康"
_ESTATE_SUFFIXES = ("公寓", "新村", "家园", "小区", "村", "花园", "苑")

# Homes lie uniformly within this radius of their community's centre (the real file: <=1.34 km).
_SCATTER_KM = 1.3
_KM_PER_DEGREE_LAT = 111.32

# Faker's given names are those of today's young adults, right for the contacts but not for
# people born 1925-1966, so elders get given names from characters common in that generation.
_ELDER_GIVEN_CHARS = {
    "男": "国建华明德福新志庆祥胜亮成永平光耀海金发贵山宝林军顺文荣富生春忠",
    "女": "秀英兰芳慧燕美霞娟莲花萍菊雪琴敏静凤珍梅玉翠素红桂丽春琼月香",
}
_SINGLE_CHAR_GIVEN_SHARE = 5695 / 16841  # elders named with one given character in the real file


@dataclass(frozen=True, slots=True)
class _Community:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class _NamePools:
    """Names drawn once from a seeded Faker, then picked from with the row generator's rng.

    Faker's last_name() rebuilds its surname frequency table on every call (about 30 µs); a
    pool drawn up front keeps Faker's frequencies and makes the whole register twice as fast.
    """

    surnames: tuple[str, ...]
    men: tuple[str, ...]
    women: tuple[str, ...]

    @classmethod
    def from_faker(cls, seed: int) -> _NamePools:
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        return cls(
            surnames=tuple(fake.last_name() for _ in range(4096)),
            men=tuple(fake.first_name_male() for _ in range(1024)),
            women=tuple(fake.first_name_female() for _ in range(1024)),
        )


def write_synthetic_register(
    path: Path,
    count: int = 16_884,
    *,
    seed: int = 20261123,
    as_of: datetime.date | None = None,
) -> None:
    """Write a deterministic synthetic register of `count` elders to `path` (.csv or .xlsx)."""
    rows = _rows(count, seed, as_of or datetime.date.today())
    if path.suffix.lower() == ".xlsx":
        _write_xlsx(path, rows)
    else:
        _write_csv(path, rows)


def _write_csv(path: Path, rows: Iterator[list[str]]) -> None:
    # utf-8-sig writes the BOM; CRLF and minimal quoting are what the office's spreadsheet emits.
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(columns.HEADERS)
        writer.writerows(rows)


def _write_xlsx(path: Path, rows: Iterator[list[str]]) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sheet1")
    sheet.append(list(columns.HEADERS))
    # Values stay str, so openpyxl stores text cells and IDs and phones keep all their digits.
    # Empty values are written as empty text cells, not skipped: this sheet records no dimension,
    # so a read-only reader would otherwise cut every row short at its last filled cell.
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _load_communities() -> list[_Community]:
    text = resources.files("callcenter.centres").joinpath("communities.json").read_text("utf-8")
    return [
        _Community(c["name"], float(c["lat"]), float(c["lon"]))
        for c in json.loads(text)["communities"]
    ]


def _weighted(rng: random.Random, weights: dict[_T, int]) -> _T:
    return rng.choices(tuple(weights), tuple(weights.values()))[0]


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def _birth_date(rng: random.Random, as_of: datetime.date) -> datetime.date:
    youngest, oldest = _weighted(rng, _AGE_BANDS)
    latest = _years_before(as_of, youngest)
    earliest = _years_before(as_of, oldest + 1) + datetime.timedelta(days=1)
    return earliest + datetime.timedelta(days=rng.randrange((latest - earliest).days + 1))


def _national_id(rng: random.Random, birth: datetime.date, male: bool, taken: set[str]) -> str:
    while True:
        region = _weighted(rng, _REGION_CODES)
        sex_digit = rng.randrange(1 if male else 0, 10, 2)  # odd for men, even for women
        first17 = f"{region}{birth:%Y%m%d}{rng.randrange(100):02d}{sex_digit}"
        national_id = first17 + check_character(first17)
        if national_id not in taken:
            taken.add(national_id)
            return national_id


def _unique(rng: random.Random, make: Callable[[random.Random], str], taken: set[str]) -> str:
    while True:
        value = make(rng)
        if value not in taken:
            taken.add(value)
            return value


def _imei(rng: random.Random) -> str:
    # 86 opens the type allocation codes of the terminals the street bought.
    body = f"86{rng.randrange(10**12):012d}"
    return f"{body}{luhn_check_digit(body)}"


def _health_monitor_id(rng: random.Random) -> str:
    return f"BP{rng.randrange(10**10):010d}"


def _door_sensor_id(rng: random.Random) -> str:
    return f"MC{rng.randrange(10**10):010d}"


def _mobile(rng: random.Random) -> str:
    return f"1{rng.randint(3, 9)}{rng.randrange(10**9):09d}"


def _elder_name(names: _NamePools, rng: random.Random, sex: str) -> str:
    chars = _ELDER_GIVEN_CHARS[sex]
    given_length = 1 if rng.random() < _SINGLE_CHAR_GIVEN_SHARE else 2
    return rng.choice(names.surnames) + "".join(rng.choice(chars) for _ in range(given_length))


def _contact(names: _NamePools, rng: random.Random, relation: str, elder_male: bool) -> list[str]:
    if relation in _MALE_RELATIONS or (relation == "配偶" and not elder_male):
        given = names.men
    elif relation in _FEMALE_RELATIONS or relation == "配偶":
        given = names.women
    else:
        given = rng.choice((names.men, names.women))
    return [rng.choice(names.surnames) + rng.choice(given), relation, _mobile(rng)]


def _address(rng: random.Random, community: str) -> str:
    estate = rng.choice(_ESTATE_PREFIXES) + rng.choice(_ESTATE_SUFFIXES)
    room = f"{rng.randint(1, 33)}{rng.randint(1, 8):02d}"
    return (
        f"深圳市龙岗区平湖街道{community}{rng.choice(_ROADS)}{rng.randint(1, 399)}号"
        f"{estate}{rng.randint(1, 30)}栋{room}"
    )


def _position(rng: random.Random, centre: _Community) -> tuple[str, str]:
    # sqrt of a uniform radius spreads homes evenly over the disc rather than bunching at its centre
    distance = _SCATTER_KM * math.sqrt(rng.random())
    bearing = rng.uniform(0.0, 2 * math.pi)
    lat = centre.lat + distance * math.cos(bearing) / _KM_PER_DEGREE_LAT
    lon_km_per_degree = _KM_PER_DEGREE_LAT * math.cos(math.radians(centre.lat))
    lon = centre.lon + distance * math.sin(bearing) / lon_km_per_degree
    return f"{lon:.6f}", f"{lat:.6f}"


def _rows(count: int, seed: int, as_of: datetime.date) -> Iterator[list[str]]:
    names = _NamePools.from_faker(seed)
    rng = random.Random(seed)
    communities = _load_communities()
    # A community added to communities.json after the measurement gets an average weight.
    community_weights = [_COMMUNITY_WEIGHTS.get(c.name, 1400) for c in communities]
    ids: set[str] = set()
    imeis: set[str] = set()
    monitors: set[str] = set()
    door_sensors: set[str] = set()

    for serial in range(1, count + 1):
        sex = "女" if rng.random() < _FEMALE_SHARE else "男"
        male = sex == "男"
        birth = _birth_date(rng, as_of)
        community = rng.choices(communities, community_weights)[0]
        lon, lat = _position(rng, community)
        living = _weighted(rng, _LIVING_WEIGHTS)
        conditions = [name for name, rate in _CONDITION_RATES.items() if rng.random() < rate]
        row = {
            columns.SERIAL: str(serial),
            columns.NAME: _elder_name(names, rng, sex),
            columns.SEX: sex,
            columns.NATIONAL_ID: _national_id(rng, birth, male, ids),
            columns.BIRTH_DATE: birth.isoformat(),
            columns.COMMUNITY: community.name,
            columns.ADDRESS: _address(rng, community.name),
            columns.LONGITUDE: lon,
            columns.LATITUDE: lat,
            columns.OWN_PHONE: _mobile(rng) if rng.random() < _OWN_PHONE_SHARE else "",
            columns.LIVING: living,
            columns.CONDITIONS: columns.CONDITION_SEPARATOR.join(conditions),
            columns.SELF_CARE: _weighted(rng, _SELF_CARE_WEIGHTS),
            columns.SOS_TERMINAL: "",
            columns.HEALTH_MONITOR: "",
            columns.DOOR_SENSOR: "",
            columns.REMARKS: "",
        }
        relation = _weighted(rng, _CONTACT1_RELATIONS)
        row.update(zip(_CONTACT1_COLUMNS, _contact(names, rng, relation, male), strict=True))
        if rng.random() < _SECOND_CONTACT_SHARE:
            relation = _weighted(rng, _CONTACT2_RELATIONS)
            row.update(zip(_CONTACT2_COLUMNS, _contact(names, rng, relation, male), strict=True))
        else:
            row.update(dict.fromkeys(_CONTACT2_COLUMNS, ""))
        if rng.random() < _SOS_TERMINAL_SHARE:
            row[columns.SOS_TERMINAL] = _unique(rng, _imei, imeis)
        if conditions and rng.random() < _HEALTH_MONITOR_SHARE_IF_ILL:
            row[columns.HEALTH_MONITOR] = _unique(rng, _health_monitor_id, monitors)
        if living == "独居" or rng.random() < _DOOR_SENSOR_SHARE_IF_NOT_ALONE:
            row[columns.DOOR_SENSOR] = _unique(rng, _door_sensor_id, door_sensors)
        yield [row[header] for header in columns.HEADERS]
