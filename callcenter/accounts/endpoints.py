"""Sign-in, sign-out, who am I, admin's account management; the `CurrentActor` every route takes.

A browser signs in once and carries an HttpOnly, SameSite=Lax session cookie (pages, API calls
and the live feed's WebSocket); an API client may ask for a bearer token instead. Sessions live
in the database (`staff_sessions`), so every API process knows them and signing out is real.
A browser that signed in also keeps a device cookie: later tries from it are the person's own,
not held back by a stranger's failures on the account (callcenter.accounts.service).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response, WebSocketException, status
from starlette.requests import HTTPConnection

from callcenter.accounts import repository, service
from callcenter.accounts.schemas import (
    Actor,
    Me,
    PasswordChange,
    SignInRequest,
    StaffAccountRead,
)
from callcenter.accounts.service import SignInClient, Throttled
from kernel.bounds import Id
from kernel.errors import DomainError, NotFoundError, raises
from kernel.models import StaffMember, StaffRole, utcnow
from kernel.web import Session

SESSION_COOKIE = "eldercare_session"
DEVICE_COOKIE = "eldercare_device"
# WebSocket close code for "sign in first" (4000-4999 are the application's; 4401 mirrors HTTP).
WS_CLOSE_NOT_SIGNED_IN = 4401

router = APIRouter(prefix="/api/auth", tags=["accounts"])


class NotSignedInError(DomainError):
    """No valid session: sign in first (or the session expired)."""

    status_code = 401
    code = "not_signed_in"


class SignInRefusedError(DomainError):
    """Wrong username or password (or tries on this account from here wait a while: the same
    answer, so that nobody learns which accounts exist)."""

    status_code = 401
    code = "sign_in_refused"


class TooManySignInsError(DomainError):
    """Too many failed sign-ins from this address: try again after Retry-After seconds."""

    status_code = 429
    code = "too_many_sign_ins"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after_s)}

    @classmethod
    def response_doc(cls) -> dict[int | str, dict[str, Any]]:
        """The 429 with its Retry-After header, for OpenAPI."""
        doc = super().response_doc()
        doc[cls.status_code]["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        }
        return doc


class ForbiddenError(DomainError):
    """Signed in, but this role may not do that."""

    status_code = 403
    code = "forbidden"


class StaffNotFoundError(NotFoundError):
    """No staff member with this id."""


def _token(connection: HTTPConnection) -> str | None:
    authorization = connection.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return connection.cookies.get(SESSION_COOKIE)


def _cross_site(connection: HTTPConnection) -> bool:
    """A browser WebSocket opened by another site's page (cookies ride along; refuse it)."""
    origin = connection.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc != connection.headers.get("host")


async def signed_in_member(connection: HTTPConnection) -> StaffMember | None:
    """The staff member whose session this request carries, or None (also remembered on it)."""
    if hasattr(connection.state, "staff_member"):
        member: StaffMember | None = connection.state.staff_member
        return member
    token = _token(connection)
    found = None
    if token:
        async with connection.app.state.sessions() as session:
            found = await service.signed_in(session, token, utcnow())
    connection.state.staff_member = found[0] if found else None
    connection.state.session_expires_at = found[1] if found else None
    return connection.state.staff_member  # type: ignore[no-any-return]


@raises(NotSignedInError)
async def current_actor(connection: HTTPConnection) -> Actor:
    """The signed-in person making this request (an HTTP request or a WebSocket); 401 if none."""
    websocket = connection.scope["type"] == "websocket"
    if websocket and _cross_site(connection):
        raise WebSocketException(WS_CLOSE_NOT_SIGNED_IN, "cross-site connection refused")
    member = await signed_in_member(connection)
    if member is None:
        if websocket:
            raise WebSocketException(WS_CLOSE_NOT_SIGNED_IN, "sign in first")
        raise NotSignedInError("sign in first (or your session has expired)")
    return service.actor_of(member)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def role_in(*roles: StaffRole) -> Callable[[Actor], Coroutine[Any, Any, Actor]]:
    """A dependency: the signed-in person, if their role is one of these (403 otherwise)."""

    @raises(ForbiddenError)
    async def allowed(actor: CurrentActor) -> Actor:
        if actor.role not in roles:
            raise ForbiddenError(f"this needs one of the roles: {', '.join(roles)}")
        return actor

    return allowed


