"""An operator merges two incidents of one elder into one case, or links incidents that are
different matters; each recorded on both timelines and in the audit log.

Alarms of one elder join the open case by themselves (service.py, `CASE_KINDS`); what does not
(a welfare check, a service request, a technical alarm, an alarm of the elder's other device
before the first was judged) an operator merges by hand. The merged incident is closed with the
outcome `merged`, pointing to the case it joined (`merged_into_id`); its worker is released (it
leaves their tasks at once, the live feed carrying the close) unless they were the one answering
it and nobody had taken the case: then the case goes to them, so that a merge never takes an
emergency from the person already on it. The case keeps the more urgent priority; a call-back
either of them owes stays with it. Links are steps only ("linked"), both ways, any two incidents.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.incidents import repository
from callcenter.incidents.callback import callback_owed
from kernel import audit
from kernel.errors import DomainError
from kernel.models import (
    OPEN_STATUSES,
    Incident,
    IncidentEntry,
    IncidentStatus,
)
from kernel.models.incidents import MERGED_OUTCOME
from kernel.settings import Settings


class Relation(enum.StrEnum):
    """How another incident is tied to this one (the timeline step that says so)."""

    MERGED_IN = "merged_in"  # the other was merged into this one
    MERGED_INTO = "merged_into"  # this one was merged into the other
    LINKED = "linked"  # a different matter, linked by an operator


# Which detail of each step names the other incident.
OTHER = {Relation.MERGED_IN: "merged", Relation.MERGED_INTO: "into", Relation.LINKED: "linked"}


@dataclass(frozen=True, slots=True)
class Tie:
    """Another incident tied to this one, as its timeline says: how, when and by whom."""

    relation: Relation
    incident_id: int
    at: dt.datetime
    by: str


class MergeIntoItselfError(DomainError):
    """An incident cannot be merged into, or linked to, itself."""

    status_code = 422
    code = "merge_into_itself"


class IncidentNotOpenError(DomainError):
    """Only open incidents are merged: a resolved or closed one is already over."""

    status_code = 409
    code = "incident_not_open"


class NotTheSameElderError(DomainError):
    """Incidents of different elders are different matters: link them, do not merge them."""

    status_code = 409
    code = "not_the_same_elder"


class AlreadyLinkedError(DomainError):
    """The two incidents are already linked (or one was merged into the other)."""

    status_code = 409
    code = "already_linked"


def ties_of(timeline: Iterable[IncidentEntry]) -> list[Tie]:
    """The incidents tied to one, from its timeline's steps, in the order they were tied."""
    ties = []
    for entry in timeline:
        if entry.action in Relation.__members__.values():
            relation = Relation(entry.action)
            other = entry.detail.get(OTHER[relation])
            if isinstance(other, int):
                ties.append(Tie(relation, other, entry.at, entry.actor))
    return ties


def _same_elder(one: Incident, other: Incident) -> bool:
    if one.elder_id is not None:
        return one.elder_id == other.elder_id
    # Unidentified callers: the same terminal is the same caller.
    return other.elder_id is None and one.device_id is not None and one.device_id == other.device_id


async def merge(
    session: AsyncSession,
    merged: Incident,
    into: Incident,
    *,
    by: str,
    note: str,
    settings: Settings,
    now: dt.datetime,
) -> None:
    """Close `merged` as part of the case `into` (both locked): one emergency, one case."""
    if merged.id == into.id:
        raise MergeIntoItselfError(f"incident {merged.id} cannot be merged into itself")
    for incident in (merged, into):
        if incident.status not in OPEN_STATUSES:
            raise IncidentNotOpenError(
                f"incident {incident.id} is {incident.status.value}: only open incidents merge"
            )
    if not _same_elder(merged, into):
        raise NotTheSameElderError(
            f"incidents {merged.id} and {into.id} are not of the same elder: link them instead"
        )
    case_detail: dict[str, Any] = {"merged": merged.id, "kind": merged.kind.value}
    if merged.priority < into.priority:
        into.priority = merged.priority
        case_detail["raised_to"] = merged.priority
    merged_detail: dict[str, Any] = {"into": into.id}
    if into.acknowledged_at is None and merged.acknowledged_at is not None:
        # Whoever already answered the merged one answers the case: nobody had taken it.
        case_detail["released"] = into.assigned_staff_id
        into.assigned_staff_id = merged.assigned_staff_id
        into.centre_code = merged.centre_code
        into.acknowledged_at = merged.acknowledged_at
        into.ack_due_at = None
        into.status = merged.status
        case_detail["staff_id"] = into.assigned_staff_id
    elif merged.assigned_staff_id != into.assigned_staff_id:
        merged_detail["released"] = merged.assigned_staff_id
    if (
        into.priority == 1
        and into.onsite_due_at is None
        and into.status is not IncidentStatus.ON_SITE
        and not callback_owed(into)
    ):
        into.onsite_due_at = merged.onsite_due_at or now + dt.timedelta(
            seconds=settings.onsite_escalate_after_s
        )
    merged.status = IncidentStatus.CLOSED
    merged.outcome = MERGED_OUTCOME
    merged.merged_into_id = into.id
    merged.resolved_at = now
    merged.ack_due_at = None
    merged.onsite_due_at = None
    repository.add_entry(session, merged, Relation.MERGED_INTO.value, actor=by, **merged_detail,
                         note=note)  # fmt: skip
    repository.add_entry(session, into, Relation.MERGED_IN.value, actor=by, **case_detail,
                         note=note)  # fmt: skip
    # The audit log keeps ids and codes, not the note (it may name people).
    await audit.record_many(
        session,
        [
            (by, "incident.merged", "incident", merged.id, merged_detail),
            (by, "incident.merged_in", "incident", into.id,
             {key: value for key, value in case_detail.items() if key != "kind"}),
        ],
    )  # fmt: skip


async def link(
    session: AsyncSession,
    one: Incident,
    other: Incident,
    ties: Sequence[Tie],
    *,
    by: str,
    note: str,
) -> None:
    """Link two incidents that are different matters (`ties`: those of `one` already)."""
    if one.id == other.id:
        raise MergeIntoItselfError(f"incident {one.id} cannot be linked to itself")
    if any(tie.incident_id == other.id for tie in ties):
        raise AlreadyLinkedError(f"incidents {one.id} and {other.id} are already tied")
    for this, that in ((one, other), (other, one)):
        repository.add_entry(
            session, this, Relation.LINKED.value, actor=by, linked=that.id,
            kind=that.kind.value, note=note,
        )  # fmt: skip
    await audit.record_many(
        session,
        [
            (by, "incident.linked", "incident", one.id, {"incident": other.id}),
            (by, "incident.linked", "incident", other.id, {"incident": one.id}),
        ],
    )
