"""The rules of the privacy duties: recording a death or a move away (the alarms stop), the
retention period, and what anonymising an elder leaves.

Recording a death or a move away, in one transaction with the elder locked: the elder's open
incidents close with the reason, family SMS not yet sent are skipped, and their devices are
unbound (an SOS pressed on one is still answered, as a terminal bound to nobody; see
callcenter/incidents/service.py). The alarm engine, which locks the elder too while judging
their events, raises nothing in their name from then on; the welfare and technical checks pass
them by.

Anonymising (once the retention period is over, callcenter/privacy/tasks.py): what names or
locates the person goes (name, ID number, phones, address and home position, birth day,
conditions, remarks, contacts, their own bounds, away periods, every device event and reading,
the SMS to their family, the raw register rows that carry their ID number, and the text of every
hand-over note that names them or holds one of their numbers); what counts stays
(the elder row with community, sex, year of birth, living situation and self-care; the
incidents with kind, priority, times, centre, holder and outcome, and their steps with the
details that hold no personal data). The audit log keeps ids only, as it always has.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.incidents import repository as incidents_repository
from callcenter.incidents.schemas import TimelineEntryRead
from callcenter.privacy import repository
from callcenter.privacy.schemas import (
    ElderExport,
    ExportedAuditEntry,
    ExportedAway,
    ExportedContact,
    ExportedDevice,
    ExportedElder,
    ExportedEvent,
    ExportedIncident,
    ExportedMessage,
    ExportedThreshold,
    LifeStatusRequest,
)
from callcenter.shifts import repository as shifts_repository
from callcenter.workorders import repository as work_orders_repository
from callcenter.workorders import service as work_orders
from kernel import audit
from kernel.errors import DomainError
from kernel.models import Elder, IncidentStatus
from kernel.models.elders import LifeStatus
from kernel.settings import Settings

# How the timeline and the audit log name the retention task (no person: the calendar acts).
RETENTION_ACTOR = "retention"
ANONYMISED_NAME = "已匿名"
ANONYMISED_ROUTING = "已匿名 (anonymised)"
# A hand-over note that named the elder reads this instead (its author, centre and time stay).
ANONYMISED_NOTE = "[已匿名]"
# The details of an incident step kept after anonymising: codes, levels and staff ids, none of
# them about the person (a reading's summary, a note, a family member's name are not).
KEPT_STEP_KEYS = frozenset({
    "type", "band", "centre", "staff_id", "outcome", "reason", "level", "from", "to", "kind",
    "supervisor_id", "holder", "minutes_open", "unidentified_caller", "registered_elder_departed",
    "status", "step", "message_id", "error_code",
    # One emergency, one case: which incidents were merged or linked, a call-back's result.
    "into", "merged", "linked", "released", "raised_to", "result",
})  # fmt: skip


class ElderAnonymisedError(DomainError):
    """The elder's personal data is already anonymised: their record cannot change any more."""

    status_code = 409
    code = "elder_anonymised"


class LeavingDayError(DomainError):
    """The day of death or moving away is in the future, or before the elder was born."""

    status_code = 422
    code = "leaving_day_out_of_range"


@dataclasses.dataclass(frozen=True, slots=True)
class LifeStatusChange:
    """What recording a life status did."""

    changed: bool
    closed_incidents: list[int]
    unbound_devices: list[str]
    skipped_messages: int


def anonymise_on(elder: Elder, settings: Settings) -> dt.date | None:
    """The day the elder's personal data is anonymised: the retention period after the later
    of the day they left and the day it was recorded (a death recorded late keeps the whole
    period); None while they are active."""
    if elder.life_status is LifeStatus.ACTIVE or elder.life_status_on is None:
        return None
    recorded = (elder.life_status_recorded_at or dt.datetime.now(dt.UTC)).astimezone(settings.tz)
    return max(elder.life_status_on, recorded.date()) + dt.timedelta(
        days=settings.privacy_retention_days
    )


def outcome_for(status: LifeStatus) -> str:
    """The outcome code an incident closed by this life status carries (reports count by it)."""
    return f"elder_{status.value}"


