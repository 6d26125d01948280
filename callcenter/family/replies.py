"""A family member answers our SMS: what the answer says, which incident it is about, what follows.

Twilio posts each SMS sent to our number to `/api/sms/inbound` (signed; the endpoint checks the
signature). `receive` reads it in the request's unit of work:

- who: the number, matched to the newest message that went to it about an open incident (that
  message's contact and incident); none open, the reply is kept unmatched for an operator;
- what: "1" / 我去 (going), "2" / 去不了 (cannot), STOP / 退订 and Twilio's opt-out words,
  START / 订阅 and Twilio's opt-in words, or any other text, kept as written;
- then: a step on the incident's timeline in words (the live feed shows it at once), the
  number opted out or back in (recorded and audited), and a short answer for the TwiML.

A family member on the way changes no deadline: the worker still goes and escalation still
runs (docs/sms.md says why); escalation notes who of the family is on the way
(`family_on_the_way`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.family import repository
from callcenter.family.service import masked, templates
from callcenter.incidents.repository import add_entry
from kernel.audit import record
from kernel.models import (
    FamilyMessage,
    FamilyOptOut,
    FamilyReply,
    Incident,
    ReplyKind,
)

GOING_WORDS = {"1", "我去"}
CANNOT_WORDS = {"2", "去不了"}
# Twilio's own opt-out and opt-in words (its default handling on long codes): Twilio answers
# them itself, and blocks our messages to a number that sent STOP until it sends START.
TWILIO_STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
TWILIO_START_WORDS = {"START", "YES", "UNSTOP"}
# Ours, which Twilio does not know: we answer them, and only we honour them.
OWN_STOP_WORDS = {"退订", "TD", "取消订阅"}
OWN_START_WORDS = {"订阅"}
# A sender Twilio names: an E.164 number (or a short code), as family_replies.phone holds it.
SENDER = re.compile(r"\+?[0-9]{3,19}")
# Around a keyword, what people add without meaning anything by it.
_TRIM = re.compile(r"^[\s\W_]+|[\s\W_]+$")

# How the timeline names each kind of reply (callcenter/console/texts.py has the words).
TIMELINE_ACTION = {
    ReplyKind.GOING: "family_going",
    ReplyKind.CANNOT: "family_cannot",
    ReplyKind.TEXT: "family_reply",
    ReplyKind.STOP: "family_opted_out",
    ReplyKind.START: "family_opted_in",
}
# Who acts on the timeline and in the audit log when a family member's SMS changes something.
FAMILY_ACTOR = "family"
# The longest reply kept on the opt-out record (the reply itself keeps all of it).
OPT_OUT_TEXT_KEPT = 160


@dataclasses.dataclass(frozen=True, slots=True)
class Inbound:
    """An SMS to our number, as Twilio posted it (signature already checked)."""

    sid: str
    sender: str  # From, E.164
    body: str
    opt_out_type: str | None = None  # Twilio's OptOutType (Advanced Opt-Out): STOP, START, HELP


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    """What became of an inbound SMS: the reply recorded, and what to answer (None: nothing)."""

    reply: FamilyReply
    answer: str | None


def keyword(body: str) -> str:
    """The body as a keyword: full-width forms folded, spaces and punctuation around it dropped,
    upper case ("  ｓｔｏｐ。" is STOP, "１" is 1)."""
    return _TRIM.sub("", unicodedata.normalize("NFKC", body)).upper()


def classify(body: str, opt_out_type: str | None = None) -> ReplyKind:
    """What a reply says. Twilio's OptOutType, when its Advanced Opt-Out recognised a keyword
    configured there, is taken as it is."""
    if opt_out_type == "STOP":
        return ReplyKind.STOP
    if opt_out_type == "START":
        return ReplyKind.START
    word = keyword(body)
    if word in GOING_WORDS:
        return ReplyKind.GOING
    if word in CANNOT_WORDS:
        return ReplyKind.CANNOT
    if word in TWILIO_STOP_WORDS or word in OWN_STOP_WORDS:
        return ReplyKind.STOP
    if word in TWILIO_START_WORDS or word in OWN_START_WORDS:
        return ReplyKind.START
    return ReplyKind.TEXT


def twilio_answers(body: str, opt_out_type: str | None) -> bool:
    """Whether Twilio answers this message itself (its opt-out, opt-in and help words)."""
    word = keyword(body)
    return opt_out_type is not None or word in TWILIO_STOP_WORDS | TWILIO_START_WORDS | {
        "HELP",
        "INFO",
    }


def stored_phone(sender: str) -> str:
    """A sender's number as the contacts hold it: a mainland mobile without +86."""
    if sender.startswith("+86") and len(sender) == 14 and sender[3] == "1":
        return sender[3:]
    return sender


