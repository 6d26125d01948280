"""Writing to the append-only audit log (never personal data: ids and codes only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.models import AuditEntry, utcnow

_AUDIT_LOG = cast(Table, AuditEntry.__table__)


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | int,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log, in the caller's unit of work."""
    await record_many(session, [(actor, action, subject_type, subject_id, detail or {})])


async def record_many(
    session: AsyncSession, entries: Iterable[tuple[str, str, str, str | int, dict[str, Any]]]
) -> None:
    """Append many entries (actor, action, subject_type, subject_id, detail) in one statement."""
    now = utcnow()
    rows = [
        {
            "at": now,
            "actor": actor,
            "action": action,
            "subject_type": subject_type,
            "subject_id": str(subject_id),
            "detail": detail,
        }
        for actor, action, subject_type, subject_id, detail in entries
    ]
    if rows:
        # The table's own INSERT, not the model's: the ORM's bulk path cost an alarm's opening
        # more than the statement itself, and nothing reads the entries back as objects here.
        await session.execute(insert(_AUDIT_LOG), rows)


async def times_of(
    session: AsyncSession, *, actor: str, action: str, since: dt.datetime
) -> list[dt.datetime]:
    """When this actor did this action since then (what per-person limits count), oldest first."""
    query = (
        select(AuditEntry.at)
        .where(AuditEntry.at > since, AuditEntry.actor == actor, AuditEntry.action == action)
        .order_by(AuditEntry.at)
    )
    return list((await session.scalars(query)).all())