async def record_life_status(
    session: AsyncSession,
    elder: Elder,
    request: LifeStatusRequest,
    *,
    actor: str,
    now: dt.datetime,
    today: dt.date,
) -> LifeStatusChange:
    """Record that the elder died or moved away (or is active again); `elder` must be locked."""
    if elder.anonymised_at is not None:
        raise ElderAnonymisedError(f"elder {elder.id} was anonymised: the record cannot change")
    if request.on is not None and not elder.birth_date <= request.on <= today:
        raise LeavingDayError(
            f"{request.on.isoformat()} is not between the elder's birth and today"
        )
    if request.status is elder.life_status and request.on == elder.life_status_on:
        return LifeStatusChange(False, [], [], 0)
    previous = elder.life_status
    elder.life_status = request.status
    elder.life_status_on = request.on
    elder.life_status_recorded_at = now
    elder.life_status_recorded_by = actor
    closed: list[int] = []
    unbound: list[str] = []
    skipped = 0
    if request.status is not LifeStatus.ACTIVE:
        outcome = outcome_for(request.status)
        closed = await _close_open_incidents(session, elder.id, outcome, actor=actor, now=now)
        await work_orders.cancel_for_departure(
            session, await work_orders_repository.open_orders_for_update(session, elder.id),
            outcome, now, by=actor,
        )  # fmt: skip
        skipped = await repository.skip_waiting_messages(session, elder.id, outcome)
        unbound = await repository.unbind_devices(session, elder.id)
        await audit.record_many(
            session,
            [
                (actor, "device.unbound", "device", device, {"was": elder.id, "reason": outcome})
                for device in unbound
            ],
        )
    await audit.record(
        session,
        actor=actor,
        action="elder.life_status_set",
        subject_type="elder",
        subject_id=elder.id,
        # Never the day itself (a date of death is the person's); what changed and what it did.
        detail={
            "from": previous.value,
            "to": request.status.value,
            "incidents_closed": closed,
            "devices_unbound": len(unbound),
            "messages_skipped": skipped,
        },
    )
    return LifeStatusChange(True, closed, unbound, skipped)


async def _close_open_incidents(
    session: AsyncSession, elder_id: int, outcome: str, *, actor: str, now: dt.datetime
) -> list[int]:
    """Close the elder's open incidents with the reason; nothing chases them any more."""
    closed = []
    for incident in await repository.open_incidents_for_update(session, elder_id):
        previous = incident.status
        incident.status = IncidentStatus.CLOSED
        incident.outcome = outcome
        incident.resolved_at = incident.resolved_at or now
        incident.ack_due_at = None
        incident.onsite_due_at = None
        incidents_repository.add_entry(
            session, incident, "closed", actor=actor, outcome=outcome, reason=outcome
        )
        await audit.record(
            session, actor=actor, action="incident.status", subject_type="incident",
            subject_id=incident.id,
            detail={"from": previous.value, "to": IncidentStatus.CLOSED.value, "outcome": outcome},
        )  # fmt: skip
        closed.append(incident.id)
    return closed


def kept_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """A step's detail without what could name or describe the person."""
    return {key: value for key, value in detail.items() if key in KEPT_STEP_KEYS}


