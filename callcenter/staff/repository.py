"""Queries on staff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.models import StaffMember


async def add_missing_staff(session: AsyncSession, staff: Sequence[dict[str, Any]]) -> int:
    """Insert the staff members whose usernames are not taken yet; returns how many."""
    taken = set((await session.scalars(select(StaffMember.username))).all())
    missing = [member for member in staff if member["username"] not in taken]
    if missing:
        await session.execute(insert(StaffMember), missing)
    return len(missing)


async def list_staff(session: AsyncSession) -> Sequence[StaffMember]:
    """All active staff, by centre and username."""
    query = (
        select(StaffMember)
        .where(StaffMember.active)
        .order_by(StaffMember.centre_code, StaffMember.username)
    )
    return (await session.scalars(query)).all()
