"""Routes: an elder's record edited in the console, by role (callcenter/accounts/permissions.py).

The elder's phones, the emergency contacts and their order, how to get in (the codes shown only
on request), medications, allergies, doctor and hospital. Every edit names the version it is
based on and moves the elder to the next one: an edit based on an older version is refused with
409 `stale_edit`, so two people editing at once never silently overwrite each other. Every edit
and every showing of the codes is audited with the field names, never the values. Away periods,
thresholds (callcenter/elders/endpoints.py) and the life status (callcenter/privacy) have their
own routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action
from callcenter.accounts.schemas import Actor
from callcenter.elders import repository
from callcenter.elders.schemas import (
    AccessCodesRead,
    ContactRead,
    ContactsRead,
    ContactsRequest,
    HomeAccessEdited,
    HomeAccessRead,
    HomeAccessRequest,
    MedicalEdited,
    MedicalRead,
    MedicalRequest,
    PhonesRead,
    PhonesRequest,
)
from callcenter.elders.service import StaleEditError, changed_fields, marked_as_edited
from callcenter.elders.visibility import ElderNotFoundError, visible_elder
from kernel.audit import record
from kernel.bounds import Id
from kernel.errors import DomainError
from kernel.models import Elder, EmergencyContact, utcnow
from kernel.web import Session

router = APIRouter(tags=["elders"])


class ContactNotFoundError(DomainError):
    """A contact id in the list is not one of this elder's contacts."""

    status_code = 422
    code = "unknown_contact"


_EDIT_ERRORS = {
    **ElderNotFoundError.response_doc(),
    **ForbiddenError.response_doc(),
    **StaleEditError.response_doc(),
}


def home_access_read(elder: Elder) -> HomeAccessRead:
    """How to get in, without the codes themselves."""
    return HomeAccessRead(
        key_holder_name=elder.key_holder_name,
        key_holder_relation=elder.key_holder_relation,
        key_holder_phone=elder.key_holder_phone,
        has_key_safe_code=elder.key_safe_code is not None,
        has_door_code=elder.door_code is not None,
        notes=elder.access_notes,
    )


def medical_read(elder: Elder) -> MedicalRead:
    """The elder's medical facts as the API shows them."""
    return MedicalRead.model_validate(
        {
            "medications": elder.medications,
            "allergies": elder.allergies,
            "doctor_name": elder.doctor_name,
            "doctor_phone": elder.doctor_phone,
            "doctor_clinic": elder.doctor_clinic,
            "preferred_hospital": elder.preferred_hospital,
        }
    )


async def _editable(
    session: AsyncSession, elder_id: int, actor: Actor, action: Action, version: int
) -> Elder:
    """The elder, moved to its next version for this person's edit (404, 403, 409 stale)."""
    elder = await visible_elder(session, elder_id, actor, action)
    if not await repository.claim_version(session, elder_id, version):
        await session.refresh(elder)
        raise StaleEditError(
            f"elder {elder_id} was changed since version {version} (now {elder.version}): "
            "reload and edit again"
        )
    await session.refresh(elder)
    return elder


async def _audit(
    session: AsyncSession, actor: Actor, action: str, elder: Elder, **detail: Any
) -> None:
    await record(
        session, actor=actor.name, action=action, subject_type="elder", subject_id=elder.id,
        detail={"version": elder.version, **detail},
    )  # fmt: skip


@router.put("/{elder_id}/phones", response_model=PhonesRead, responses=_EDIT_ERRORS)
async def edit_phones(
    elder_id: Id, body: PhonesRequest, session: Session, actor: CurrentActor
) -> PhonesRead:
    """The elder's own numbers (operators; workers of the elder's centre; audited)."""
    elder = await _editable(session, elder_id, actor, Action.ELDER_CONTACTS, body.version)
    before = {"phone": elder.phone, "second_phone": elder.second_phone}
    changed = changed_fields(before, {"phone": body.phone, "second_phone": body.second_phone})
    if "phone" in changed:  # the register's own phone: a re-import must not undo it silently
        elder.console_edits = marked_as_edited(
            elder.console_edits, "phone", actor=actor.name, at=utcnow()
        )
    elder.phone, elder.second_phone = body.phone, body.second_phone
    await session.flush()
    await _audit(session, actor, "elder.phones_edited", elder, fields=changed)
    return PhonesRead(version=elder.version, phone=elder.phone, second_phone=elder.second_phone)


