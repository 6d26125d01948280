"""Shapes of the shift page and the wall board."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, field_validator

from callcenter.coverage.schemas import CoverageBoard, CoverageNoticeRead
from callcenter.incidents.schemas import IncidentRead
from callcenter.workorders.schemas import WorkOrderRead
from kernel.models import StaffRole

# A hand-over note is a few lines read at the start of a shift, not a report.
NOTE_MAX_CHARS = 2_000


class MyItems(BaseModel):
    """What a person leaves open or takes over: the incidents they hold, their centre's other
    open incidents, the work orders to see to, and (supervisors) the gaps in the roster ahead."""

    centre_code: str = Field(description="The person's centre (the street centre for street staff)")
    held: list[IncidentRead] = Field(description="Open incidents assigned to me, most urgent first")
    centre_open: list[IncidentRead] = Field(
        description="My centre's other open incidents, most urgent first"
    )
    work_orders: list[WorkOrderRead] = Field(
        description="Open work orders: a community worker's centre's; for the street's staff, "
        "those they accepted and those past a deadline anywhere; overdue first, then by deadline"
    )
    coverage_notices: list[CoverageNoticeRead] = Field(
        default_factory=list,
        description="For supervisors and admins: the notices of today's and tomorrow's gaps "
        "(a centre with nobody on duty) not over, by start, acknowledged or not",
    )


class NoteRequest(BaseModel):
    """A note to a centre's next shift."""

    text: str = Field(min_length=1, max_length=NOTE_MAX_CHARS)
    centre_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=8,
        description="The centre whose next shift it is for (default: my own centre)",
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the note is empty")
        return text.strip()


class NoteReader(BaseModel):
    """Someone who has read a note, and when."""

    staff_id: int
    name: str
    read_at: dt.datetime


class NoteRead(BaseModel):
    """A hand-over note, who wrote it, who has read it, and what it is to the person asking."""

    id: int
    centre_code: str
    author_staff_id: int
    author_name: str
    text: str
    written_at: dt.datetime
    read_by: list[NoteReader] = Field(description="In the order they read it")
    mine: bool = Field(description="I wrote it")
    read_by_me: bool


class HandoverNotes(BaseModel):
    """A centre's hand-over notes as one person sees them."""

    centre_code: str
    since: dt.datetime = Field(
        description="Notes written since then are for me: the end of my last shift before now "
        "(by the roster), at most UNREAD_LOOK_BACK ago"
    )
    unread: list[NoteRead] = Field(
        description="Others' notes written since `since` that I have not marked read, oldest first"
    )
    recent: list[NoteRead] = Field(
        description="The centre's other notes of the last day (mine, read, or older), newest first"
    )


class StaffOnShift(BaseModel):
    """A staff member's shift (on now, or the next one), and whether they are signed in."""

    staff_id: int
    name: str
    role: StaffRole
    starts_at: dt.datetime
    ends_at: dt.datetime
    signed_in: bool


class SignedInStaff(BaseModel):
    """A staff member with a live session (signed in, not signed out, not expired)."""

    staff_id: int
    name: str
    role: StaffRole
    signed_in_at: dt.datetime = Field(description="When their latest live session began")


class CentreStaff(BaseModel):
    """Who is at a centre: on duty now, on the next shift, signed in now."""

    centre_code: str
    on_duty: list[StaffOnShift] = Field(description="Rostered at this centre now")
    next: list[StaffOnShift] = Field(
        description="The next shift of each role at this centre, within NEXT_SHIFT_WITHIN"
    )
    signed_in: list[SignedInStaff] = Field(description="Staff of this centre signed in now")


class AgeBand(BaseModel):
    """How long an incident has been open: from `from_s` to before `until_s` seconds."""

    key: str = Field(description="escalating, handling, this_shift or earlier")
    from_s: int
    until_s: int | None = Field(description="None: no upper bound")


class CentreIncidents(BaseModel):
    """A centre's open incidents: how many, how urgent, how old."""

    centre_code: str = Field(description="A centre's code, or 'all' for the whole street")
    open: int
    p1: int
    unacknowledged: int
    by_age: list[int] = Field(description="How many are in each of the board's age bands")
    oldest_opened_at: dt.datetime | None


class CommunityDevices(BaseModel):
    """The devices of one community's elders, and how many are online now."""

    community_code: str
    devices: int
    online: int
    offline: int = Field(description="Seen online once, offline now")
    never_connected: int
    share_online: float | None = Field(description="online / devices; None without devices")


class AnswerShare(BaseModel):
    """Today's calls against one bar: the calls decided at it, and those answered within it."""

    within_s: int
    target: float = Field(description="The industry bar: this share answered within `within_s`")
    counted: int = Field(
        description="Calls acknowledged, or open past the bar unacknowledged (a miss)"
    )
    answered: int = Field(description="Acknowledged within `within_s`")
    share: float | None = Field(description="answered / counted; None while nothing is counted")


class AnswersToday(BaseModel):
    """Calls (P1-P3) opened since the street's midnight and how fast they were acknowledged."""

    day: dt.date
    calls: int
    waiting: int = Field(description="Unacknowledged and still within 60 s: not counted yet")
    shares: list[AnswerShare] = Field(description="Within 60 s and within 180 s")


class Board(BaseModel):
    """The supervisor's wall board, as of `at`."""

    at: dt.datetime
    age_bands: list[AgeBand]
    street: CentreIncidents = Field(description="The whole street's open incidents")
    incidents: list[CentreIncidents] = Field(description="Every centre, street centre first")
    devices: list[CommunityDevices]
    staff: list[CentreStaff]
    answers: AnswersToday
    coverage: CoverageBoard = Field(
        description="Centres empty now and next, each community's walking reach, tomorrow's "
        "notices (callcenter/coverage)"
    )
