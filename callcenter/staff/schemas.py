"""Staff as the operator API shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from callcenter.voice.schemas import OptionalPhone
from kernel.models import StaffRole


class StaffRead(BaseModel):
    """A staff member, whether they are on duty now and how much they hold."""

    id: int
    name: str
    role: StaffRole
    centre_code: str
    phone: str | None
    active: bool
    on_duty: bool = Field(description="On a rostered shift right now")
    open_incidents: int = Field(description="Open incidents assigned to them")


class OwnPhone(BaseModel):
    """A staff member's own phone: click-to-call rings it before it bridges to the elder."""

    phone: OptionalPhone


class OwnPhoneRead(BaseModel):
    """A staff member and their own phone."""

    staff_id: int
    phone: str | None
