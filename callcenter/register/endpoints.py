"""Routes: register imports and the rows they rejected or warned about, for review."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from kernel.bounds import Id
from kernel.errors import NotFoundError
from kernel.models import IssueSeverity, RegisterImport, RegisterIssue
from kernel.web import Session

router = APIRouter(prefix="/api/register", tags=["register"])


class RegisterImportRead(BaseModel):
    """One import run and its counts."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    file_name: str
    file_sha256: str
    as_of: dt.date
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows_total: int
    accepted: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    warned: int


class RegisterIssueRead(BaseModel):
    """A rejected or warned row (the raw row stays in the database, it holds personal data)."""

    model_config = ConfigDict(from_attributes=True)

    row_number: int
    serial: str
    severity: IssueSeverity
    code: str
    column: str
    message: str


class ImportNotFoundError(NotFoundError):
    """No register import with this id."""


@router.get("/imports", response_model=list[RegisterImportRead])
async def list_imports(session: Session) -> list[RegisterImportRead]:
    """Register imports, newest first."""
    runs = await session.scalars(select(RegisterImport).order_by(RegisterImport.id.desc()))
    return [RegisterImportRead.model_validate(run) for run in runs]


@router.get(
    "/imports/{import_id}/issues",
    response_model=list[RegisterIssueRead],
    responses=ImportNotFoundError.response_doc(),
)
async def list_issues(
    import_id: Id,
    session: Session,
    severity: Annotated[IssueSeverity | None, Query()] = None,
) -> list[RegisterIssueRead]:
    """Every row one import rejected or warned about, by row number."""
    if await session.get(RegisterImport, import_id) is None:
        raise ImportNotFoundError(f"register import {import_id} does not exist")
    query = select(RegisterIssue).where(RegisterIssue.import_id == import_id)
    if severity is not None:
        query = query.where(RegisterIssue.severity == severity)
    issues = await session.scalars(query.order_by(RegisterIssue.row_number, RegisterIssue.id))
    return [RegisterIssueRead.model_validate(issue) for issue in issues]