# Supervisors run the floor (rosters, reports); admins run the system (users, devices, settings).
SupervisorActor = Annotated[Actor, Depends(role_in(StaffRole.SUPERVISOR, StaffRole.ADMIN))]
AdminActor = Annotated[Actor, Depends(role_in(StaffRole.ADMIN))]


def _me(member: StaffMember, expires_at: dt.datetime, token: str | None = None) -> Me:
    return Me(
        staff_id=member.id,
        username=member.username,
        name=member.name,
        role=member.role,
        centre_code=member.centre_code,
        expires_at=expires_at,
        token=token,
    )


@router.post(
    "/sign-in",
    response_model=Me,
    response_model_exclude_none=True,
    responses={**SignInRefusedError.response_doc(), **TooManySignInsError.response_doc()},
)
async def sign_in(body: SignInRequest, request: Request, response: Response) -> Me:
    """Sign in: sets the session cookie (or answers a bearer token when `token` is true)."""
    client = SignInClient(
        address=request.client.host if request.client else "unknown",
        device=request.cookies.get(DEVICE_COOKIE),
        keeps_cookies=not body.token,
    )
    # Units of work of its own: a refused sign-in is still counted and audited, then refused.
    outcome = await service.sign_in(
        request.app.state.sessions, body.username, body.password, client, utcnow()
    )
    if isinstance(outcome, Throttled):
        seconds = max(1, int(outcome.retry_after.total_seconds()))
        raise TooManySignInsError(
            f"too many failed sign-ins from this address: try again in {seconds} s", seconds
        )
    if not isinstance(outcome, service.SignedIn):
        raise SignInRefusedError("wrong username or password")
    if body.token:
        return _me(outcome.member, outcome.expires_at, outcome.token)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        outcome.token,
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    if outcome.device is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            outcome.device,
            max_age=int(service.PLACE_REMEMBERED.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/api/auth/sign-in",
        )
    return _me(outcome.member, outcome.expires_at)


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(actor: CurrentActor, request: Request, session: Session) -> Response:
    """End this session; the cookie is cleared."""
    token = _token(request)
    if token is not None:
        await service.sign_out(session, token, actor)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me, response_model_exclude_none=True)
async def me(actor: CurrentActor, request: Request) -> Me:
    """The signed-in staff member and when the session ends."""
    del actor
    return _me(request.state.staff_member, request.state.session_expires_at)


@router.get("/accounts", response_model=list[StaffAccountRead])
async def list_accounts(actor: AdminActor, session: Session) -> list[StaffAccountRead]:
    """Every staff account, whether it has a password and until when tries on it wait (admins)."""
    del actor
    now = utcnow()
    return [
        StaffAccountRead(
            staff_id=member.id,
            username=member.username,
            name=member.name,
            role=member.role,
            centre_code=member.centre_code,
            active=member.active,
            has_password=member.password_hash is not None,
            locked_until=held_until if held_until is not None and held_until > now else None,
        )
        for member, held_until in await repository.accounts(session)
    ]


@router.put(
    "/accounts/{staff_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=StaffNotFoundError.response_doc(),
)
async def set_password(
    staff_id: Id, body: PasswordChange, actor: AdminActor, session: Session
) -> Response:
    """Set a staff member's password (admins): unlocks the account, ends its sessions."""
    member = await session.get(StaffMember, staff_id)
    if member is None:
        raise StaffNotFoundError(f"staff member {staff_id} does not exist")
    await service.set_password(session, member, body.password, by=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
