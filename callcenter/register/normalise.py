"""The register's row rules: normalise what is right but written differently, judge the rest.

A row is rejected when it cannot be trusted as a person (no name, a bad or duplicate ID, a
birth date that disagrees with the ID, under 60, not in Pinghu, a home outside Shenzhen). A
row that is a person with one bad detail is imported without that detail, with a warning.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata

from callcenter.register import columns, national_id
from callcenter.register.schemas import (
    ContactRecord,
    DeviceClaim,
    ElderRecord,
    RawRow,
    RowIssue,
)
from devices.ids import DeviceKind, kind_of
from kernel.models import IssueSeverity, LivingSituation, SelfCare, Sex

MINIMUM_AGE = 60

# Shenzhen's extent, with a margin; a home outside it is a data error, not an elder of Pinghu.
SHENZHEN_LON = (113.70, 114.70)
SHENZHEN_LAT = (22.40, 22.90)

LIVING_SITUATIONS = {
    "独居": LivingSituation.ALONE,
    "空巢": LivingSituation.WITH_SPOUSE,
    "与子女同住": LivingSituation.WITH_CHILDREN,
    "其他": LivingSituation.OTHER,
}
SELF_CARE_LEVELS = {
    "自理": SelfCare.INDEPENDENT,
    "半失能": SelfCare.PARTLY_DEPENDENT,
    "失能": SelfCare.DEPENDENT,
}
SEXES = {"男": Sex.MALE, "女": Sex.FEMALE}

_MOBILE = re.compile(r"1[3-9]\d{9}")
# Landlines are fine for the elder's own phone (many have only one): 0755 + 7-8 digits, or local.
_LANDLINE = re.compile(r"(0\d{2,3})?\d{7,8}")
_PHONE_NOISE = re.compile(r"[\s\-()（）.]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")
_DEVICE_COLUMNS = (
    (columns.SOS_TERMINAL, DeviceKind.SOS_TERMINAL),
    (columns.HEALTH_MONITOR, DeviceKind.HEALTH_MONITOR),
    (columns.DOOR_SENSOR, DeviceKind.DOOR_SENSOR),
)


@dataclasses.dataclass(slots=True)
class RegisterContext:
    """What judging a row needs to know: the date, the communities, what earlier rows claimed."""

    as_of: dt.date
    community_codes: dict[str, str]  # community name (with 社区) -> centre code
    seen_national_ids: set[str] = dataclasses.field(default_factory=set)
    claimed_devices: dict[str, int] = dataclasses.field(default_factory=dict)  # id -> row number


@dataclasses.dataclass(slots=True)
class RowVerdict:
    """The record made of a row (None if rejected) and the issues found in it."""

    record: ElderRecord | None
    issues: list[RowIssue]


def text(value: str) -> str:
    """A cell with full-width forms folded (NFKC) and outer white space removed."""
    return unicodedata.normalize("NFKC", value).strip()


def normalise_name(value: str) -> str:
    """A person's name without stray spaces (full-width ones too); Latin names keep single spaces."""
    folded = text(value)
    if _CJK.search(folded):
        return re.sub(r"\s+", "", folded)
    return re.sub(r"\s+", " ", folded)


def normalise_mobile(value: str) -> str | None:
    """An 11-digit mainland mobile number from +86, spaced, dashed or full-width forms; else None."""
    digits = _strip_country_code(_PHONE_NOISE.sub("", text(value)))
    return digits if _MOBILE.fullmatch(digits) else None


def normalise_phone(value: str) -> str | None:
    """A mobile or a landline number (the elder's own phone may be either); else None."""
    digits = _strip_country_code(_PHONE_NOISE.sub("", text(value)))
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return digits
    return None


def _strip_country_code(digits: str) -> str:
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix) :]
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    return digits


def parse_date(value: str) -> dt.date | None:
    """A date written 1950-03-07, 1950/3/7, 19500307 (and a few kin); None if unreadable."""
    cleaned = text(value)
    for layout in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, layout).date()
        except ValueError:
            continue
    return None


