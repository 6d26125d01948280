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
