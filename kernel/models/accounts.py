"""Staff sign-in: server-side sessions, and what slows a password guesser down."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, String
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
    """Failed sign-ins of one account from one place, and until when tries from there wait.

    The place is where the account has signed in before (a browser, by its device cookie, or a
    client address) or 'elsewhere': a stranger's failures hold back only tries from elsewhere,
    never the person at their usual desk.
    """

    __tablename__ = "sign_in_failures"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    place: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[dt.datetime]
    held_until: Mapped[dt.datetime | None]


class SignInPlace(Base):
    """A place an account signed in from: a browser (its device cookie's hash) or an address."""

    __tablename__ = "sign_in_places"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    place: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_signed_in_at: Mapped[dt.datetime] = mapped_column(index=True)


class ClientSignInFailures(Base):
    """Failed sign-ins from one client address (an IPv6 client's /64), a leaky bucket: `level`
    failures as of `updated_at`, draining at a steady rate."""

    __tablename__ = "client_sign_in_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(index=True)
