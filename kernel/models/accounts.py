"""Staff sign-in: server-side sessions and the failed sign-ins that lock an account."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, utcnow


class StaffSession(Base):
    """A signed-in browser or API client; the cookie or bearer token is kept only as its hash."""

    __tablename__ = "staff_sessions"

    # sha256 of the token: a copy of this table does not sign anybody in.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class SignInFailures(Base):
    """Failed sign-ins of one account in the current window, and until when it is locked."""

    __tablename__ = "sign_in_failures"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    failures: Mapped[int] = mapped_column(default=0)
    first_failed_at: Mapped[dt.datetime]
    locked_until: Mapped[dt.datetime | None]
