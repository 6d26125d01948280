"""Register imports and the rows each one rejected or warned about, kept for a person to review."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.models.base import Base, utcnow
from kernel.models.enums import IssueSeverity, string_enum


class RegisterImport(Base):
    """One run of `eldercare import-register` (or the demo seed) over one file."""

    __tablename__ = "register_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date]
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    rows_total: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    warned: Mapped[int] = mapped_column(default=0)

    issues: Mapped[list[RegisterIssue]] = relationship(
        back_populates="register_import", lazy="raise", cascade="all, delete-orphan"
    )


class RegisterIssue(Base):
    """A row an import rejected, or imported with a detail left out, and why."""

    __tablename__ = "register_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("register_imports.id", ondelete="CASCADE"), index=True
    )
    row_number: Mapped[int]
    serial: Mapped[str] = mapped_column(String(16))
    severity: Mapped[IssueSeverity] = mapped_column(string_enum(IssueSeverity, 16))
    code: Mapped[str] = mapped_column(String(48))
    column: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    # The row exactly as read, so a person can fix it at the source.
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)

    register_import: Mapped[RegisterImport] = relationship(back_populates="issues", lazy="raise")
