"""Which steps of an incident the family hears of, whom to tell, when, and in what words.

The incident's use cases call the `alarm_opened`, `worker_on_the_way` and `incident_resolved`
hooks inside their own unit of work, so the jobs are recorded in the same transaction as the
step (a crash loses neither). They record one job per contact with a mobile; whether and when
each is sent is decided by `decide` when the sender looks at it, with the settings of the day:
the policy (kinds, priorities, welfare findings, how many contacts), the fall-over to the next
contact, quiet hours and the per-number limits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.family import repository
from callcenter.incidents.notices import walking_eta_min
from kernel.models import (
    OPEN_STATUSES,
    WAITING_STATES,
    Elder,
    FamilyMessage,
    FamilyOptOut,
    FamilyStep,
    Incident,
    IncidentKind,
    Outcome,
    SmsState,
    StaffRole,
)
from kernel.settings import Settings

# Twilio's errors that say this number will not take our message, whatever we retry.
PERMANENT_ERRORS = {
    21211: "号码无效 (invalid number)",
    21214: "号码无法接收短信 (not reachable)",
    21408: "未开通该地区发送权限 (region not enabled)",
    21610: "对方已退订 (unsubscribed, STOP)",
    21612: "无法送达该号码 (cannot route)",
    21614: "不是手机号码 (not a mobile)",
}
DELIVERY_FAILED = ("undelivered", "failed")
# Twilio's statuses in the order a message goes through them: a late "sent" never overwrites
# "delivered" (receipts may arrive out of order, and before Twilio's answer to the send).
PROGRESS = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4}


def advances(current: str | None, status: str) -> bool:
    """Whether a status Twilio reports moves the message on from `current`."""
    if current in ("delivered", *DELIVERY_FAILED):
        return False  # final
    return PROGRESS.get(status, 99) > PROGRESS.get(current or "accepted", -1)


# What a receipt may carry into the outbox row (family_messages: twilio_sid String(40),
# delivery_status String(16), error_code integer): Twilio's SIDs are 34 letters and digits,
# its statuses short lower-case words, its error codes five digits.
TWILIO_SID = re.compile(r"[A-Za-z0-9]{1,40}")
TWILIO_STATUS = re.compile(r"[a-z_]{1,16}")


def receipt_form(body: bytes) -> dict[str, str] | None:
    """The fields of a status callback's form body; None if the body is not UTF-8 text (a form
    Twilio signs is percent-encoded ASCII; a stray escape decodes to U+FFFD, never fails)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return dict(parse_qsl(text, keep_blank_values=True))


def whole_number(text: str | None, largest: int) -> int | None:
    """`text` as a whole number from 0 to `largest` (ASCII digits only), else None."""
    if text is None or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= largest else None


LANGUAGES = ("zh", "en")


# --- recording: the hooks the incident use cases call ------------------------------------


async def alarm_opened(session: AsyncSession, incident: Incident) -> None:
    """An incident opened: the family is to hear who, what, and that help is being sent."""
    await _record(session, incident, FamilyStep.OPENED, {}, "alarm-engine")


async def worker_on_the_way(session: AsyncSession, incident: Incident, staff_id: int) -> None:
    """Someone took the incident: the family is to hear who is coming, and when."""
    facts: dict[str, Any] = {}
    found = await repository.staff_and_centre(session, staff_id)
    if found is not None and found[0].role is StaffRole.COMMUNITY_WORKER:
        member, centre = found
        facts["worker"] = member.name
        elder = await session.get(Elder, incident.elder_id) if incident.elder_id else None
        if elder is not None:
            facts["eta_min"] = walking_eta_min(centre, elder)
    await _record(session, incident, FamilyStep.ON_THE_WAY, facts, f"staff:{staff_id}")


async def incident_resolved(session: AsyncSession, incident: Incident) -> None:
    """The incident is over: the family is to hear how it ended (a welfare check: what it found)."""
    step = (
        FamilyStep.WELFARE_FINDING if incident.kind is IncidentKind.WELFARE else FamilyStep.RESOLVED
    )
    await _record(session, incident, step, {"outcome": incident.outcome}, "alarm-engine")


async def _record(
    session: AsyncSession,
    incident: Incident,
    step: FamilyStep,
    facts: dict[str, Any],
    created_by: str,
) -> None:
    if incident.elder_id is None:
        return  # an unidentified caller has no family on record
    contacts = await repository.contacts_with_phone(session, incident.elder_id)
    if not contacts:
        return
    facts = {"elder": incident.elder_name or "", **facts}
    await repository.record_jobs(session, incident, step, contacts, facts, created_by)


# --- deciding: what the sender does with a due job ----------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Send:
    """Send it now."""


