"""Queries on accounts: staff by username, sessions, failed sign-ins and where from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.database import insert_ignoring_duplicates
from kernel.models import SignInFailures, StaffMember, StaffSession
from kernel.models.accounts import ClientSignInFailures, SignInPlace


async def staff_by_username(session: AsyncSession, username: str) -> StaffMember | None:
    """The staff member with this username (active or not)."""
    return await session.scalar(select(StaffMember).where(StaffMember.username == username))


async def known_places(
    session: AsyncSession, staff_id: int, places: Sequence[str], since: dt.datetime
) -> set[str]:
    """Which of these places the account has signed in from since then."""
    query = select(SignInPlace.place).where(
        SignInPlace.staff_id == staff_id,
        SignInPlace.place.in_(places),
        SignInPlace.last_signed_in_at >= since,
    )
    return set((await session.scalars(query)).all())


async def remember_place(
    session: AsyncSession, staff_id: int, place: str, now: dt.datetime
) -> None:
    """Note that the account signed in from this place now."""
    await insert_ignoring_duplicates(
        session, SignInPlace, [{"staff_id": staff_id, "place": place, "last_signed_in_at": now}]
    )
    await session.execute(
        update(SignInPlace)
        .where(SignInPlace.staff_id == staff_id, SignInPlace.place == place)
        .values(last_signed_in_at=now)
    )


async def forget_places_before(session: AsyncSession, before: dt.datetime) -> None:
    """Forget places no account has signed in from since then."""
    await session.execute(delete(SignInPlace).where(SignInPlace.last_signed_in_at < before))


async def failures_for_update(
    session: AsyncSession, staff_id: int, place: str, now: dt.datetime
) -> SignInFailures:
    """The account's failures from this place (a new, empty row if none), locked until the
    transaction ends: concurrent tries on one account and place count one after another (the
    insert takes SQLite's write lock; PostgreSQL locks the row)."""
    await insert_ignoring_duplicates(
        session,
        SignInFailures,
        [{"staff_id": staff_id, "place": place, "failures": 0, "last_failed_at": now}],
    )
    query = (
        select(SignInFailures)
        .where(SignInFailures.staff_id == staff_id, SignInFailures.place == place)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one()


async def clear_failures(session: AsyncSession, staff_id: int, place: str | None = None) -> None:
    """Forget the account's failed sign-ins from this place (after a success), or from
    everywhere (an admin's new password)."""
    query = delete(SignInFailures).where(SignInFailures.staff_id == staff_id)
    if place is not None:
        query = query.where(SignInFailures.place == place)
    await session.execute(query)


async def client_failures_for_update(
    session: AsyncSession, address: str, now: dt.datetime
) -> ClientSignInFailures:
    """The failures counted against a client address (a new, empty row if none), locked until
    the transaction ends."""
    await insert_ignoring_duplicates(
        session, ClientSignInFailures, [{"address": address, "level": 0.0, "updated_at": now}]
    )
    query = (
        select(ClientSignInFailures)
        .where(ClientSignInFailures.address == address)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one()


async def forget_client_failures_before(session: AsyncSession, before: dt.datetime) -> None:
    """Drop the addresses whose last failure is older than this (their buckets are empty)."""
    await session.execute(
        delete(ClientSignInFailures).where(ClientSignInFailures.updated_at < before)
    )


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
) -> Sequence[tuple[StaffMember, dt.datetime | None]]:
    """Every staff member with the latest end of a hold on their sign-ins from any place (past
    or not), by centre and username."""
    held = (
        select(SignInFailures.staff_id, func.max(SignInFailures.held_until).label("held_until"))
        .group_by(SignInFailures.staff_id)
        .subquery()
    )
    query = (
        select(StaffMember, held.c.held_until)
        .outerjoin(held, held.c.staff_id == StaffMember.id)
        .order_by(StaffMember.centre_code, StaffMember.username)
    )
    if centre_code is not None:
        query = query.where(StaffMember.centre_code == centre_code)
    return [(member, until) for member, until in (await session.execute(query)).all()]


async def staff_without_password(session: AsyncSession) -> Sequence[StaffMember]:
    """Active staff who cannot sign in yet."""
    query = select(StaffMember).where(StaffMember.password_hash.is_(None), StaffMember.active)
    return (await session.scalars(query)).all()