def phone_forms(sender: str) -> list[str]:
    """Every way the register may have written this number (+8613…, 13…)."""
    return sorted({sender, stored_phone(sender)})


def who(reply: FamilyReply) -> str:
    """A reply's sender as the timeline names them: relation, name, the number's last digits."""
    return " ".join(
        part for part in (reply.relation, reply.contact_name, masked(reply.phone)) if part
    )


def on_the_way(replies: Sequence[FamilyReply]) -> str | None:
    """Who of the family is on the way, by their latest answer ("女儿 李娟"); None if nobody."""
    latest: dict[str, FamilyReply] = {}
    for reply in sorted(replies, key=lambda r: r.id):
        latest[reply.phone] = reply
    going = [
        " ".join(part for part in (r.relation, r.contact_name) if part) or masked(r.phone)
        for r in latest.values()
        if r.kind is ReplyKind.GOING
    ]
    return "、".join(going) or None


async def family_on_the_way(session: AsyncSession, incident_id: int) -> dict[str, Any]:
    """For a timeline step: `family_on_the_way` naming who of the family said they are going
    (and did not take it back), or nothing when nobody did."""
    going = on_the_way(await repository.answers(session, incident_id))
    return {"family_on_the_way": going} if going else {}


def answer_text(kind: ReplyKind, language: str, elder: str) -> str | None:
    """The short confirmation a reply gets (by TwiML), in the contact's language."""
    words = templates()["en" if language == "en" else "zh"]
    template: str = words["reply"][kind.value]
    return template.format(signature=words["signature"], elder=elder or "")


async def receive(session: AsyncSession, inbound: Inbound, now: dt.datetime) -> Received:
    """Record a family member's SMS, put it on its incident's timeline, apply STOP or START."""
    earlier = await repository.reply_by_sid(session, inbound.sid)
    if earlier is not None:
        return Received(earlier, None)  # Twilio retried the webhook: recorded and answered once
    phone = stored_phone(inbound.sender)
    forms = phone_forms(inbound.sender)
    answered = await repository.last_message_to(session, forms, open_only=True)
    named = answered or await repository.last_message_to(session, forms, open_only=False)
    opt_out = await repository.opt_out_of(session, phone)
    kind = classify(inbound.body, inbound.opt_out_type)
    if kind is ReplyKind.START and (opt_out is None or not opt_out.opted_out):
        kind = ReplyKind.TEXT  # "YES" from a number that never opted out is an answer, not a wish
    row = {
        "message_sid": inbound.sid, "received_at": now, "phone": phone, "body": inbound.body,
        "kind": kind, "incident_id": answered.incident_id if answered else None,
        "family_message_id": answered.id if answered else None,
        **await _contact_fields(session, named, forms),
    }  # fmt: skip
    reply = await repository.record_reply(session, row)
    if reply is None:  # the same sid, recorded by a concurrent delivery of this webhook
        found = await repository.reply_by_sid(session, inbound.sid)
        assert found is not None
        return Received(found, None)
    incident = await session.get(Incident, reply.incident_id) if reply.incident_id else None
    if kind in (ReplyKind.STOP, ReplyKind.START):
        await _opt(session, reply, incident, now)
    if incident is not None:
        detail: dict[str, Any] = {"family_member": who(reply)}
        if kind is ReplyKind.TEXT or kind in (ReplyKind.STOP, ReplyKind.START):
            detail["text"] = reply.body
        if kind in (ReplyKind.GOING, ReplyKind.CANNOT):
            # Who is on the way once this answer counts (null: nobody, the last one took it back).
            detail["family_on_the_way"] = on_the_way(await repository.answers(session, incident.id))
        add_entry(session, incident, TIMELINE_ACTION[kind], actor=FAMILY_ACTOR, at=now, **detail)
    answer = None
    if not twilio_answers(inbound.body, inbound.opt_out_type) and (
        incident is not None or kind in (ReplyKind.STOP, ReplyKind.START)
    ):
        elder = (incident.elder_name or "") if incident is not None else ""
        answer = answer_text(kind, reply.language, elder)
    return Received(reply, answer)


