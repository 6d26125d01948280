"""Staff as the operator API shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from callcenter.register.normalise import normalise_phone
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

    phone: str | None = Field(max_length=32, examples=["13800138000"])

    @field_validator("phone")
    @classmethod
    def _a_phone(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        number = normalise_phone(value)
        if number is None:
            raise ValueError("not a phone number (a mobile, or a landline such as 0755 2891 2345)")
        return number


class OwnPhoneRead(BaseModel):
    """A staff member and their own phone."""

    staff_id: int
    phone: str | None