@dataclasses.dataclass(frozen=True, slots=True)
class Skip:
    """Never send it; `quiet` for policy skips that need no line on the incident's timeline."""

    reason: str
    quiet: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Wait:
    """Look again at `until` (quiet hours, a flood limit, the contact before this one)."""

    until: dt.datetime
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Fail:
    """A permanent failure known without asking Twilio again."""

    code: int
    reason: str


Decision = Send | Skip | Wait | Fail


def policy_refusal(incident: Incident, step: FamilyStep, settings: Settings) -> str | None:
    """Why the family is not told of this step, or None when they are (the settings' policy)."""
    if step is FamilyStep.MANUAL:
        return None  # an operator decided
    if step is FamilyStep.WELFARE_FINDING:
        if not settings.sms_welfare_findings:
            return "welfare findings are not sent (ELDERCARE_SMS_WELFARE_FINDINGS)"
        if incident.outcome in (None, Outcome.FALSE_ALARM.value):
            return "the welfare check found nothing"
        return None
    if incident.kind.value not in settings.sms_kinds:
        return f"{incident.kind.value} incidents are not sent to families"
    if incident.priority not in settings.sms_priorities:
        return f"P{incident.priority} incidents are not sent to families"
    return None


def is_emergency(incident: Incident) -> bool:
    """Every message about a P1 (an SOS, a fall, a crisis) is an emergency one: an opt-out keeps
    the number out of it only once an operator has confirmed that (docs/sms.md)."""
    return incident.priority == 1


def opt_out_refusal(opt_out: FamilyOptOut | None, incident: Incident) -> str | None:
    """Why an opted-out number is not sent this incident's message, or None when it is."""
    if opt_out is None or not opt_out.opted_out:
        return None
    if not is_emergency(incident):
        return "对方已退订通知短信 (opted out: STOP)"
    if opt_out.emergencies_confirmed_at is not None:
        return "对方已退订，接线员确认紧急短信也不发 (opted out of emergencies too, confirmed)"
    return None


def is_urgent(incident: Incident, step: FamilyStep) -> bool:
    """Urgent messages go at any hour: every step of a P1, and what an operator sends by hand."""
    return incident.priority == 1 or step is FamilyStep.MANUAL


def quiet_until(now: dt.datetime, settings: Settings) -> dt.datetime | None:
    """The end of the quiet hours `now` falls in (UTC), or None outside them."""
    local = now.astimezone(settings.tz)
    starts = dt.time.fromisoformat(settings.sms_quiet_starts)
    ends = dt.time.fromisoformat(settings.sms_quiet_ends)
    clock = local.time()
    inside = (clock >= starts or clock < ends) if starts > ends else (starts <= clock < ends)
    if not inside:
        return None
    end = dt.datetime.combine(local.date(), ends, settings.tz)
    if end <= local:
        end = dt.datetime.combine(local.date() + dt.timedelta(days=1), ends, settings.tz)
    return end.astimezone(dt.UTC)


def flood_until(
    sends: Sequence[dt.datetime], now: dt.datetime, settings: Settings
) -> tuple[dt.datetime, str] | None:
    """When this number may take another message, if a per-number limit is reached now."""
    for window, limit, name in (
        (dt.timedelta(hours=1), settings.sms_per_number_hour, "hour"),
        (dt.timedelta(days=1), settings.sms_per_number_day, "day"),
    ):
        inside = sorted(at for at in sends if at > now - window)
        if len(inside) >= limit:
            # Free again when enough of the oldest ones leave the window.
            return inside[len(inside) - limit] + window, f"{limit} messages a {name} to this number"
    return None


def _reached(
    job: FamilyMessage, now: dt.datetime, window: dt.timedelta, callbacks: bool
) -> bool | None:
    """Whether this contact was reached for its step: True, False, or None (not known yet)."""
    if job.state is SmsState.OUTBOX:
        return True  # nothing more will ever be known: recorded is as far as it goes
    if job.state in (SmsState.FAILED, SmsState.SKIPPED):
        return False
    if job.delivery_status == "delivered":
        return True
    if job.delivery_status in DELIVERY_FAILED:
        return False
    if job.state is SmsState.ACCEPTED and not callbacks:
        return True  # without delivery receipts, Twilio's acceptance is the best we will know
    since = job.sent_at if job.sent_at is not None else job.due_at
    return False if since + window <= now else None


