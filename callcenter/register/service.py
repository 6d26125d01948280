"""Importing a register export: judge every row, then create, update or leave each elder.

Idempotent by design: an elder is keyed by the resident ID number and carries a hash of its
normalised row, so re-importing a file changes nothing and an updated file changes only the
elders whose rows changed. The caller owns the transaction: an error imports nothing.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.centres import repository as centres_repository
from callcenter.centres.service import centre_facts, community_codes_by_name
from callcenter.register import columns, repository
from callcenter.register.normalise import RegisterContext, judge_row
from callcenter.register.reader import RegisterFile
from callcenter.register.schemas import (
    ConsoleConflict,
    ElderRecord,
    ImportReport,
    ImportSummary,
    RowIssue,
)
from kernel import audit
from kernel.models import IssueSeverity, utcnow

ProgressCallback = Callable[[str, int, int], None]
# Elders are inserted in batches of this size, so the progress bar moves while they are saved.
SAVE_BATCH = 1_000


def record_hash(record: ElderRecord) -> str:
    """A digest of everything the register says about an elder (not where in the file it was)."""
    data = asdict(record)
    data.pop("row_number")
    data.pop("serial")
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()
    ).hexdigest()


def issue_device_secret() -> str:
    """A new device secret: 144 random bits, URL-safe, easy to type into a terminal's config."""
    return secrets.token_urlsafe(18)


def _elder_values(record: ElderRecord, digest: str) -> dict[str, Any]:
    return {
        "national_id": record.national_id,
        "name": record.name,
        "sex": record.sex,
        "birth_date": record.birth_date,
        "community_code": record.community_code,
        "address": record.address,
        "lat": record.lat,
        "lon": record.lon,
        "phone": record.phone,
        "living_situation": record.living_situation,
        "conditions": list(record.conditions),
        "self_care": record.self_care,
        "remarks": record.remarks,
        "record_hash": digest,
    }