@router.put(
    "/{elder_id}/contacts",
    response_model=ContactsRead,
    responses={**_EDIT_ERRORS, **ContactNotFoundError.response_doc()},
)
async def edit_contacts(
    elder_id: Id, body: ContactsRequest, session: Session, actor: CurrentActor
) -> ContactsRead:
    """Every emergency contact in the order to call them: a contact with an `id` is kept (and
    changed), one without is added, one left out is removed (its SMS history stays, without
    the link). Operators; workers of the elder's centre; audited."""
    elder = await _editable(session, elder_id, actor, Action.ELDER_CONTACTS, body.version)
    old = await repository.contacts_of(session, elder_id)
    by_id = {contact.id: contact for contact in old}
    unknown = [c.id for c in body.contacts if c.id is not None and c.id not in by_id]
    if unknown:
        raise ContactNotFoundError(f"elder {elder_id} has no contact {unknown[0]}")
    before = [(c.id, c.name, c.relation, c.phone, c.language) for c in old]
    await repository.renumber_out_of_the_way(session, elder_id)
    old = await repository.contacts_of(session, elder_id)  # their positions, now out of the way
    kept: list[EmergencyContact] = []
    for position, wanted in enumerate(body.contacts, start=1):
        contact = by_id.get(wanted.id) if wanted.id is not None else None
        if contact is None:
            contact = EmergencyContact(elder_id=elder_id)
            session.add(contact)
        contact.position, contact.name, contact.relation = position, wanted.name, wanted.relation
        contact.phone, contact.language = wanted.phone, wanted.language
        kept.append(contact)
    removed = [contact.id for contact in old if contact not in kept]
    for contact in old:
        if contact not in kept:
            await session.delete(contact)
    await session.flush()
    after = [(c.id, c.name, c.relation, c.phone, c.language) for c in kept]
    if after != before:
        elder.console_edits = marked_as_edited(
            elder.console_edits, "contacts", actor=actor.name, at=utcnow()
        )
        await session.flush()
    await _audit(
        session, actor, "elder.contacts_edited", elder,
        order=[c.id for c in kept], removed=removed, changed=after != before,
    )  # fmt: skip
    return ContactsRead(
        version=elder.version, contacts=[ContactRead.model_validate(c) for c in kept]
    )


@router.put("/{elder_id}/home-access", response_model=HomeAccessEdited, responses=_EDIT_ERRORS)
async def edit_home_access(
    elder_id: Id, body: HomeAccessRequest, session: Session, actor: CurrentActor
) -> HomeAccessEdited:
    """Who holds a key and how to get in. A code left out of the request stays as it is (the
    editor need not have seen it); null or "" removes it. Operators; workers of the elder's
    centre; audited (which fields changed, never a code)."""
    elder = await _editable(session, elder_id, actor, Action.ELDER_HOME_ACCESS, body.version)
    wanted: dict[str, Any] = {
        "key_holder_name": body.key_holder_name,
        "key_holder_relation": body.key_holder_relation,
        "key_holder_phone": body.key_holder_phone,
        "access_notes": body.notes.strip(),
    }
    for code in ("key_safe_code", "door_code"):
        if code in body.model_fields_set:
            wanted[code] = getattr(body, code)
    changed = changed_fields({name: getattr(elder, name) for name in wanted}, wanted)
    for name, value in wanted.items():
        setattr(elder, name, value)
    await session.flush()
    await _audit(session, actor, "elder.home_access_edited", elder, fields=changed)
    return HomeAccessEdited(version=elder.version, home_access=home_access_read(elder))


@router.get(
    "/{elder_id}/access-codes",
    response_model=AccessCodesRead,
    responses={**ElderNotFoundError.response_doc(), **ForbiddenError.response_doc()},
)
async def show_access_codes(
    elder_id: Id, response: Response, session: Session, actor: CurrentActor
) -> AccessCodesRead:
    """The key-safe and door codes, for the person sending help or at the door: each showing is
    audited (`elder.access_codes_shown`); never part of a profile, a listing or an export.
    Operators, supervisors, admins; a worker for their centre's elders and an incident they
    hold."""
    elder = await visible_elder(session, elder_id, actor, Action.ELDER_ACCESS_CODES)
    await record(
        session, actor=actor.name, action="elder.access_codes_shown", subject_type="elder",
        subject_id=elder_id,
        detail={"key_safe_code": elder.key_safe_code is not None,
                "door_code": elder.door_code is not None},
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return AccessCodesRead(key_safe_code=elder.key_safe_code, door_code=elder.door_code)


@router.put("/{elder_id}/medical", response_model=MedicalEdited, responses=_EDIT_ERRORS)
async def edit_medical(
    elder_id: Id, body: MedicalRequest, session: Session, actor: CurrentActor
) -> MedicalEdited:
    """Medications, allergies, the family or 社康 doctor and the preferred hospital, as they
    should be. Operators; workers of the elder's centre; audited (which fields changed)."""
    elder = await _editable(session, elder_id, actor, Action.ELDER_MEDICAL, body.version)
    wanted: dict[str, Any] = {
        "medications": [m.model_dump() for m in body.medications],
        "allergies": body.allergies,
        "doctor_name": body.doctor_name,
        "doctor_phone": body.doctor_phone,
        "doctor_clinic": body.doctor_clinic,
        "preferred_hospital": body.preferred_hospital,
    }
    changed = changed_fields({name: getattr(elder, name) for name in wanted}, wanted)
    for name, value in wanted.items():
        setattr(elder, name, value)
    await session.flush()
    await _audit(session, actor, "elder.medical_edited", elder, fields=changed)
    return MedicalEdited(version=elder.version, medical=medical_read(elder))