async def _contact_fields(
    session: AsyncSession, named: FamilyMessage | None, forms: Sequence[str]
) -> dict[str, object]:
    """Who the number belongs to: the contact its last message went to, else a contact with it."""
    if named is not None:
        return {"contact_id": named.contact_id, "contact_name": named.contact_name,
                "relation": named.relation, "language": named.language}  # fmt: skip
    contact = await repository.contact_with_phone(session, forms)
    if contact is None:
        return {"contact_id": None, "contact_name": "", "relation": "", "language": "zh"}
    return {"contact_id": contact.id, "contact_name": contact.name,
            "relation": contact.relation, "language": contact.language or "zh"}  # fmt: skip


async def _opt(
    session: AsyncSession, reply: FamilyReply, incident: Incident | None, now: dt.datetime
) -> FamilyOptOut:
    """STOP / 退订: the number out of non-emergency messages; START / 订阅: back in. Either way
    an operator's earlier confirmation for emergencies no longer holds."""
    out = reply.kind is ReplyKind.STOP
    text = reply.body[:OPT_OUT_TEXT_KEPT]
    opt_out = await repository.opt_out_row(
        session, reply.phone, {"opted_out": out, "changed_at": now, "text": text}
    )
    opt_out.opted_out, opt_out.changed_at, opt_out.text = out, now, text
    opt_out.reply_id = reply.id
    opt_out.emergencies_confirmed_at = opt_out.emergencies_confirmed_by = None
    if out:
        opt_out.incident_id = incident.id if incident is not None else None
    await record(
        session, actor=FAMILY_ACTOR, action="sms.opted_out" if out else "sms.opted_in",
        subject_type="sms_opt_out", subject_id=opt_out.id,
        detail={"phone": masked(reply.phone), "text": text, "reply_id": reply.id,
                "incident_id": incident.id if incident is not None else None},
    )  # fmt: skip
    return opt_out


async def confirm_for_emergencies(
    session: AsyncSession,
    opt_out: FamilyOptOut,
    actor: str,
    incident: Incident | None,
    now: dt.datetime,
) -> None:
    """An operator confirms an opt-out covers emergencies too (a P1's messages stop): audited,
    and on the incident it came in on."""
    opt_out.emergencies_confirmed_at, opt_out.emergencies_confirmed_by = now, actor
    await record(
        session, actor=actor, action="sms.opt_out_confirmed", subject_type="sms_opt_out",
        subject_id=opt_out.id, detail={"phone": masked(opt_out.phone), "text": opt_out.text},
    )  # fmt: skip
    if incident is not None:
        detail: dict[str, Any] = {"family_member": masked(opt_out.phone), "text": opt_out.text}
        add_entry(session, incident, "family_opt_out_confirmed", actor=actor, at=now, **detail)