async def import_register(
    session: AsyncSession,
    register: RegisterFile,
    *,
    file_name: str,
    sha256: str,
    as_of: dt.date,
    actor: str,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import every row a person can trust; report every row rejected or warned, by row number."""
    tick = progress or (lambda _phase, _done, _total: None)
    await centres_repository.upsert_centres(session, centre_facts())

    context = RegisterContext(as_of=as_of, community_codes=community_codes_by_name())
    records: list[ElderRecord] = []
    issues: list[RowIssue] = []
    total = len(register.rows)
    for done, raw in enumerate(register.rows, start=1):
        verdict = judge_row(raw, context)
        issues.extend(verdict.issues)
        if verdict.record is not None:
            records.append(verdict.record)
        if done % 1000 == 0 or done == total:
            tick("checking rows", done, total)

    existing = await repository.elder_hashes(session)
    kept = await _console_edits_kept(session, records, existing, issues)
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    row_of: dict[str, int] = {}
    for record in records:
        digest = record_hash(record)
        row_of[record.national_id] = record.row_number
        known = existing.get(record.national_id)
        if known is None:
            new_rows.append(_elder_values(record, digest))
        elif known[1] != digest:
            values = _elder_values(record, digest)
            if "phone" in kept.fields.get(known[0], ()):
                values["phone"] = kept.phones[known[0]]
            changed_rows.append({"id": known[0], **values})
    to_save = len(new_rows) + len(changed_rows)
    tick("saving elders", 0, to_save)
    created_ids: dict[str, int] = {}
    for start in range(0, len(new_rows), SAVE_BATCH):
        created_ids |= await repository.insert_elders(session, new_rows[start : start + SAVE_BATCH])
        tick("saving elders", min(start + SAVE_BATCH, len(new_rows)), to_save)
    await repository.update_elders(session, changed_rows)
    elder_ids = {nid: elder_id for nid, (elder_id, _digest) in existing.items()} | created_ids
    rewritten = set(created_ids.values()) | {row["id"] for row in changed_rows}
    # Contacts changed in the console and otherwise in the file stay as the console has them.
    rewritten -= {elder_id for elder_id, fields in kept.fields.items() if "contacts" in fields}
    await repository.replace_contacts(
        session,
        sorted({row["id"] for row in changed_rows} & rewritten),
        [
            {"elder_id": elder_ids[r.national_id], **asdict(contact)}
            for r in records
            if elder_ids[r.national_id] in rewritten
            for contact in r.contacts
        ],
    )
    await repository.next_versions(session, sorted({row["id"] for row in changed_rows}))
    tick("saving elders", to_save, to_save)

    device_audit = await _reconcile_devices(session, records, elder_ids, issues)
    tick("binding devices", 1, 1)

    issues.sort(key=lambda i: (i.row, i.severity != IssueSeverity.REJECTED))
    rejected_rows = {i.row for i in issues if i.severity is IssueSeverity.REJECTED}
    warned_rows = {i.row for i in issues if i.severity is IssueSeverity.WARNING}
    summary = ImportSummary(
        rows=total,
        imported=len(records),
        created=len(new_rows),
        updated=len(changed_rows),
        unchanged=len(records) - len(new_rows) - len(changed_rows),
        rejected=len(rejected_rows),
        warned=len(warned_rows - rejected_rows),
        conflicts=len(kept.conflicts),
    )
    run = await repository.create_import(
        session,
        {
            "file_name": file_name,
            "file_sha256": sha256,
            "as_of": as_of,
            "finished_at": utcnow(),
            "rows_total": summary.rows,
            "accepted": summary.imported,
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "rejected": summary.rejected,
            "warned": summary.warned,
        },
    )
    raw_by_row = {raw.row_number: raw.cells for raw in register.rows}
    await repository.add_issues(session, run.id, issues, raw_by_row)
    entries: list[tuple[str, str, str, str | int, dict[str, Any]]] = [
        (actor, "register.imported", "register_import", run.id, summary.model_dump())
    ]
    for row in new_rows:
        detail = {"import": run.id, "row": row_of[row["national_id"]]}
        entries.append((actor, "elder.created", "elder", created_ids[row["national_id"]], detail))
    for row in changed_rows:
        detail = {"import": run.id, "row": row_of[row["national_id"]]}
        entries.append((actor, "elder.updated", "elder", row["id"], detail))
    for action, device_id, detail in device_audit:
        entries.append((actor, action, "device", device_id, {"import": run.id, **detail}))
    await audit.record_many(session, entries)
    return ImportReport(
        import_id=None if dry_run else run.id,
        file=file_name,
        sha256=sha256,
        as_of=as_of,
        dry_run=dry_run,
        summary=summary,
        by_reason=dict(collections.Counter(i.code for i in issues).most_common()),
        ignored_columns=register.ignored_columns,
        issues=issues,
        conflicts=kept.conflicts,
    )


@dataclass
class _KeptEdits:
    """What a re-import leaves as the console has it."""

    fields: dict[int, set[str]] = field(default_factory=dict)  # elder id -> fields kept
    phones: dict[int, str | None] = field(default_factory=dict)  # elder id -> the console's phone
    conflicts: list[ConsoleConflict] = field(default_factory=list)


def _contacts_text(contacts: Sequence[tuple[str, str, str | None]]) -> str:
    return "; ".join(f"{name} ({relation}) {phone or '-'}" for name, relation, phone in contacts)


async def _console_edits_kept(
    session: AsyncSession,
    records: list[ElderRecord],
    existing: dict[str, tuple[int, str]],
    issues: list[RowIssue],
) -> _KeptEdits:
    """Compare the register fields changed in the console with the file: where the file now
    agrees, the console's mark goes (the office has caught up); where it says otherwise, the
    console's value stays and the row gets a `console_edit_kept` warning and a conflict entry.
    Checked for every elder with a mark, whether or not their row changed since the last import:
    the office's file is told each time until it agrees."""
    kept = _KeptEdits()
    edited = await repository.console_edited(session)
    if not edited:
        return kept
    mine = {
        existing[r.national_id][0]: r
        for r in records
        if r.national_id in existing and existing[r.national_id][0] in edited
    }
    contacts = await repository.contacts_by_elder(session, sorted(mine))
    marks: dict[int, dict[str, Any] | None] = {}
    for elder_id, record in mine.items():
        elder_marks, phone = edited[elder_id]
        file_contacts = [(c.name, c.relation, c.phone) for c in record.contacts]
        # field -> (the column to name, the console's and the file's value, as text when they
        # differ; None when they agree)
        differing: dict[str, tuple[str, tuple[str, str] | None]] = {
            "phone": (
                columns.OWN_PHONE,
                None if record.phone == phone else (phone or "-", record.phone or "-"),
            ),
            "contacts": (
                columns.CONTACT1_NAME,
                None
                if file_contacts == contacts[elder_id]
                else (_contacts_text(contacts[elder_id]), _contacts_text(file_contacts)),
            ),
        }
        left = dict(elder_marks)
        for name, mark in elder_marks.items():
            if name not in differing:
                continue
            column, values = differing[name]
            if values is None:
                del left[name]
                continue
            kept.fields.setdefault(elder_id, set()).add(name)
            if name == "phone":
                kept.phones[elder_id] = phone
            kept.conflicts.append(
                ConsoleConflict(
                    row=record.row_number, serial=record.serial, elder_id=elder_id, field=name,
                    in_console=values[0], in_file=values[1],
                    edited_by=str(mark.get("by", "")), edited_at=str(mark.get("at", "")),
                )
            )  # fmt: skip
            issues.append(
                RowIssue(
                    row=record.row_number,
                    serial=record.serial,
                    severity=IssueSeverity.WARNING,
                    code="console_edit_kept",
                    column=column,
                    message=f"changed in the console ({mark.get('by')}, {mark.get('at')}) and "
                    "otherwise in the file: kept as in the console",
                )
            )
        if left != elder_marks:
            marks[elder_id] = left or None
    await repository.set_console_edits(session, marks)
    return kept


async def _reconcile_devices(
    session: AsyncSession,
    records: list[ElderRecord],
    elder_ids: dict[str, int],
    issues: list[RowIssue],
) -> list[tuple[str, str, dict[str, Any]]]:
    """Make device bindings follow the file for the elders it lists; returns audit entries.

    A device the file gives to an elder is registered if new and bound to that elder. A device
    bound to an elder this file does not list stays where it is (the file may be one community's
    extract), with a warning. A device an elder listed here no longer claims is unbound.
    """
    bindings = await repository.device_bindings(session)
    listed = {elder_ids[r.national_id] for r in records}
    claimed: set[str] = set()
    new_devices: list[dict[str, Any]] = []
    rebinds: list[dict[str, Any]] = []
    audit_entries: list[tuple[str, str, dict[str, Any]]] = []
    for record in records:
        elder_id = elder_ids[record.national_id]
        for claim in record.devices:
            current = bindings.get(claim.device_id)
            if current is None:
                new_devices.append(
                    {
                        "id": claim.device_id,
                        "kind": claim.kind,
                        "elder_id": elder_id,
                        "secret": issue_device_secret(),
                    }
                )
                audit_entries.append(("device.registered", claim.device_id, {"elder": elder_id}))
            elif current[1] == elder_id:
                pass
            elif current[1] is None or current[1] in listed:
                rebinds.append({"id": claim.device_id, "elder_id": elder_id})
                audit_entries.append(
                    ("device.bound", claim.device_id, {"elder": elder_id, "was": current[1]})
                )
            else:
                issues.append(
                    RowIssue(
                        row=record.row_number,
                        serial=record.serial,
                        severity=IssueSeverity.WARNING,
                        code="device_bound_elsewhere",
                        column=claim.column,
                        message="device is bound to an elder not in this file; left as it is",
                    )
                )
                continue
            claimed.add(claim.device_id)
    for device_id, (_kind, bound_to) in bindings.items():
        if bound_to in listed and device_id not in claimed:
            rebinds.append({"id": device_id, "elder_id": None})
            audit_entries.append(("device.unbound", device_id, {"was": bound_to}))
    await repository.insert_devices(session, new_devices)
    await repository.bind_devices(session, rebinds)
    return audit_entries