def age_on(birth: dt.date, day: dt.date) -> int:
    """Whole years between a birth date and a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def judge_row(raw: RawRow, context: RegisterContext) -> RowVerdict:
    """Normalise one row and decide: a person to import (maybe with warnings), or a rejection."""
    cells = raw.cells
    serial = text(cells.get(columns.SERIAL, ""))
    issues: list[RowIssue] = []

    def issue(severity: IssueSeverity, code: str, column: str, message: str) -> None:
        issues.append(
            RowIssue(
                row=raw.row_number,
                serial=serial,
                severity=severity,
                code=code,
                column=column,
                message=message,
            )
        )

    def reject(code: str, column: str, message: str) -> None:
        issue(IssueSeverity.REJECTED, code, column, message)

    def warn(code: str, column: str, message: str) -> None:
        issue(IssueSeverity.WARNING, code, column, message)

    name = normalise_name(cells.get(columns.NAME, ""))
    if not name:
        reject("name_missing", columns.NAME, "no name")

    id_number = text(cells.get(columns.NATIONAL_ID, "")).replace(" ", "").upper()
    id_birth: dt.date | None = None
    if not id_number:
        reject("national_id_missing", columns.NATIONAL_ID, "no ID number")
    elif not national_id.is_valid(id_number):
        reject(
            "national_id_check",
            columns.NATIONAL_ID,
            "ID number is malformed or its check character is wrong",
        )
    elif (id_birth := national_id.birth_date(id_number)) is None:
        reject("national_id_invalid", columns.NATIONAL_ID, "ID number encodes no real birth date")
    elif id_number in context.seen_national_ids:
        reject(
            "national_id_duplicate",
            columns.NATIONAL_ID,
            "this ID number was already imported from an earlier row",
        )

    birth = id_birth
    if id_birth is not None:
        written = cells.get(columns.BIRTH_DATE, "")
        if text(written):
            parsed = parse_date(written)
            if parsed is None:
                reject("birth_date_unreadable", columns.BIRTH_DATE, "birth date cannot be read")
            elif parsed != id_birth:
                reject(
                    "birth_date_mismatch",
                    columns.BIRTH_DATE,
                    f"birth date {parsed.isoformat()} disagrees with the ID number's "
                    f"{id_birth.isoformat()}",
                )
        if age_on(id_birth, context.as_of) < MINIMUM_AGE:
            reject(
                "under_60",
                columns.NATIONAL_ID,
                f"aged {age_on(id_birth, context.as_of)} on {context.as_of.isoformat()}, under 60",
            )

    community = text(cells.get(columns.COMMUNITY, "")).replace(" ", "")
    if community and not community.endswith("社区"):
        community += "社区"
    community_code = context.community_codes.get(community)
    if community_code is None:
        reject(
            "community_not_in_pinghu",
            columns.COMMUNITY,
            f"community {community or '(empty)'!r} is not one of Pinghu's 12",
        )

    position = _position(cells)
    if isinstance(position, str):
        reject("position_outside_shenzhen", columns.LONGITUDE, position)

    if any(i.severity is IssueSeverity.REJECTED for i in issues):
        return RowVerdict(record=None, issues=issues)

    assert birth is not None and community_code is not None and not isinstance(position, str)
    context.seen_national_ids.add(id_number)

    id_sex = Sex.MALE if national_id.is_male(id_number) else Sex.FEMALE
    written_sex = SEXES.get(text(cells.get(columns.SEX, "")))
    if written_sex is not None and written_sex is not id_sex:
        warn("sex_mismatch", columns.SEX, "sex disagrees with the ID number; the ID's is used")

    own_phone: str | None = None
    if text(cells.get(columns.OWN_PHONE, "")):
        own_phone = normalise_phone(cells[columns.OWN_PHONE])
        if own_phone is None:
            warn("own_phone_invalid", columns.OWN_PHONE, "own phone is not a phone number")

    living = LIVING_SITUATIONS.get(text(cells.get(columns.LIVING, "")))
    if living is None:
        living = LivingSituation.OTHER
        warn("living_situation_unknown", columns.LIVING, "living situation not one of the four")
    self_care = SELF_CARE_LEVELS.get(text(cells.get(columns.SELF_CARE, "")))
    if self_care is None:
        self_care = SelfCare.UNKNOWN
        warn("self_care_unknown", columns.SELF_CARE, "self-care ability not stated")

    contacts = []
    for position_number, (name_col, relation_col, phone_col) in enumerate(
        (
            (columns.CONTACT1_NAME, columns.CONTACT1_RELATION, columns.CONTACT1_PHONE),
            (columns.CONTACT2_NAME, columns.CONTACT2_RELATION, columns.CONTACT2_PHONE),
        ),
        start=1,
    ):
        contact_name = normalise_name(cells.get(name_col, ""))
        written_phone = text(cells.get(phone_col, ""))
        if not contact_name and not written_phone:
            if position_number == 1:
                warn("contact_missing", name_col, "no emergency contact")
            continue
        phone = normalise_mobile(written_phone) if written_phone else None
        if not written_phone:
            warn("contact_phone_missing", phone_col, "emergency contact has no phone number")
        elif phone is None:
            warn(
                "contact_phone_not_mobile",
                phone_col,
                "emergency contact's phone is not a mobile number; it is left out",
            )
        contacts.append(
            ContactRecord(
                position=position_number,
                name=contact_name,
                relation=text(cells.get(relation_col, "")),
                phone=phone,
            )
        )

    devices = []
    for column, expected_kind in _DEVICE_COLUMNS:
        device_id = text(cells.get(column, "")).replace(" ", "").upper()
        if not device_id:
            continue
        kind = kind_of(device_id)
        if kind is not expected_kind:
            if expected_kind is DeviceKind.SOS_TERMINAL and re.fullmatch(r"\d{15}", device_id):
                warn("imei_check_digit", column, "terminal IMEI fails its check digit; not bound")
            else:
                warn("device_id_malformed", column, f"not a valid {expected_kind.value} id")
            continue
        earlier = context.claimed_devices.get(device_id)
        if earlier is not None:
            warn(
                "device_already_bound",
                column,
                f"device is already bound to the elder of row {earlier}; not bound again",
            )
            continue
        context.claimed_devices[device_id] = raw.row_number
        devices.append(DeviceClaim(device_id=device_id, kind=kind, column=column))

    conditions = tuple(
        sorted(
            {
                part.strip()
                for part in re.split(r"[;；,，、]", text(cells.get(columns.CONDITIONS, "")))
                if part.strip() and part.strip() not in {"无", "-"}
            }
        )
    )
    record = ElderRecord(
        row_number=raw.row_number,
        serial=serial,
        national_id=id_number,
        name=name,
        sex=id_sex,
        birth_date=birth,
        community_code=community_code,
        address=text(cells.get(columns.ADDRESS, "")),
        lat=position[0],
        lon=position[1],
        phone=own_phone,
        living_situation=living,
        conditions=conditions,
        self_care=self_care,
        remarks=text(cells.get(columns.REMARKS, "")),
        contacts=tuple(contacts),
        devices=tuple(devices),
    )
    return RowVerdict(record=record, issues=issues)


def _position(cells: dict[str, str]) -> tuple[float, float] | str:
    """(lat, lon) of the home, or the reason it cannot be used."""
    try:
        lon = float(text(cells.get(columns.LONGITUDE, "")))
        lat = float(text(cells.get(columns.LATITUDE, "")))
    except ValueError:
        return "home position missing or not a number"
    in_lon = SHENZHEN_LON[0] <= lon <= SHENZHEN_LON[1]
    in_lat = SHENZHEN_LAT[0] <= lat <= SHENZHEN_LAT[1]
    if in_lon and in_lat:
        return (lat, lon)
    if SHENZHEN_LON[0] <= lat <= SHENZHEN_LON[1] and SHENZHEN_LAT[0] <= lon <= SHENZHEN_LAT[1]:
        return f"longitude {lon} and latitude {lat} look swapped"
    return f"home position ({lon}, {lat}) is outside Shenzhen"
