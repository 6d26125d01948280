"""Who is calling the API: the signed-in staff member, their role and their centre."""

from __future__ import annotations

from dataclasses import dataclass

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
