"""Sign-in rules: argon2id passwords, expiring server-side sessions, lockout after failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts import repository
from callcenter.accounts.schemas import Actor
from kernel.audit import record
from kernel.models import SignInFailures, StaffMember

# One 8-hour operator shift or a 12-hour supervisor's, plus handover; then sign in again.
SESSION_LIFETIME = dt.timedelta(hours=13)
# Five wrong passwords within 15 minutes lock the account for 15 minutes: slow enough to stop
# guessing, short enough that a worker who mistyped is back before a supervisor could be found.
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCKOUT = dt.timedelta(minutes=15)

# argon2id with argon2-cffi's defaults, RFC 9106's second recommended profile (t=3, 64 MiB, p=4):
# about 50 ms a check on the reference machine, run off the event loop.
_hasher = PasswordHasher()


class Refusal(enum.StrEnum):
    """Why a sign-in was refused (audited; the caller learns only 'wrong' or 'locked')."""

    UNKNOWN_USER = "unknown_user"
    NO_PASSWORD = "no_password"
    INACTIVE = "inactive"
    WRONG_PASSWORD = "wrong_password"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the member, the token to hand to the client, when it ends."""

    member: StaffMember
    token: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Refused:
    """A refused sign-in, and until when the account is locked if it is."""

    reason: Refusal
    locked_until: dt.datetime | None = None


def hash_password(password: str) -> str:
    """An argon2id hash of the password (blocking: about 50 ms)."""
    return _hasher.hash(password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _decoy_hash() -> str:
    # Checked against when there is no account, so an unknown username costs the same time.
    return _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    """How a session token is stored: its sha256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def actor_of(member: StaffMember) -> Actor:
    """The API's view of a staff member."""
    return Actor(staff_id=member.id, role=member.role, centre_code=member.centre_code)


async def sign_in(
    session: AsyncSession, username: str, password: str, now: dt.datetime
) -> SignedIn | Refused:
    """Check the password, count failures and lock, open a session; every outcome audited."""
    member = await repository.staff_by_username(session, username.strip())
    if member is None or member.password_hash is None or not member.active:
        await asyncio.to_thread(_matches, _decoy_hash(), password)
        if member is None:
            reason = Refusal.UNKNOWN_USER
        else:
            reason = Refusal.INACTIVE if not member.active else Refusal.NO_PASSWORD
        # The typed username is not recorded: people type passwords into that box.
        await record(
            session, actor="anonymous", action="auth.sign_in_failed", subject_type="staff",
            subject_id=member.id if member is not None else "unknown", detail={"reason": reason},
        )  # fmt: skip
        return Refused(reason)
    failures = await repository.failures_of(session, member.id)
    if failures is not None and failures.locked_until is not None and failures.locked_until > now:
        await _audit_failure(session, member, Refusal.LOCKED)
        return Refused(Refusal.LOCKED, failures.locked_until)
    if not await asyncio.to_thread(_matches, member.password_hash, password):
        locked_until = await _count_failure(session, member, failures, now)
        await _audit_failure(session, member, Refusal.WRONG_PASSWORD, locked=locked_until)
        if locked_until is not None:
            return Refused(Refusal.LOCKED, locked_until)
        return Refused(Refusal.WRONG_PASSWORD)
    if failures is not None:
        await repository.clear_failures(session, member.id)
    if _hasher.check_needs_rehash(member.password_hash):
        new_hash = await asyncio.to_thread(hash_password, password)
        await repository.set_password_hash(session, member.id, new_hash)
    await repository.delete_expired_sessions(session, now)
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    await repository.add_session(session, token_hash(token), member.id, now, expires_at)
    await record(
        session, actor=f"staff:{member.id}", action="auth.sign_in", subject_type="staff",
        subject_id=member.id, detail={"role": member.role, "centre": member.centre_code},
    )  # fmt: skip
    return SignedIn(member, token, expires_at)


async def _count_failure(
    session: AsyncSession, member: StaffMember, failures: SignInFailures | None, now: dt.datetime
) -> dt.datetime | None:
    """Count one more failure; returns until when the account is now locked, if it is."""
    if failures is None:
        failures = SignInFailures(staff_id=member.id, failures=0, first_failed_at=now)
        session.add(failures)
    elif failures.first_failed_at <= now - FAILURE_WINDOW or failures.locked_until is not None:
        failures.failures, failures.first_failed_at, failures.locked_until = 0, now, None
    failures.failures += 1
    if failures.failures >= MAX_FAILURES:
        failures.locked_until = now + LOCKOUT
    await session.flush()
    return failures.locked_until


async def _audit_failure(
    session: AsyncSession, member: StaffMember, reason: Refusal, locked: dt.datetime | None = None
) -> None:
    detail: dict[str, object] = {"reason": reason}
    if locked is not None:
        detail["locked_until"] = locked.isoformat()
    await record(
        session, actor="anonymous", action="auth.sign_in_failed", subject_type="staff",
        subject_id=member.id, detail=detail,
    )  # fmt: skip


async def signed_in(
    session: AsyncSession, token: str, now: dt.datetime
) -> tuple[StaffMember, dt.datetime] | None:
    """The staff member a token signs in, and when the session ends; None if none or expired."""
    found = await repository.session_member(session, token_hash(token), now)
    if found is None:
        return None
    staff_session, member = found
    return member, staff_session.expires_at


async def sign_out(session: AsyncSession, token: str, actor: Actor) -> None:
    """End this session (audited)."""
    await repository.end_session(session, token_hash(token))
    await record(
        session, actor=actor.name, action="auth.sign_out", subject_type="staff",
        subject_id=actor.staff_id or 0,
    )  # fmt: skip


async def set_password(
    session: AsyncSession, member: StaffMember, password: str, *, by: Actor | str
) -> None:
    """Give a staff member a new password: their other sessions end and any lock is lifted."""
    new_hash = await asyncio.to_thread(hash_password, password)
    await repository.set_password_hash(session, member.id, new_hash)
    await repository.end_sessions_of(session, member.id)
    await repository.clear_failures(session, member.id)
    await record(
        session, actor=by.name if isinstance(by, Actor) else by, action="auth.password_set",
        subject_type="staff", subject_id=member.id,
    )  # fmt: skip


async def give_demo_passwords(session: AsyncSession, password: str) -> int:
    """Give every staff member without a password this one (the demo street); returns how many.

    One hash serves them all: they share the password anyway, and 56 argon2 hashes would add
    three seconds to the first start. Members who already have a password keep it.
    """
    members = await repository.staff_without_password(session)
    if not members:
        return 0
    shared = await asyncio.to_thread(hash_password, password)
    for member in members:
        await repository.set_password_hash(session, member.id, shared)
    await record(
        session, actor="eldercare-up", action="auth.demo_passwords_set", subject_type="staff",
        subject_id="demo", detail={"staff": len(members)},
    )  # fmt: skip
    return len(members)
