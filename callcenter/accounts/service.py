"""Sign-in rules: argon2id passwords, expiring server-side sessions, and throttling that slows a
password guesser down without letting a stranger lock staff out.

Two limits, both kept in the database so that every API process (and the embedded SQLite
default) counts the same tries:

- Per account and place. An account's failures count per place it is tried from: a browser it
  signed in from before (its device cookie), an address it signed in from before, or
  elsewhere. Five failures are free; then tries from that place wait 30 s, and each further
  failure doubles the wait, up to 15 min. A stranger's failures make only tries from
  elsewhere wait: the person at their usual desk or phone signs in as always.
- Per client address: 20 failures, then one more every 30 s (429 with Retry-After). Staff
  behind one NAT address (the street call centre) share it, so it counts failures only, and a
  browser that has signed in to the account it tries is not counted nor held back: one
  colleague's typos, or a guesser at the next desk, never keep the others out.

While an account is held, its tries are not checked and are refused exactly as a wrong password
or an unknown username is: the same answer, after the same one argon2 check (a decoy hash when
there is no password to check), so nobody learns which accounts exist or are held.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
import ipaddress
import logging
import math
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.accounts import repository
from callcenter.accounts.schemas import Actor
from kernel.audit import record
from kernel.models import StaffMember

log = logging.getLogger(__name__)

# One 8-hour operator shift or a 12-hour supervisor's, plus handover; then sign in again.
SESSION_LIFETIME = dt.timedelta(hours=13)

# Per account and place. Five free tries cover a person fumbling a new password; after that a
# guesser gets about four tries an hour from any one place, while a typo costs the person 30 s.
FREE_FAILURES = 5
FIRST_HOLD = dt.timedelta(seconds=30)
MAX_HOLD = dt.timedelta(minutes=15)
# An hour without a failure and the count starts afresh (the next typo is free again).
FAILURES_FORGOTTEN_AFTER = dt.timedelta(hours=1)
# A browser or address the account signed in from this recently is one of its usual places;
# the device cookie lives as long. Sixty days covers a worker back from leave.
PLACE_REMEMBERED = dt.timedelta(days=60)
ELSEWHERE = "elsewhere"

# Per client address: a shift change at the call centre, 40 people behind one address, with a
# few typos each, stays well under 20; a guesser is held to 120 an hour from one address.
ADDRESS_BURST = 20
ADDRESS_DRAIN = dt.timedelta(seconds=30)  # one failure forgotten every so often

# argon2id with argon2-cffi's defaults, RFC 9106's second recommended profile (t=3, 64 MiB, p=4):
# about 50 ms a check on the reference machine, run off the event loop.
_hasher = PasswordHasher()


class Refusal(enum.StrEnum):
    """Why a sign-in was refused (audited; the caller learns only 'wrong' or 'too many')."""

    UNKNOWN_USER = "unknown_user"
    NO_PASSWORD = "no_password"
    INACTIVE = "inactive"
    WRONG_PASSWORD = "wrong_password"
    HELD = "held"  # tries on this account from this place wait (not checked)


@dataclass(frozen=True, slots=True)
class SignInClient:
    """Where a sign-in comes from: the client's address, the browser's device cookie, and
    whether it keeps cookies (a browser; an API client asking for a bearer token does not)."""

    address: str
    device: str | None = None
    keeps_cookies: bool = True


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the member, the token to hand to the client, when it ends, and the
    browser's device token (to keep in its cookie)."""

    member: StaffMember
    token: str
    expires_at: dt.datetime
    device: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """A refused sign-in: wrong username or password, to the caller, whatever the reason."""

    reason: Refusal


@dataclass(frozen=True, slots=True)
class Throttled:
    """Too many failures from this client address: try again after `retry_after`."""

    retry_after: dt.timedelta


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
    # Checked against when there is no password to check, so every refusal costs the same time.
    return _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    """How a session token is stored: its sha256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def actor_of(member: StaffMember) -> Actor:
    """The API's view of a staff member."""
    return Actor(staff_id=member.id, role=member.role, centre_code=member.centre_code)


