"""Reading a register export (CSV as the street office writes it, or the .xlsx it keeps)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from callcenter.register import columns
from callcenter.register.schemas import RawRow

# Without these a file is not a usable register; the others may be missing from an export.
REQUIRED_COLUMNS = frozenset(
    {
        columns.NAME,
        columns.NATIONAL_ID,
        columns.COMMUNITY,
        columns.ADDRESS,
        columns.LONGITUDE,
        columns.LATITUDE,
        columns.LIVING,
        columns.SELF_CARE,
        columns.CONTACT1_NAME,
        columns.CONTACT1_RELATION,
        columns.CONTACT1_PHONE,
    }
)


class NotARegisterError(Exception):
    """The file cannot be read as a register export; nothing was imported."""


@dataclass(frozen=True, slots=True)
class RegisterFile:
    """The rows of a register file, with the columns it had that the importer does not use."""

    rows: list[RawRow]
    ignored_columns: list[str]


def read_register(path: Path, encoding: str = "utf-8") -> RegisterFile:
    """Read a .csv or .xlsx register export, or raise NotARegisterError saying why not."""
    if not path.is_file():
        raise NotARegisterError(f"{path}: no such file")
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        table = _xlsx_table(path)
    else:
        table = _csv_table(path, encoding)
    return _rows_from_table(path, table)


def _csv_table(path: Path, encoding: str) -> list[list[str]]:
    data = path.read_bytes()
    if not data.strip():
        raise NotARegisterError(f"{path.name}: the file is empty")
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in {"utf-8", "utf8"} else encoding
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        hint = ""
        if codec == "utf-8-sig" and _decodes(data, "gb18030"):
            hint = (
                " It looks like GBK/GB18030 (Excel's plain 'CSV'): save it as 'CSV UTF-8', "
                "or pass --encoding gb18030."
            )
        raise NotARegisterError(
            f"{path.name}: not {encoding} text (byte {error.start} cannot be decoded).{hint}"
        ) from error
    except LookupError as error:
        raise NotARegisterError(f"unknown encoding {encoding!r}") from error
    if "\x00" in text:
        raise NotARegisterError(f"{path.name}: binary data, not a CSV text file")
    return [row for row in csv.reader(io.StringIO(text, newline=""))]


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _xlsx_table(path: Path) -> list[list[str]]:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise NotARegisterError(f"{path.name}: not a readable .xlsx workbook ({error})") from error
    try:
        sheet = workbook.worksheets[0]
        return [[_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person sees (numbers without '.0', dates as ISO)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _header_name(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell).strip().lstrip("\ufeff")


def _rows_from_table(path: Path, table: list[list[str]]) -> RegisterFile:
    while table and not any(cell.strip() for cell in table[0]):
        table = table[1:]
    if not table:
        raise NotARegisterError(f"{path.name}: the file is empty")
    headers = [_header_name(cell) for cell in table[0]]
    missing = [name for name in columns.HEADERS if name in REQUIRED_COLUMNS and name not in headers]
    if missing:
        raise NotARegisterError(
            f"{path.name}: not a register export: missing columns {', '.join(missing)} "
            f"(found: {', '.join(h for h in headers if h) or 'none'})"
        )
    duplicated = sorted({h for h in headers if h and headers.count(h) > 1})
    if duplicated:
        raise NotARegisterError(f"{path.name}: columns appear twice: {', '.join(duplicated)}")
    known = set(columns.HEADERS)
    ignored = [h for h in headers if h and h not in known]
    rows: list[RawRow] = []
    for index, values in enumerate(table[1:], start=2):
        if not any(value.strip() for value in values):
            continue  # blank lines Excel leaves at the end are not rows
        cells = {h: (values[i] if i < len(values) else "") for i, h in enumerate(headers) if h}
        rows.append(RawRow(row_number=index, cells=cells))
    if not rows:
        raise NotARegisterError(f"{path.name}: the header is there but no elder rows follow")
    return RegisterFile(rows=rows, ignored_columns=ignored)
