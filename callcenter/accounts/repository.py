"""Queries on accounts: staff by username, sessions, failed sign-ins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.models import SignInFailures, StaffMember, StaffSession


async def staff_by_username(session: AsyncSession, username: str) -> StaffMember | None:
    """The staff member with this username (active or not)."""
    return await session.scalar(select(StaffMember).where(StaffMember.username == username))


async def failures_of(session: AsyncSession, staff_id: int) -> SignInFailures | None:
    """This account's failed sign-ins, locked for update where the database can."""
    return await session.get(SignInFailures, staff_id, with_for_update=True)


async def clear_failures(session: AsyncSession, staff_id: int) -> None:
    """Forget the account's failed sign-ins (after a success, or an admin's unlock)."""
    await session.execute(delete(SignInFailures).where(SignInFailures.staff_id == staff_id))


async def add_session(
    session: AsyncSession, token_hash: str, staff_id: int, now: dt.datetime, expires_at: dt.datetime
) -> None:
    """Record a new signed-in session."""
    session.add(
        StaffSession(
            token_hash=token_hash, staff_id=staff_id, created_at=now, expires_at=expires_at
        )
    )


async def session_member(
    session: AsyncSession, token_hash: str, now: dt.datetime
) -> tuple[StaffSession, StaffMember] | None:
    """The unexpired session with this token and its active staff member."""
    row = (
        await session.execute(
            select(StaffSession, StaffMember)
            .join(StaffMember, StaffMember.id == StaffSession.staff_id)
            .where(
                StaffSession.token_hash == token_hash,
                StaffSession.expires_at > now,
                StaffMember.active,
            )
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def end_session(session: AsyncSession, token_hash: str) -> None:
    """Sign a session out."""
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash))


async def end_sessions_of(session: AsyncSession, staff_id: int) -> None:
    """Sign every session of a staff member out (password reset, deactivation)."""
    await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))


async def delete_expired_sessions(session: AsyncSession, now: dt.datetime) -> None:
    """Drop sessions past their expiry."""
    await session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))


async def set_password_hash(session: AsyncSession, staff_id: int, password_hash: str) -> None:
    """Store a staff member's new password hash."""
    await session.execute(
        update(StaffMember).where(StaffMember.id == staff_id).values(password_hash=password_hash)
    )


async def accounts(
    session: AsyncSession, centre_code: str | None = None
) -> Sequence[tuple[StaffMember, SignInFailures | None]]:
    """Every staff member with their failed sign-ins, by centre and username."""
    query = (
        select(StaffMember, SignInFailures)
        .outerjoin(SignInFailures, SignInFailures.staff_id == StaffMember.id)
        .order_by(StaffMember.centre_code, StaffMember.username)
    )
    if centre_code is not None:
        query = query.where(StaffMember.centre_code == centre_code)
    return [(member, failures) for member, failures in (await session.execute(query)).all()]


async def staff_without_password(session: AsyncSession) -> Sequence[StaffMember]:
    """Active staff who cannot sign in yet."""
    query = select(StaffMember).where(StaffMember.password_hash.is_(None), StaffMember.active)
    return (await session.scalars(query)).all()
