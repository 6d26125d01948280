"""Routing an incident to people: the nearest community centre with someone on duty, else the street.

Small matters stay in the community, big ones go up to the street (小事不出社区，大事不出街道):
the elder's nearest community centre (by distance from home) takes the incident if anyone is
on duty there, the least loaded worker first; at night, when community centres are closed,
the next nearest centre with someone on duty, and otherwise the street call centre, staffed
around the clock. A caller with no known home (an unbound device) goes to the street centre.
Every decision carries a plain-language explanation for the operator.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from kernel.models import CentreTier

EARTH_RADIUS_KM = 6371.0088
# How long a community worker takes to reach a home, the one model for the ETA the terminal and
# the family are told (incidents/notices.py) and for coverage's reach (coverage/service.py), so
# that the call centre never promises sooner than it plans for. A worker walks (or rides a shared
# bike) across the street: 4 km/h and 2 minutes to set out is a promise they can keep; a late ETA
# tells an elder less than an early arrival.
WALK_KMH = 4.0
SETTING_OFF_MIN = 2
# Streets are not straight lines: walking routes in a city run 1.2-1.4 times the straight line
# (the detour or circuity factor of street networks); 1.3 is its usual middle, and keeps the
# promise from counting on lanes between the estates that are not there.
DETOUR_FACTOR = 1.3


@dataclasses.dataclass(frozen=True, slots=True)
class OnDutyWorker:
    """A staff member on duty now, and how many open incidents they already hold."""

    staff_id: int
    name: str
    open_incidents: int


@dataclasses.dataclass(frozen=True, slots=True)
class CentreNow:
    """A centre as routing sees it at one moment: where it is and who is on duty."""

    code: str
    name: str
    tier: CentreTier
    lat: float
    lon: float
    on_duty: tuple[OnDutyWorker, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Where an incident goes, to whom (None: the centre's queue), and why."""

    centre_code: str
    staff_id: int | None
    distance_km: float | None
    explanation: str


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); within a street, metres of difference at most."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def walking_min(km: float) -> float:
    """Minutes from a centre's door to a home `km` away in a straight line: setting off, then
    walking the streets (the straight line times the detour factor)."""
    return SETTING_OFF_MIN + km * DETOUR_FACTOR / WALK_KMH * 60


def least_loaded(workers: Sequence[OnDutyWorker]) -> OnDutyWorker:
    """The worker with the fewest open incidents; ties go to the lower staff id (stable)."""
    return min(workers, key=lambda w: (w.open_incidents, w.staff_id))


def _roll_call(workers: Sequence[OnDutyWorker]) -> str:
    return "、".join(f"{w.name}（{w.open_incidents} 件在办）" for w in workers)


def route(home: tuple[float, float] | None, centres: Sequence[CentreNow]) -> RoutingDecision:
    """Decide the centre and worker for an incident of an elder living at `home` (lat, lon)."""
    street = next(c for c in centres if c.tier is CentreTier.STREET)
    notes: list[str] = []
    if home is None:
        notes.append("来电设备未绑定老人，转街道呼叫中心")
    else:
        communities = sorted(
            (distance_km(*home, c.lat, c.lon), c) for c in centres if c.tier is CentreTier.COMMUNITY
        )
        for rank, (km, centre) in enumerate(communities):
            if not centre.on_duty:
                if rank == 0:
                    notes.append(f"最近社区中心 {centre.name} {km:.1f} km：无人值班")
                continue
            chosen = least_loaded(centre.on_duty)
            label = "最近社区中心" if rank == 0 else "最近有人值班的社区中心"
            notes.append(
                f"{label} {centre.name} {km:.1f} km；值班：{_roll_call(centre.on_duty)}；"
                f"派给 {chosen.name}"
            )
            return RoutingDecision(centre.code, chosen.staff_id, km, "；".join(notes))
        notes.append("各社区中心均无人值班")
    street_km = distance_km(*home, street.lat, street.lon) if home is not None else None
    if not street.on_duty:
        notes.append(f"{street.name} 当前无人排班：进入待接队列")
        return RoutingDecision(street.code, None, street_km, "；".join(notes))
    chosen = least_loaded(street.on_duty)
    notes.append(f"转 {street.name}；值班：{_roll_call(street.on_duty)}；派给 {chosen.name}")
    return RoutingDecision(street.code, chosen.staff_id, street_km, "；".join(notes))