async def anonymise(session: AsyncSession, elder: Elder, now: dt.datetime) -> dict[str, int]:
    """Replace or remove the elder's personal data and delete their events; `elder` must be
    locked. Returns how much went, by kind (ids and counts only: for the audit log)."""
    national_id = elder.national_id
    home = await repository.centre_position(session, elder.community_code)
    counts = await repository.delete_personal_records(session, elder.id)
    counts["device_events"] = await repository.delete_device_events(session, elder.id)
    counts["sms"] = await repository.delete_family_messages(session, elder.id)
    kept = {
        step.id: (step.detail, kept_detail(step.detail))
        for step in await repository.steps_of(session, elder.id)
    }
    await repository.set_step_details(
        session, {step_id: new for step_id, (old, new) in kept.items() if new != old}
    )
    counts |= await repository.blank_care_calls_and_work_orders(session, elder.id)
    await repository.set_work_order_step_details(
        session,
        {
            step.id: kept_detail(step.detail)
            for step in await repository.work_order_steps_of(session, elder.id)
            if kept_detail(step.detail) != step.detail
        },
    )
    counts["incidents"] = await repository.blank_routing(session, elder.id, ANONYMISED_ROUTING)
    counts["register_rows"] = await repository.blank_register_rows(session, national_id)
    # Notes are free text: one that names the elder, or holds a number of theirs, goes whole
    # (a name in a sentence cannot be cut out reliably, and the rest is about them).
    counts["handover_notes"] = await shifts_repository.blank_notes_naming(
        session, [elder.name], [elder.phone or "", elder.second_phone or "", national_id],
        ANONYMISED_NOTE,
    )  # fmt: skip
    counts["devices_unbound"] = len(await repository.unbind_devices(session, elder.id))
    elder.name = ANONYMISED_NAME
    elder.national_id = f"anon-{elder.id}"  # unique like the column, and never an ID number
    elder.birth_date = dt.date(elder.birth_date.year, 1, 1)
    elder.address = ""
    if home is not None:
        elder.lat, elder.lon = home
    elder.phone = None
    elder.conditions = []
    elder.remarks = ""
    # What the call centre kept up to date itself (callcenter/elders/editing.py).
    for name in (
        "second_phone", "key_holder_name", "key_holder_relation", "key_holder_phone",
        "key_safe_code", "door_code", "doctor_name", "doctor_phone", "doctor_clinic",
        "preferred_hospital", "console_edits",
    ):  # fmt: skip
        setattr(elder, name, None)
    elder.access_notes = ""
    elder.medications = []
    elder.allergies = []
    elder.record_hash = ""
    if elder.life_status_on is not None:
        elder.life_status_on = elder.life_status_on.replace(day=1)  # the month, for statistics
    elder.anonymised_at = now
    await audit.record(
        session, actor=RETENTION_ACTOR, action="elder.anonymised", subject_type="elder",
        subject_id=elder.id, detail=counts,
    )  # fmt: skip
    return counts


async def export(
    session: AsyncSession, elder: Elder, *, actor: str, now: dt.datetime
) -> ElderExport:
    """Everything the system holds about the elder, as one document."""
    incidents = await repository.incidents(session, elder.id)
    incident_ids = [incident.id for incident in incidents]
    steps = await repository.timelines(session, incident_ids)
    contacts = await repository.contacts(session, elder.id)
    attempts = await repository.care_call_attempts(session, elder.id)
    order_steps = await repository.work_order_steps_of(session, elder.id)
    return ElderExport(
        exported_at=now,
        exported_by=actor,
        elder=ExportedElder.model_validate(
            {
                **{
                    name: getattr(elder, name)
                    for name in ExportedElder.model_fields
                    if not name.endswith("_code_held")
                },
                "key_safe_code_held": bool(elder.key_safe_code),
                "door_code_held": bool(elder.door_code),
            }
        ),
        contacts=[ExportedContact.model_validate(c) for c in contacts],
        devices=[
            ExportedDevice.model_validate(d) for d in await repository.devices(session, elder.id)
        ],
        away_periods=[
            ExportedAway.model_validate(a) for a in await repository.away_periods(session, elder.id)
        ],
        thresholds=[
            ExportedThreshold.model_validate(t)
            for t in await repository.thresholds(session, elder.id)
        ],
        incidents=[
            ExportedIncident.model_validate(incident).model_copy(
                update={
                    "timeline": [TimelineEntryRead.model_validate(s) for s in steps[incident.id]]
                }
            )
            for incident in incidents
        ],
        device_events=[
            ExportedEvent.model_validate(e)
            for e in await repository.device_events(session, elder.id)
        ],
        sms=[
            ExportedMessage.model_validate(m)
            for m in await repository.family_messages(session, incident_ids)
        ],
        family_replies=[
            repository.as_stored(reply)
            for reply in await repository.family_replies(
                session, incident_ids, [c.id for c in contacts]
            )
        ],
        care_calls=[
            repository.as_stored(call)
            | {"attempts": [repository.as_stored(a) for a in attempts if a.call_id == call.id]}
            for call in await repository.care_calls(session, elder.id)
        ],
        work_orders=[
            repository.as_stored(order)
            | {
                "steps": [
                    repository.as_stored(step)
                    for step in order_steps
                    if step.work_order_id == order.id
                ]
            }
            for order in await repository.work_orders(session, elder.id)
        ],
        audit=[
            ExportedAuditEntry.model_validate(a)
            for a in await repository.audit_entries(session, elder.id, incident_ids)
        ],
    )
