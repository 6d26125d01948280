"""Shapes of the register import: a normalised elder record, a row issue, the import report."""

from __future__ import annotations

import dataclasses
import datetime as dt

from pydantic import BaseModel, Field

from devices.ids import DeviceKind
from kernel.models import IssueSeverity, LivingSituation, SelfCare, Sex


@dataclasses.dataclass(frozen=True, slots=True)
class RawRow:
    """One data row as read from the file: its spreadsheet row number and cells by header."""

    row_number: int
    cells: dict[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class ContactRecord:
    """An emergency contact after normalisation; phone None when it was not a usable mobile."""

    position: int
    name: str
    relation: str
    phone: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceClaim:
    """A device id the register binds to this elder."""

    device_id: str
    kind: DeviceKind
    column: str


@dataclasses.dataclass(frozen=True, slots=True)
class ElderRecord:
    """A register row that can be trusted as a person, normalised."""

    row_number: int
    serial: str
    national_id: str
    name: str
    sex: Sex
    birth_date: dt.date
    community_code: str
    address: str
    lat: float
    lon: float
    phone: str | None
    living_situation: LivingSituation
    conditions: tuple[str, ...]
    self_care: SelfCare
    remarks: str
    contacts: tuple[ContactRecord, ...]
    devices: tuple[DeviceClaim, ...]


class RowIssue(BaseModel):
    """A row rejected, or imported with one detail left out, and why."""

    row: int = Field(description="Row number as a spreadsheet shows it (the header is row 1).")
    serial: str = Field(description="The row's 序号 as written in the file.")
    severity: IssueSeverity
    code: str = Field(description="Machine-readable reason, e.g. national_id_check.")
    column: str = Field(description="The offending column's header.")
    message: str


class ImportSummary(BaseModel):
    """Counts of one import."""

    rows: int
    imported: int = Field(description="Rows accepted as a person: created + updated + unchanged.")
    created: int
    updated: int
    unchanged: int
    rejected: int = Field(description="Rows not imported (each has one or more issues).")
    warned: int = Field(description="Rows imported with a detail left out.")
    conflicts: int = Field(
        default=0,
        description="Fields changed in the console that the file says otherwise: kept as in "
        "the console (each in `conflicts`).",
    )


class ConsoleConflict(BaseModel):
    """A register field changed in the console that the file says otherwise: kept as in the
    console, for the office to check and correct its file (or the console)."""

    row: int
    serial: str
    elder_id: int
    field: str = Field(description="phone or contacts")
    in_console: str
    in_file: str
    edited_by: str
    edited_at: str


class ImportReport(BaseModel):
    """What `eldercare import-register --report` writes: the summary and every issue by row."""

    import_id: int | None
    file: str
    sha256: str
    as_of: dt.date
    dry_run: bool
    summary: ImportSummary
    by_reason: dict[str, int]
    ignored_columns: list[str]
    issues: list[RowIssue]
    conflicts: list[ConsoleConflict] = Field(default_factory=list)
