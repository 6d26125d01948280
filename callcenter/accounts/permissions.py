"""Who may do what, and where: the one permission table, and the checks every route goes through.

The actor is always the signed-in person (`CurrentActor`); nothing in a request body says who
acts. A *target* person (as in "assign to worker N") is checked against what the actor may do.

Scopes: street-wide staff (operators, supervisors, admins) act anywhere; a community worker acts
on their own centre's incidents and elders, and, outside it, on an incident they hold (it was
handed to them across a community line) and that incident's elder, whose profile they need at
the door. Outside what they may see, a record answers 404 as if it did not exist; a role that
may see it but not do this answers 403.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from callcenter.accounts.endpoints import ForbiddenError
from callcenter.accounts.schemas import Actor
from kernel.models import StaffMember, StaffRole


class Action(enum.StrEnum):
    """Everything the API guards, reads of personal data included."""

    INCIDENT_READ = "incident.read"
    INCIDENT_ACKNOWLEDGE = "incident.acknowledge"
    INCIDENT_ASSIGN = "incident.assign"
    INCIDENT_NOTE = "incident.note"
    INCIDENT_STATUS = "incident.status"
    INCIDENT_EMERGENCY = "incident.emergency"  # 120/110/119 called, the reference, the hand-over
    INCIDENT_MERGE = "incident.merge"  # merge two incidents of one elder, or link two incidents
    SMS_LIST = "sms.list"
    SMS_SEND = "sms.send"
    VOICE_CALL = "voice.call"  # ring one's own phone through Twilio and bridge it to a number
    ELDER_SEARCH = "elder.search"
    NATIONAL_ID_READ = "elder.national_id"  # ID numbers and birth dates whole, not masked
    ELDER_VIEW = "elder.view"  # the profile and the readings
    ELDER_AWAY = "elder.away"
    ELDER_THRESHOLD = "elder.threshold"
    ELDER_EXPORT = "elder.export"  # everything held about one elder (PIPL access, portability)
    ELDER_LIFE_STATUS = "elder.life_status"  # deceased or moved away: their alarms stop
    ELDER_CONTACTS = "elder.contacts"  # the elder's phones, the emergency contacts and their order
    ELDER_HOME_ACCESS = "elder.home_access"  # key holder, key-safe and door codes (set, change)
    ELDER_ACCESS_CODES = "elder.access_codes"  # the codes shown, one showing at a time (audited)
    ELDER_MEDICAL = "elder.medical"  # medications, allergies, doctor, preferred hospital
    SHIFT_HANDOVER = "shift.handover"  # my open items, notes to the next shift, who is on
    BOARD_READ = "board.read"  # the wall board: incidents by age, devices, staff, answer shares
    ROSTER_EDIT = "roster.edit"
    REPORT_READ = "report.read"
    CARE_CALL_READ = "care_call.read"  # the day's care-call list, a call's numbers, its report
    CARE_CALL_RECORD = "care_call.record"  # a try at a care call: answered or not, what it found
    WEATHER_WARNING = "care_call.weather"  # a typhoon, heat or cold warning that adds calls
    WORK_ORDER_READ = "work_order.read"  # service requests: the list, one order, its history
    WORK_ORDER_CREATE = "work_order.create"  # one taken on the phone
    WORK_ORDER_HANDLE = "work_order.handle"  # accept, provider and appointment, note, close
    PROVIDER_EDIT = "provider.edit"  # the list of service providers and volunteers
    MAINTENANCE_READ = "maintenance.read"  # devices' orders for the installer, the self-tests
    MAINTENANCE_HANDLE = "maintenance.handle"  # close one with what was done, a note


class Scope(enum.Enum):
    """Where a role may do an action."""

    STREET = "anywhere in the street"
    OWN_CENTRE = "their own centre only"
    OWN_CENTRE_OR_HELD = "their own centre, and an incident they hold (with its elder) anywhere"
    HELD = "only an incident they hold"


A = Action
_FLOOR: dict[Action, Scope] = {
    A.INCIDENT_READ: Scope.STREET,
    A.INCIDENT_ACKNOWLEDGE: Scope.STREET,
    A.INCIDENT_ASSIGN: Scope.STREET,
    A.INCIDENT_NOTE: Scope.STREET,
    A.INCIDENT_STATUS: Scope.STREET,
    A.INCIDENT_EMERGENCY: Scope.STREET,
    # Merging closes an incident and releases its worker: the street's dispatch decides it (a
    # community worker who finds two for one door tells the street centre).
    A.INCIDENT_MERGE: Scope.STREET,
    A.SMS_LIST: Scope.STREET,
    A.SMS_SEND: Scope.STREET,
    # A call through the centre's Twilio account rings the caller's own phone first: the
    # floor calls anyone on an incident; a community worker only about an incident they hold.
    A.VOICE_CALL: Scope.STREET,
    A.ELDER_SEARCH: Scope.STREET,
    A.ELDER_VIEW: Scope.STREET,
    A.ELDER_AWAY: Scope.STREET,
    # The street's operators keep what they learn on calls up to date: numbers, how to get in,
    # what the elder takes and who their doctor is; the one who sends help reads the codes.
    A.ELDER_CONTACTS: Scope.STREET,
    A.ELDER_HOME_ACCESS: Scope.STREET,
    A.ELDER_ACCESS_CODES: Scope.STREET,
    A.ELDER_MEDICAL: Scope.STREET,
    # Street staff hand over to the street centre's next shift and may read or leave a note at
    # any centre; the wall board is the floor's.
    A.SHIFT_HANDOVER: Scope.STREET,
    A.BOARD_READ: Scope.STREET,
    # Care calls: the street centre calls any community's elders when that centre cannot.
    A.CARE_CALL_READ: Scope.STREET,
    A.CARE_CALL_RECORD: Scope.STREET,
    # The street answers around the clock: a request the centres have not taken yet, or one
    # made on the phone at night, is the operators' to take and arrange.
    A.WORK_ORDER_READ: Scope.STREET,
    A.WORK_ORDER_CREATE: Scope.STREET,
    A.WORK_ORDER_HANDLE: Scope.STREET,
    # Devices are the street's (it buys, installs and replaces them): the floor takes the
    # installer's call and closes the order; community workers never see them.
    A.MAINTENANCE_READ: Scope.STREET,
    A.MAINTENANCE_HANDLE: Scope.STREET,
}
# Supervisors run the floor (rosters, reports), relay the care team's clinical bounds and
# handle complaints and identity checks (ID numbers whole), answer an elder's or their family's
# request for their data, and record a death or a move away; admins keep the register.
_OFFICE: dict[Action, Scope] = {
    **_FLOOR,
    A.NATIONAL_ID_READ: Scope.STREET,
    A.ELDER_THRESHOLD: Scope.STREET,
    A.ELDER_EXPORT: Scope.STREET,
    A.ELDER_LIFE_STATUS: Scope.STREET,
    A.ROSTER_EDIT: Scope.STREET,
    A.REPORT_READ: Scope.STREET,
    # A warning puts calls on every centre's list: the supervisor on duty decides it.
    A.WEATHER_WARNING: Scope.STREET,
    # Who may be sent into elders' homes is the office's choice.
    A.PROVIDER_EDIT: Scope.STREET,
}
PERMISSIONS: dict[StaffRole, dict[Action, Scope]] = {
    StaffRole.OPERATOR: _FLOOR,
    StaffRole.SUPERVISOR: _OFFICE,
    # Admins run the system (accounts, devices) and may stand in for a supervisor.
    StaffRole.ADMIN: _OFFICE,
    StaffRole.COMMUNITY_WORKER: {
        A.INCIDENT_READ: Scope.OWN_CENTRE_OR_HELD,
        A.INCIDENT_ACKNOWLEDGE: Scope.OWN_CENTRE_OR_HELD,
        # Hand on only within their own centre (assignees are checked by `require_assignee`);
        # moving an incident to another community is the street's dispatch.
        A.INCIDENT_ASSIGN: Scope.OWN_CENTRE_OR_HELD,
        A.INCIDENT_NOTE: Scope.OWN_CENTRE_OR_HELD,
        A.INCIDENT_STATUS: Scope.OWN_CENTRE_OR_HELD,
        A.INCIDENT_EMERGENCY: Scope.OWN_CENTRE_OR_HELD,
        A.SMS_LIST: Scope.OWN_CENTRE_OR_HELD,
        A.SMS_SEND: Scope.OWN_CENTRE_OR_HELD,
        A.VOICE_CALL: Scope.HELD,
        A.ELDER_SEARCH: Scope.OWN_CENTRE,
        A.ELDER_VIEW: Scope.OWN_CENTRE_OR_HELD,
        # An away period changes another centre's alarms: only for their own centre's elders.
        A.ELDER_AWAY: Scope.OWN_CENTRE,
        # They know their own centre's elders and keep their record up to date; at another
        # centre's door (an incident they hold) they read the codes to get in, but change nothing.
        A.ELDER_CONTACTS: Scope.OWN_CENTRE,
        A.ELDER_HOME_ACCESS: Scope.OWN_CENTRE,
        A.ELDER_ACCESS_CODES: Scope.OWN_CENTRE_OR_HELD,
        A.ELDER_MEDICAL: Scope.OWN_CENTRE,
        # A service request goes to the elder's own centre: theirs to take, arrange and close.
        A.WORK_ORDER_READ: Scope.OWN_CENTRE,
        A.WORK_ORDER_CREATE: Scope.OWN_CENTRE,
        A.WORK_ORDER_HANDLE: Scope.OWN_CENTRE,
        # A community centre calls its own elders.
        A.CARE_CALL_READ: Scope.OWN_CENTRE,
        A.CARE_CALL_RECORD: Scope.OWN_CENTRE,
        # A worker hands over to the next shift of their own centre.
        A.SHIFT_HANDOVER: Scope.OWN_CENTRE,
    },
}


@dataclass(frozen=True, slots=True)
class Where:
    """Where an action lands: a centre (an incident's, an elder's community), and whether the
    actor holds the incident (for an elder: an open incident of theirs)."""

    centre_code: str
    held: bool = False


def scope_of(actor: Actor, action: Action) -> Scope | None:
    """How far this person may do this action; None: not at all."""
    return PERMISSIONS[actor.role].get(action)


def may(actor: Actor, action: Action, where: Where | None = None) -> bool:
    """Whether this person may do this action (there, when a place is given)."""
    scope = scope_of(actor, action)
    if scope is None:
        return False
    if scope is Scope.STREET or where is None:
        return True
    if scope is Scope.HELD:
        return where.held
    if where.centre_code == actor.centre_code:
        return True
    return scope is Scope.OWN_CENTRE_OR_HELD and where.held


def require(actor: Actor, action: Action, where: Where | None = None) -> None:
    """403 unless this person may do this action (there, when a place is given)."""
    if not may(actor, action, where):
        place = f" at {where.centre_code}" if where is not None else ""
        raise ForbiddenError(f"a {actor.role.value} may not do {action.value}{place}")


def centre_limit(actor: Actor, action: Action) -> str | None:
    """The one centre a listing for this action is narrowed to, or None for the whole street."""
    scope = scope_of(actor, action)
    return None if scope is Scope.STREET else actor.centre_code


def holds(actor: Actor, assigned_staff_id: int | None) -> bool:
    """Whether this person holds an incident assigned to `assigned_staff_id`."""
    return actor.staff_id is not None and assigned_staff_id == actor.staff_id


def require_assignee(actor: Actor, target: StaffMember) -> None:
    """403 unless this person may hand an incident to `target` (who must be able to take it)."""
    if scope_of(actor, Action.INCIDENT_ASSIGN) is None:
        raise ForbiddenError(f"a {actor.role.value} may not assign incidents")
    if Action.INCIDENT_ACKNOWLEDGE not in PERMISSIONS[target.role]:
        raise ForbiddenError(f"a {target.role.value} does not take incidents")
    if (
        scope_of(actor, Action.INCIDENT_ASSIGN) is not Scope.STREET
        and target.centre_code != actor.centre_code
    ):
        raise ForbiddenError(
            f"a {actor.role.value} hands incidents only to staff of {actor.centre_code}"
        )
