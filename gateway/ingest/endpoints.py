"""Routes: rejected device messages, for an operator to review."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from devices.protocol import redact_secrets
from kernel.models import RejectedMessage
from kernel.web import Session

router = APIRouter(prefix="/api/gateway", tags=["gateway"])


class RejectedMessageRead(BaseModel):
    """A refused message: when, from whom, why, and what it said (as text, bytes replaced)."""

    id: int
    received_at: dt.datetime
    transport: str
    topic: str | None
    device_id: str | None
    reason: str
    detail: str
    size: int
    raw: str


@router.get("/rejects", response_model=list[RejectedMessageRead])
async def list_rejects(
    session: Session,
    reason: Annotated[str | None, Query(max_length=32)] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RejectedMessageRead]:
    """The newest rejected messages, optionally of one reason or one device."""
    query = select(RejectedMessage).order_by(RejectedMessage.id.desc()).limit(limit)
    if reason is not None:
        query = query.where(RejectedMessage.reason == reason)
    if device is not None:
        query = query.where(RejectedMessage.device_id == device)
    return [
        RejectedMessageRead(
            id=r.id,
            received_at=r.received_at,
            transport=r.transport,
            topic=r.topic,
            device_id=r.device_id,
            reason=r.reason,
            detail=r.detail,
            size=r.size,
            # Redacted again as it is shown: rows kept before rejects were redacted hold secrets.
            raw=redact_secrets(r.raw).decode("utf-8", errors="replace"),
        )
        for r in await session.scalars(query)
    ]
