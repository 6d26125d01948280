"""Routes: the DC-09 panels' self-tests and troubles, for maintenance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.dc09 import repository
from gateway.dc09.schemas import SelfTestRow
from kernel.models import utcnow
from kernel.web import Session

router = APIRouter(prefix="/api/alarm-receivers", tags=["gateway"])


@router.get("/self-tests", response_model=list[SelfTestRow])
async def list_self_tests(
    session: Session,
    overdue: Annotated[
        bool, Query(description="Only panels whose periodic test is overdue or failed.")
    ] = False,
) -> list[SelfTestRow]:
    """Every DC-09 panel's periodic self-test (last, next due, overdue, failed) and the mains and
    battery troubles it reports, by community."""
    return await repository.self_tests(session, utcnow(), overdue_only=overdue)
