"""Shapes of coverage: each centre's hours of a day, its walking reach, its gaps, the notices."""

from __future__ import annotations

import datetime as dt
import enum

from pydantic import BaseModel, Field

from callcenter.centres.schemas import LocalTime
from kernel.models import CentreTier


class GapKind(enum.StrEnum):
    """Why a centre's community is not covered as promised."""

    UNROSTERED = "unrostered"  # open hours with nobody on the roster
    ABSENT = "absent"  # the rostered are marked absent: the centre is empty
    BEYOND_TARGET = "beyond_target"  # staffed, but some homes are beyond the target on foot


class HourStatus(enum.StrEnum):
    """One hour of a centre, as coverage sees it."""

    CLOSED = "closed"  # outside the centre's open hours: the street centre takes its calls
    MET = "met"  # someone on duty the whole open part, every home within the target on foot
    BEYOND_TARGET = "beyond_target"  # someone on duty, some homes beyond the target on foot
    GAP = "gap"  # some of the open part with nobody on duty


class Reach(BaseModel):
    """How long a walk a community's elders' homes are from its centre (minutes, p50/p90/max)."""

    community_code: str
    target_min: int = Field(description="The on-site target counted against")
    elders: int = Field(description="Active elders of the community with a home")
    p50_min: float | None
    p90_min: float | None
    max_min: float | None
    beyond_target: int = Field(description="Homes further than the target on foot")
    share_beyond: float | None = Field(description="beyond_target / elders; None without elders")


class HourCoverage(BaseModel):
    """One local hour of a centre: who is on duty, who was marked absent, how it stands."""

    starts_at: dt.datetime
    hour: int = Field(description="The local hour, 0-23")
    status: HourStatus
    present: list[str] = Field(description="Names of those on duty in some of the hour")
    absent: list[str] = Field(description="Names of those rostered in the hour and marked absent")


class Gap(BaseModel):
    """A stretch of time a centre's community is not covered as promised."""

    centre_code: str
    kind: GapKind
    starts_at: dt.datetime
    ends_at: dt.datetime
    absent: list[str] = Field(default_factory=list, description="Who is absent (kind absent)")
    beyond_target: int | None = Field(
        default=None, description="Homes beyond the target on foot (kind beyond_target)"
    )


class CentreCoverage(BaseModel):
    """A centre's day: its open hours, its reach (community centres), each hour, its gaps."""

    centre_code: str
    tier: CentreTier
    opens_at: LocalTime | None = Field(description="None with closes_at: around the clock")
    closes_at: LocalTime | None
    reach: Reach | None = Field(description="Community centres only: the street does not walk")
    hours: list[HourCoverage]


class CoverageDay(BaseModel):
    """The street's coverage of one local day, with the figures its rule uses."""

    day: dt.date
    target_min: int = Field(description="ELDERCARE_ONSITE_TARGET_MIN")
    walk_kmh: float
    detour_factor: float = Field(description="Walked distance over the straight line")
    setting_off_min: float
    centres: list[CentreCoverage]
    gaps: list[Gap] = Field(description="Every gap of the day, by start")


class CoverageNoticeRead(BaseModel):
    """A gap told to the supervisors before it starts."""

    id: int
    centre_code: str
    kind: GapKind
    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    absent: list[str]
    created_at: dt.datetime
    acknowledged_by: str | None = Field(
        default=None, description="The supervisor who acknowledged it (None: nobody yet)"
    )
    acknowledged_at: dt.datetime | None = None


class CoverageBoard(BaseModel):
    """The wall board's coverage: the centres empty now, the next gaps, each community's reach
    today, the notices given for tomorrow."""

    target_min: int
    walk_kmh: float
    detour_factor: float
    setting_off_min: float
    current: list[Gap] = Field(description="Gaps going on now (nobody on duty at a centre)")
    upcoming: list[Gap] = Field(description="The next gaps of today and tomorrow, by start")
    reach: list[Reach] = Field(description="Each community's walking reach today")
    notices: list[CoverageNoticeRead] = Field(description="Notices of tomorrow's gaps")
