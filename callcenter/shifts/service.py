"""Rules of the hand-over and the wall board: which notes are news to whom, who comes next, how
open incidents are aged, and how today's calls stand against the industry bar."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from callcenter.reports.service import TARGET_60S, TARGET_180S
from callcenter.shifts.repository import DeviceCounts, OpenCounts, Reading
from callcenter.shifts.schemas import (
    AgeBand,
    AnswerShare,
    AnswersToday,
    CentreIncidents,
    CentreStaff,
    CommunityDevices,
    NoteRead,
    NoteReader,
    SignedInStaff,
    StaffOnShift,
)
from kernel.models import HandoverNote, Shift, StaffMember
from kernel.settings import Settings

# Notes written since the end of a person's last shift are news to them; but no further back
# than this: a community worker back from their two rest days still finds the notes of the days
# they were away, while someone back from leave is not met by a week's worth.
UNREAD_LOOK_BACK = dt.timedelta(hours=72)
# The centre's notes of the last day are listed too (read ones, my own): a day holds every shift
# of the street centre (three of operators, two of supervisors) and one of a community centre.
RECENT_NOTES = dt.timedelta(hours=24)
# Every centre's next shift begins within a day (community centres open daily, the street centre
# never closes); a shift further ahead is not "next" to anyone reading the board.
NEXT_SHIFT_WITHIN = dt.timedelta(hours=24)
# The street's operators work 8-hour shifts: an incident open longer came from an earlier shift.
SHIFT_LENGTH = dt.timedelta(hours=8)
# The industry bars (answered within 60 s and 180 s), as the reports count them.
BARS = ((60, TARGET_60S), (180, TARGET_180S))


def unread_since(last_shift_end: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """From when notes are news to a person: the end of their last shift, within the look-back."""
    earliest = now - UNREAD_LOOK_BACK
    return earliest if last_shift_end is None else max(last_shift_end, earliest)


def note_view(
    note: HandoverNote, author: str, readings: Iterable[Reading], me: int | None
) -> NoteRead:
    """A note as one person sees it: who wrote it, who has read it, whether they did."""
    read_by = [
        NoteReader(staff_id=r.staff_id, name=r.name, read_at=r.read_at)
        for r in readings
        if r.note_id == note.id
    ]
    return NoteRead(
        id=note.id,
        centre_code=note.centre_code,
        author_staff_id=note.author_staff_id,
        author_name=author,
        text=note.text,
        written_at=note.written_at,
        read_by=read_by,
        mine=note.author_staff_id == me,
        read_by_me=any(r.staff_id == me for r in read_by),
    )


def note_views(
    notes: Sequence[tuple[HandoverNote, str]],
    readings: Iterable[Reading],
    me: int | None,
    since: dt.datetime,
    now: dt.datetime,
) -> tuple[list[NoteRead], list[NoteRead]]:
    """The notes unread by me (others', written since `since`, oldest first) and the rest of
    the last RECENT_NOTES (newest first)."""
    by_note: dict[int, list[Reading]] = defaultdict(list)
    for reading in readings:
        by_note[reading.note_id].append(reading)
    unread: list[NoteRead] = []
    recent: list[NoteRead] = []
    for note, author in notes:
        view = note_view(note, author, by_note.get(note.id, []), me)
        if not view.mine and not view.read_by_me and note.written_at >= since:
            unread.append(view)
        elif note.written_at >= now - RECENT_NOTES:
            recent.append(view)
    recent.reverse()
    return unread, recent


def _on_shift(member: StaffMember, shift: Shift, signed_in: set[int]) -> StaffOnShift:
    return StaffOnShift(
        staff_id=member.id,
        name=member.name,
        role=member.role,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        signed_in=member.id in signed_in,
    )


def centre_staff(
    centres: Sequence[str],
    on_duty: Iterable[tuple[StaffMember, Shift]],
    upcoming: Iterable[tuple[StaffMember, Shift]],
    signed_in: Iterable[tuple[StaffMember, dt.datetime]],
) -> list[CentreStaff]:
    """For each of these centres: who is on duty now, who comes on next, who is signed in."""
    signed = list(signed_in)
    live = {member.id for member, _since in signed}
    by_centre = {
        code: CentreStaff(centre_code=code, on_duty=[], next=[], signed_in=[]) for code in centres
    }
    for member, shift in on_duty:
        if shift.centre_code in by_centre:
            by_centre[shift.centre_code].on_duty.append(_on_shift(member, shift, live))
    for member, shift in upcoming:
        if shift.centre_code in by_centre:
            by_centre[shift.centre_code].next.append(_on_shift(member, shift, live))
    for member, since in signed:
        if member.centre_code in by_centre:
            by_centre[member.centre_code].signed_in.append(
                SignedInStaff(
                    staff_id=member.id, name=member.name, role=member.role, signed_in_at=since
                )
            )
    for staff in by_centre.values():
        staff.next.sort(key=lambda s: (s.starts_at, s.role, s.name))
    return list(by_centre.values())


def age_bands(settings: Settings) -> list[AgeBand]:
    """How the board ages open incidents: still escalating (unanswered, the supervisor is called
    at supervisor_escalate_after_s), being handled (until a P1 without anyone on site escalates
    again), opened in this shift, inherited from an earlier shift."""
    escalating = settings.supervisor_escalate_after_s
    handling = max(settings.onsite_escalate_after_s, escalating)
    shift = max(int(SHIFT_LENGTH.total_seconds()), handling)
    return [
        AgeBand(key="escalating", from_s=0, until_s=escalating),
        AgeBand(key="handling", from_s=escalating, until_s=handling),
        AgeBand(key="this_shift", from_s=handling, until_s=shift),
        AgeBand(key="earlier", from_s=shift, until_s=None),
    ]


def centre_incidents(
    centres: Sequence[str], counts: Iterable[OpenCounts], bands: int
) -> tuple[CentreIncidents, list[CentreIncidents]]:
    """The whole street's open incidents and every centre's (a centre with none reads zero)."""
    found = {c.centre_code: c for c in counts}
    rows = []
    for code in [*centres, *sorted(set(found) - set(centres))]:
        c = found.get(code)
        rows.append(
            CentreIncidents(
                centre_code=code,
                open=c.open if c else 0,
                p1=c.p1 if c else 0,
                unacknowledged=c.unacknowledged if c else 0,
                by_age=list(c.by_age) if c else [0] * bands,
                oldest_opened_at=c.oldest_opened_at if c else None,
            )
        )
    oldest = [r.oldest_opened_at for r in rows if r.oldest_opened_at is not None]
    street = CentreIncidents(
        centre_code="all",
        open=sum(r.open for r in rows),
        p1=sum(r.p1 for r in rows),
        unacknowledged=sum(r.unacknowledged for r in rows),
        by_age=[sum(r.by_age[i] for r in rows) for i in range(bands)],
        oldest_opened_at=min(oldest) if oldest else None,
    )
    return street, rows


def community_devices(counts: Iterable[DeviceCounts]) -> list[CommunityDevices]:
    """Each community's devices with the share online."""
    return [
        CommunityDevices(
            community_code=c.community_code,
            devices=c.devices,
            online=c.online,
            offline=c.offline,
            never_connected=c.never_connected,
            share_online=c.online / c.devices if c.devices else None,
        )
        for c in counts
    ]


def start_of_day(now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The street's last midnight."""
    return dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tz)


def answers_today(
    calls: Sequence[tuple[dt.datetime, dt.datetime | None]], now: dt.datetime, tz: ZoneInfo
) -> AnswersToday:
    """Today's calls against the bars, as they stand now. A call counts at a bar once it is
    decided there: acknowledged (within the bar or not), or unacknowledged past it (a miss).
    One ringing for ten seconds has missed nothing yet, so it is not counted (the report,
    looking back, counts every call)."""
    shares = []
    for within_s, target in BARS:
        counted = answered = 0
        for opened, acknowledged in calls:
            if acknowledged is not None:
                counted += 1
                answered += (acknowledged - opened).total_seconds() <= within_s
            elif (now - opened).total_seconds() > within_s:
                counted += 1
        shares.append(
            AnswerShare(
                within_s=within_s,
                target=target,
                counted=counted,
                answered=answered,
                share=answered / counted if counted else None,
            )
        )
    first_bar = BARS[0][0]
    waiting = sum(
        1 for opened, ack in calls if ack is None and (now - opened).total_seconds() <= first_bar
    )
    return AnswersToday(
        day=now.astimezone(tz).date(), calls=len(calls), waiting=waiting, shares=shares
    )
