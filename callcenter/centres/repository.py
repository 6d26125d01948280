"""Queries on centres."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.centres.schemas import CentreFacts
from kernel.models import Centre


async def upsert_centres(session: AsyncSession, facts: Sequence[CentreFacts]) -> int:
    """Create missing centres and refresh the facts of existing ones; returns how many were new."""
    existing = {c.code: c for c in (await session.scalars(select(Centre))).all()}
    created = 0
    for fact in facts:
        values = fact.model_dump(include=set(Centre.__table__.columns.keys()))
        centre = existing.get(fact.code)
        if centre is None:
            session.add(Centre(**values))
            created += 1
        else:
            for key, value in values.items():
                setattr(centre, key, value)
    await session.flush()
    return created


async def list_centres(session: AsyncSession) -> Sequence[Centre]:
    """Every centre, street centre first."""
    return (await session.scalars(select(Centre).order_by(Centre.code))).all()
