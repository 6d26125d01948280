"""Queries of the register import: elders, their contacts and devices, import runs and issues."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.register.schemas import RowIssue
from devices.ids import DeviceKind
from kernel.models import Device, Elder, EmergencyContact, RegisterImport, RegisterIssue

# SQLite allows 32,766 bound parameters a statement; stay well below for IN lists.
_CHUNK = 5_000


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def elder_hashes(session: AsyncSession) -> dict[str, tuple[int, str]]:
    """national_id -> (elder id, record hash) of every registered elder."""
    result = await session.execute(select(Elder.national_id, Elder.id, Elder.record_hash))
    return {national_id: (elder_id, digest) for national_id, elder_id, digest in result}


async def console_edited(session: AsyncSession) -> dict[int, tuple[dict[str, Any], str | None]]:
    """elder id -> (console-edit marks, phone) of the elders with register fields changed in the
    console since the office's file last agreed with them."""
    result = await session.execute(
        select(Elder.id, Elder.console_edits, Elder.phone).where(Elder.console_edits.is_not(None))
    )
    return {elder_id: (marks, phone) for elder_id, marks, phone in result if marks}


async def contacts_by_elder(
    session: AsyncSession, elder_ids: Sequence[int]
) -> dict[int, list[tuple[str, str, str | None]]]:
    """elder id -> (name, relation, phone) of each contact in order, for these elders."""
    found: dict[int, list[tuple[str, str, str | None]]] = {elder_id: [] for elder_id in elder_ids}
    for chunk in _chunks(elder_ids):
        result = await session.execute(
            select(
                EmergencyContact.elder_id,
                EmergencyContact.name,
                EmergencyContact.relation,
                EmergencyContact.phone,
            )
            .where(EmergencyContact.elder_id.in_(chunk))
            .order_by(EmergencyContact.elder_id, EmergencyContact.position)
        )
        for elder_id, name, relation, phone in result:
            found[elder_id].append((name, relation, phone))
    return found


async def set_console_edits(session: AsyncSession, marks: dict[int, dict[str, Any] | None]) -> None:
    """Replace the console-edit marks of these elders (None: none left)."""
    if marks:
        await session.execute(
            update(Elder),
            [{"id": elder_id, "console_edits": value} for elder_id, value in marks.items()],
        )


async def next_versions(session: AsyncSession, elder_ids: Sequence[int]) -> None:
    """Move these elders to their next version: an edit based on what they were is stale."""
    for chunk in _chunks(elder_ids):
        await session.execute(
            update(Elder)
            .where(Elder.id.in_(chunk))
            .values(version=Elder.version + 1)
            .execution_options(synchronize_session=False)
        )


async def insert_elders(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert new elders; returns national_id -> new id."""
    ids: dict[str, int] = {}
    for chunk in _chunks(rows, 2_000):
        result = await session.execute(
            insert(Elder).returning(Elder.national_id, Elder.id), list(chunk)
        )
        ids.update({national_id: elder_id for national_id, elder_id in result})
    return ids


async def update_elders(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Update existing elders by primary key (each dict carries its `id`)."""
    if rows:
        await session.execute(update(Elder), list(rows))


async def replace_contacts(
    session: AsyncSession, elder_ids: Sequence[int], contacts: Sequence[dict[str, Any]]
) -> None:
    """Drop the contacts of these elders and insert the given ones in their place."""
    for chunk in _chunks(elder_ids):
        await session.execute(delete(EmergencyContact).where(EmergencyContact.elder_id.in_(chunk)))
    for chunk in _chunks(contacts, 2_000):
        await session.execute(insert(EmergencyContact), list(chunk))


async def device_bindings(session: AsyncSession) -> dict[str, tuple[DeviceKind, int | None]]:
    """device id -> (kind, bound elder id or None) of every registered device."""
    result = await session.execute(select(Device.id, Device.kind, Device.elder_id))
    return {device_id: (kind, elder_id) for device_id, kind, elder_id in result}


async def insert_devices(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Register new devices (each dict: id, kind, elder_id, secret)."""
    for chunk in _chunks(rows, 2_000):
        await session.execute(insert(Device), list(chunk))


async def bind_devices(session: AsyncSession, bindings: Sequence[dict[str, Any]]) -> None:
    """Set the bound elder of existing devices (each dict: id, elder_id; None unbinds)."""
    if bindings:
        await session.execute(update(Device), list(bindings))


async def create_import(session: AsyncSession, values: dict[str, Any]) -> RegisterImport:
    """Record an import run."""
    run = RegisterImport(**values)
    session.add(run)
    await session.flush()
    return run


async def add_issues(
    session: AsyncSession,
    import_id: int,
    issues: Sequence[RowIssue],
    raw_rows: dict[int, dict[str, str]],
) -> None:
    """Keep each issue with the row as it was read, for a person to review and fix."""
    rows = [
        {
            "import_id": import_id,
            "row_number": issue.row,
            "serial": issue.serial[:16],
            "severity": issue.severity,
            "code": issue.code,
            "column": issue.column,
            "message": issue.message,
            "raw": raw_rows.get(issue.row, {}),
        }
        for issue in issues
    ]
    for chunk in _chunks(rows, 2_000):
        await session.execute(insert(RegisterIssue), list(chunk))
