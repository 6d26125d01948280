"""Who is calling the API: the signed-in staff member, their role and their centre."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, Field

from kernel.models import StaffRole


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind a request, as the API's rules need them."""

    staff_id: int | None
    role: StaffRole
    centre_code: str | None

    @property
    def scope_centre(self) -> str | None:
        """The one centre this person may see, or None for the whole street."""
        return self.centre_code if self.role is StaffRole.COMMUNITY_WORKER else None

    def sees(self, centre_code: str) -> bool:
        """Whether this person may see and act on a centre's incidents and elders."""
        scope = self.scope_centre
        return scope is None or scope == centre_code

    @property
    def name(self) -> str:
        """How the timeline and audit log name this person."""
        return f"staff:{self.staff_id}" if self.staff_id is not None else "system"


class SignInRequest(BaseModel):
    """A username and password; `token` asks for a bearer token instead of a cookie."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    token: bool = Field(
        default=False,
        description="Answer with a bearer token (API clients) instead of setting the cookie.",
    )


class Me(BaseModel):
    """The signed-in staff member."""

    staff_id: int
    username: str
    name: str
    role: StaffRole
    centre_code: str
    expires_at: dt.datetime
    token: str | None = Field(
        default=None, description="Only when asked for at sign-in: send as `Authorization: Bearer`."
    )


class PasswordChange(BaseModel):
    """A new password for a staff member (an admin's reset, or one's own)."""

    password: str = Field(min_length=8, max_length=256)


class StaffAccountRead(BaseModel):
    """A staff member's account as an admin manages it."""

    staff_id: int
    username: str
    name: str
    role: StaffRole
    centre_code: str
    active: bool
    has_password: bool
    locked_until: dt.datetime | None = Field(
        description="Until when sign-in tries on this account wait, from some place (after "
        "failures there); an admin's new password lifts it."
    )