def client_key(address: str) -> str:
    """The address tries are counted under: an IPv6 client's /64 (one subscriber's), else the
    address as given."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _device_place(device: str | None) -> str | None:
    if not device or len(device) > 128:
        return None
    return "device:" + hashlib.sha256(device.encode()).hexdigest()


def _hold_after(failures: int) -> dt.timedelta | None:
    """How long tries wait after this many failures in a row (None: not yet)."""
    if failures < FREE_FAILURES:
        return None
    return min(MAX_HOLD, FIRST_HOLD * 2 ** min(failures - FREE_FAILURES, 16))


@dataclass(frozen=True, slots=True)
class _Try:
    """A try let through to the password check, and what it counted."""

    member: StaffMember | None
    place: str
    address_counted: bool
    checked: bool  # False: held, or no password to check


async def sign_in(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    password: str,
    client: SignInClient,
    now: dt.datetime,
) -> SignedIn | Refused | Throttled:
    """Throttle, check the password, open a session; every outcome but a throttled one audited.

    Each try is counted as a failure *before* its password is checked, and given back if it
    was right, so a burst of tries at once is counted whole. Three short transactions: the
    count, the check outside any (argon2's 50 ms hold no lock), the outcome.
    """
    async with sessions() as session, session.begin():
        taken = await _take_try(session, username.strip(), client, now)
    if isinstance(taken, Throttled):
        return taken
    member = taken.member
    if taken.checked and member is not None and member.password_hash is not None:
        right = await asyncio.to_thread(_matches, member.password_hash, password)
    else:
        await asyncio.to_thread(_matches, _decoy_hash(), password)
        right = False
    async with sessions() as session, session.begin():
        if not right or member is None:
            reason = _refusal(member, taken)
            # The typed username is not recorded: people type passwords into that box.
            await record(
                session, actor="anonymous", action="auth.sign_in_failed", subject_type="staff",
                subject_id=member.id if member is not None else "unknown",
                detail={"reason": reason, "from": taken.place.partition(":")[0]},
            )  # fmt: skip
            return Refused(reason)
        return await _open_session(session, member, password, client, taken, now)


async def _take_try(
    session: AsyncSession, username: str, client: SignInClient, now: dt.datetime
) -> _Try | Throttled:
    """Count this try against the client address and the account's place, or say it waits."""
    member = await repository.staff_by_username(session, username)
    device = _device_place(client.device)
    address = "address:" + client_key(client.address)
    place = ELSEWHERE
    if member is not None:
        candidates = [address] + ([device] if device else [])
        known = await repository.known_places(
            session, member.id, candidates, now - PLACE_REMEMBERED
        )
        if device is not None and device in known:
            place = device
        elif address in known:
            place = address
    # A browser that signed in to this account before is the person's own: not held back by
    # what others behind its address did, nor counted against them.
    counts_address = not place.startswith("device:")
    if counts_address:
        wait = await _count_address(session, client_key(client.address), now)
        if wait is not None:
            return Throttled(wait)
    usable = member is not None and member.active and member.password_hash is not None
    checked = False
    if usable and member is not None:
        checked = await _count_account(session, member.id, place, now)
    return _Try(member, place, counts_address, checked)


async def _count_address(
    session: AsyncSession, address: str, now: dt.datetime
) -> dt.timedelta | None:
    """Count a try against the address; how long to wait instead if its bucket is full."""
    bucket = await repository.client_failures_for_update(session, address, now)
    level = max(0.0, bucket.level - (now - bucket.updated_at) / ADDRESS_DRAIN)
    if level + 1 > ADDRESS_BURST:
        wait = ADDRESS_DRAIN * (level + 1 - ADDRESS_BURST)
        return dt.timedelta(seconds=math.ceil(wait.total_seconds()))
    bucket.level, bucket.updated_at = level + 1, now
    if bucket.level >= ADDRESS_BURST:
        log.warning("sign-in tries from %s wait now: %d failures", address, ADDRESS_BURST)
    await session.flush()
    return None


async def _count_account(
    session: AsyncSession, staff_id: int, place: str, now: dt.datetime
) -> bool:
    """Count a try on the account from this place; False if tries from there wait now."""
    failures = await repository.failures_for_update(session, staff_id, place, now)
    if failures.held_until is not None and failures.held_until > now:
        return False
    if now - failures.last_failed_at > FAILURES_FORGOTTEN_AFTER:
        failures.failures = 0
    failures.failures += 1
    failures.last_failed_at = now
    hold = _hold_after(failures.failures)
    failures.held_until = now + hold if hold is not None else None
    if hold is not None:
        log.warning(
            "sign-in tries on staff %s from %s wait %d s after %d failures",
            staff_id, place.partition(":")[0], hold.total_seconds(), failures.failures,
        )  # fmt: skip
    await session.flush()
    return True


def _refusal(member: StaffMember | None, taken: _Try) -> Refusal:
    if member is None:
        return Refusal.UNKNOWN_USER
    if not member.active:
        return Refusal.INACTIVE
    if member.password_hash is None:
        return Refusal.NO_PASSWORD
    return Refusal.WRONG_PASSWORD if taken.checked else Refusal.HELD


async def _open_session(
    session: AsyncSession,
    member: StaffMember,
    password: str,
    client: SignInClient,
    taken: _Try,
    now: dt.datetime,
) -> SignedIn:
    """The right password: give the counted try back, remember the place, open a session."""
    await repository.clear_failures(session, member.id, taken.place)
    if taken.address_counted:
        bucket = await repository.client_failures_for_update(
            session, client_key(client.address), now
        )
        bucket.level = max(0.0, bucket.level - 1)
    device = None
    if client.keeps_cookies:
        device = client.device if _device_place(client.device) else secrets.token_urlsafe(32)
    for place in ("address:" + client_key(client.address), _device_place(device)):
        if place is not None:
            await repository.remember_place(session, member.id, place, now)
    assert member.password_hash is not None
    if _hasher.check_needs_rehash(member.password_hash):
        new_hash = await asyncio.to_thread(hash_password, password)
        await repository.set_password_hash(session, member.id, new_hash)
    await repository.delete_expired_sessions(session, now)
    await repository.forget_places_before(session, now - PLACE_REMEMBERED)
    await repository.forget_client_failures_before(session, now - ADDRESS_DRAIN * ADDRESS_BURST)
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    await repository.add_session(session, token_hash(token), member.id, now, expires_at)
    await record(
        session, actor=f"staff:{member.id}", action="auth.sign_in", subject_type="staff",
        subject_id=member.id,
        detail={"role": member.role, "centre": member.centre_code,
                "from": taken.place.partition(":")[0]},
    )  # fmt: skip
    return SignedIn(member, token, expires_at, device)


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
    """Give a staff member a new password: their other sessions end and every hold on
    their sign-ins is lifted."""
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