def decide(
    job: FamilyMessage,
    incident: Incident,
    siblings: Sequence[FamilyMessage],
    sends: Sequence[dt.datetime],
    settings: Settings,
    now: dt.datetime,
    opt_out: FamilyOptOut | None = None,
) -> Decision:
    """What to do with a due job, given the incident's other jobs, the number's recent sends and
    its opt-out (STOP / 退订), if any."""
    refusal = policy_refusal(incident, job.step, settings)
    if refusal is not None:
        return Skip(refusal, quiet=True)
    if job.step is not FamilyStep.MANUAL and job.contact_rank > settings.sms_contacts:
        return Skip(f"only the first {settings.sms_contacts} contacts are tried", quiet=True)
    if (
        job.step in (FamilyStep.OPENED, FamilyStep.ON_THE_WAY)
        and incident.status not in OPEN_STATUSES
    ):
        return Skip("superseded: the incident was over first", quiet=True)
    opted_out = opt_out_refusal(opt_out, incident)
    if opted_out is not None:
        return Skip(opted_out)  # on the timeline; the next contact's turn comes (not reached)
    retry_soon = now + dt.timedelta(seconds=1)
    earlier = [j for j in siblings if j.id < job.id and j.phone == job.phone]
    if any(j.state in WAITING_STATES for j in earlier):
        return Wait(retry_soon, "after this contact's earlier message")
    bad = next(
        (j for j in earlier if j.error_code in PERMANENT_ERRORS and j.state is SmsState.FAILED),
        None,
    )
    if bad is not None and bad.error_code is not None:
        return Fail(
            bad.error_code, f"{PERMANENT_ERRORS[bad.error_code]}, as before on this incident"
        )
    if job.step is not FamilyStep.MANUAL and job.contact_rank > 1:
        told_before = any(j.state in (SmsState.ACCEPTED, SmsState.OUTBOX) for j in earlier)
        if not told_before:
            window = dt.timedelta(seconds=settings.sms_unreached_after_s)
            callbacks = bool(settings.sms_public_url)
            before = [
                j for j in siblings
                if j.step is job.step and j.contact_rank < job.contact_rank
            ]  # fmt: skip
            verdicts = [_reached(j, now, window, callbacks) for j in before]
            if any(v is True for v in verdicts):
                reached = next(j for j, v in zip(before, verdicts, strict=True) if v)
                return Skip(f"{reached.relation} {reached.contact_name} was reached", quiet=True)
            if any(v is None for v in verdicts):
                return Wait(retry_soon, "the contact before this one may still be reached")
    if not is_urgent(incident, job.step):
        until = quiet_until(now, settings)
        if until is not None:
            return Wait(until, "quiet hours")
    limited = flood_until(sends, now, settings)
    if limited is not None:
        return Wait(*limited)
    return Send()


def retry_after(attempts: int) -> dt.timedelta:
    """Backoff after the n-th failed attempt: 2, 4, 8 … seconds, at most a minute.

    A family waiting on an alarm should not wait long, and Twilio's 429s clear within seconds.
    """
    return dt.timedelta(seconds=min(60, 2**attempts))


# --- words ---------------------------------------------------------------------------------


@cache
def templates() -> dict[str, Any]:
    """The message texts, by language (callcenter/family/templates/messages.toml)."""
    source = resources.files("callcenter.family").joinpath("templates/messages.toml")
    return tomllib.loads(source.read_text(encoding="utf-8"))


def render(job: FamilyMessage, incident: Incident, settings: Settings) -> str:
    """The message for this job, in the contact's language (Chinese unless `en`)."""
    words = templates()["en" if job.language == "en" else "zh"]
    facts = job.facts
    values = {
        "signature": words["signature"],
        "elder": facts.get("elder", ""),
        "time": incident.opened_at.astimezone(settings.tz).strftime("%H:%M"),
        "worker": facts.get("worker", ""),
        "eta_min": facts.get("eta_min", ""),
        "outcome": words["outcome"].get(facts.get("outcome") or "", facts.get("outcome") or ""),
        "text": facts.get("text", ""),
        "ask": words["ask"],
    }
    if job.step is FamilyStep.MANUAL:
        template = words["manual"]
    elif job.step is FamilyStep.OPENED:
        template = words["opened"].get(incident.kind.value, words["opened"]["other"])
    elif job.step is FamilyStep.ON_THE_WAY:
        variant = "eta" if "eta_min" in facts else "worker" if "worker" in facts else "centre"
        template = words["on_the_way"][variant]
    else:
        template = words[job.step.value]["text"]
    return str(template.format(**values))


def e164(phone: str) -> str:
    """A stored mainland mobile (11 digits) as Twilio wants it: +86…; other forms unchanged."""
    if phone.startswith("+"):
        return phone
    return f"+86{phone}" if len(phone) == 11 and phone.startswith("1") else phone


def masked(phone: str) -> str:
    """A number as the timeline shows it: only its last four digits."""
    return f"尾号{phone[-4:]}"
