"""Shapes of the supervisors' reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, Field


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What a report needs of one incident."""

    id: int
    opened_at: dt.datetime
    centre_code: str
    kind: str
    priority: int
    status: str
    acknowledged_at: dt.datetime | None
    on_site_at: dt.datetime | None
    outcome: str | None
    # An alarm call counted against the TSA bar (repository.answer_counted).
    counted: bool = True


@dataclass(frozen=True, slots=True)
class HopCounts:
    """What the hops report counts of one centre's alarms of a month."""

    alarms: int = 0
    within_60s: int = 0
    within_180s: int = 0
    on_site: int = 0
    on_site_in_target: int = 0
    clock_off: int = 0

    def __add__(self, other: HopCounts) -> HopCounts:
        return HopCounts(
            self.alarms + other.alarms,
            self.within_60s + other.within_60s,
            self.within_180s + other.within_180s,
            self.on_site + other.on_site,
            self.on_site_in_target + other.on_site_in_target,
            self.clock_off + other.clock_off,
        )


class AnswerShares(BaseModel):
    """How many calls, and the share acknowledged within 60 s and 180 s, for a centre or a day."""

    key: str = Field(description="Centre code, or local date YYYY-MM-DD")
    calls: int
    within_60s: int
    within_180s: int
    share_60s: float | None = Field(description="0..1; None when there were no calls")
    share_180s: float | None
    median_on_site_min: float | None = Field(description="Opened to first on site, minutes")


class DevicesOffline(BaseModel):
    """Devices of one community's elders, how many are offline now, and how many never came online."""

    community_code: str
    devices: int
    offline: int = Field(description="Seen online once, offline now (a technical alarm's matter)")
    never_connected: int = Field(description="Registered, never seen online (not yet installed?)")


class AlarmCounts(BaseModel):
    """The period's alarms (SOS, falls, vital signs, wandering), the real ones counted apart
    from those that were no emergency and from duplicates of one emergency."""

    real: int = Field(description="Open, or ended any other way than the three below")
    accidental_press: int = Field(description="Resolved as pressed by mistake (误按)")
    device_test: int = Field(description="Resolved as a test of the device (设备测试)")
    merged: int = Field(description="Merged into another incident of the same emergency")
    cancelled_unanswered: int = Field(
        default=0,
        description="Cancelled by the elder before anybody answered (call-back tasks): left out "
        "of the answer shares like `merged`, counted here so that none goes unseen",
    )


class Report(BaseModel):
    """The supervisors' report for a period."""

    since: dt.datetime
    until: dt.datetime
    target_60s: float = Field(description="Industry bar: share acknowledged within 60 s")
    target_180s: float
    overall: AnswerShares
    per_centre: list[AnswerShares]
    per_day: list[AnswerShares]
    by_kind: dict[str, int]
    by_outcome: dict[str, int]
    alarms: AlarmCounts
    devices_offline: list[DevicesOffline]


class HopTimes(BaseModel):
    """One hop of the alarms' path: how many incidents it was timed for, its p50 and p90."""

    hop: str = Field(
        description="press_to_gateway, gateway_to_console, console_to_acknowledged, ..."
    )
    count: int = Field(description="Incidents with both ends of the hop recorded")
    p50_s: float | None = Field(description="Nearest-rank median, seconds; None when count is 0")
    p90_s: float | None = Field(description="Nearest-rank 90th percentile, seconds")


class HopTargets(BaseModel):
    """One centre's (or the street's) alarms of a month: each hop timed, and the targets met."""

    key: str = Field(description="Centre code, or 'all'")
    alarms: int = Field(description="Alarms opened (SOS, fall, vital sign, wandering; P1-P3)")
    hops: list[HopTimes]
    within_60s: int = Field(description="Acknowledged within 60 s of reaching the console")
    within_180s: int
    share_60s: float | None = Field(description="0..1 of the alarms; None without alarms")
    share_180s: float | None
    met_60s: bool | None = Field(description="share_60s reaches the target; None without alarms")
    met_180s: bool | None
    on_site: int = Field(description="Alarms someone reached (a first on-site step)")
    on_site_in_target: int = Field(description="Of those, reached within the on-site target")
    share_on_site: float | None
    met_on_site: bool | None
    press_clock_off: int = Field(
        description="Presses whose device clock was not trusted (their first hop is not timed)"
    )


class MonthHops(BaseModel):
    """A local month's hops, per centre and for the street."""

    month: str = Field(description="Local month, YYYY-MM")
    since: dt.datetime
    until: dt.datetime
    overall: HopTargets
    per_centre: list[HopTargets]


class HopsReport(BaseModel):
    """Every hop of the alarms timed, month by month, against the published targets."""

    hops: list[str] = Field(description="The hops in the order an alarm travels them")
    target_60s: float = Field(description="TSA: share acknowledged within 60 s")
    target_180s: float = Field(description="TSA: share acknowledged within 180 s")
    target_on_site_share: float = Field(description="Share of alarms reached within the target")
    on_site_target_min: int = Field(description="The on-site target, minutes (a setting)")
    months: list[MonthHops]
