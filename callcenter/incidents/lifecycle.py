"""An incident's life after it is taken: on the way, on site, resolved, followed up, closed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.family import service as family
from callcenter.incidents import notices, repository
from kernel import audit
from kernel.errors import DomainError
from kernel.models import OPEN_STATUSES, Incident, IncidentStatus, Outcome

S = IncidentStatus
# Where each status may go next (acknowledging has its own use case: acknowledge.py).
NEXT: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.NEW: frozenset(),
    S.ASSIGNED: frozenset(),
    S.ACKNOWLEDGED: frozenset({S.EN_ROUTE, S.ON_SITE, S.RESOLVED}),
    S.EN_ROUTE: frozenset({S.ON_SITE, S.RESOLVED}),
    S.ON_SITE: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.FOLLOWED_UP, S.CLOSED}),
    S.FOLLOWED_UP: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}


class TransitionRefusedError(DomainError):
    """The incident cannot go to that status from where it is."""

    status_code = 409
    code = "transition_refused"


class OutcomeRequiredError(DomainError):
    """Resolving needs an outcome code."""

    status_code = 422
    code = "outcome_required"


async def change_status(
    session: AsyncSession,
    incident: Incident,
    to: IncidentStatus,
    *,
    staff_id: int,
    now: dt.datetime,
    outcome: Outcome | None = None,
    note: str = "",
) -> None:
    """Move the incident on, with the timeline and audit log saying who, when and why."""
    if to not in NEXT[incident.status]:
        allowed = ", ".join(sorted(NEXT[incident.status])) or "nothing (acknowledge it first)"
        raise TransitionRefusedError(
            f"incident {incident.id} is {incident.status.value}: it can go to {allowed}, not {to.value}"
        )
    if to is S.RESOLVED:
        if outcome is None:
            raise OutcomeRequiredError("say how it ended: an outcome code is needed to resolve")
        incident.outcome = outcome.value
        incident.resolved_at = now
        await notices.queue_notice(session, incident, notices.RESOLVED)
        await family.incident_resolved(session, incident)
    previous = incident.status
    incident.status = to
    if to not in OPEN_STATUSES or to is S.ON_SITE:
        incident.onsite_due_at = None  # someone is there (or it is over): no more on-site chase
    repository.add_entry(
        session,
        incident,
        to.value,
        actor=f"staff:{staff_id}",
        outcome=outcome.value if outcome else None,
        note=note,
    )
    await audit.record(
        session,
        actor=f"staff:{staff_id}",
        action="incident.status",
        subject_type="incident",
        subject_id=incident.id,
        detail={
            "from": previous.value,
            "to": to.value,
            "outcome": outcome.value if outcome else None,
        },
    )
