"""Report rules: which incidents count as calls, shares answered in time, medians, CSV rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from callcenter.reports.repository import ALARM_KINDS, HOPS, OVERALL
from callcenter.reports.schemas import (
    AlarmCounts,
    AnswerShares,
    DevicesOffline,
    HopCounts,
    HopTargets,
    HopTimes,
    IncidentFacts,
    MonthHops,
    Report,
)
from kernel.models import Outcome
from kernel.models.incidents import MERGED_OUTCOME

# The industry bar for elderly-care call centres: 97.5% answered within 60 s, 99% within 180 s.
TARGET_60S = 0.975
TARGET_180S = 0.99
# The street's on-site promise: this share of the alarms someone went to reached within the
# supervisor's target (settings.onsite_target_min).
TARGET_ON_SITE = 0.9


def _within(incident: IncidentFacts, seconds: int) -> bool:
    acknowledged = incident.acknowledged_at
    return (
        acknowledged is not None and (acknowledged - incident.opened_at).total_seconds() <= seconds
    )


def _on_site_minutes(incident: IncidentFacts) -> float | None:
    if incident.on_site_at is None:
        return None
    return (incident.on_site_at - incident.opened_at).total_seconds() / 60


def answer_shares(key: str, incidents: Sequence[IncidentFacts]) -> AnswerShares:
    """Calls among these incidents (the alarms counted against the TSA bar, `counted`) and the
    shares acknowledged within 60 s and 180 s."""
    calls = [i for i in incidents if i.counted]
    in_60 = sum(_within(i, 60) for i in calls)
    in_180 = sum(_within(i, 180) for i in calls)
    on_site = [m for m in map(_on_site_minutes, incidents) if m is not None]
    return AnswerShares(
        key=key,
        calls=len(calls),
        within_60s=in_60,
        within_180s=in_180,
        share_60s=in_60 / len(calls) if calls else None,
        share_180s=in_180 / len(calls) if calls else None,
        median_on_site_min=round(statistics.median(on_site), 1) if on_site else None,
    )


def alarm_counts(incidents: Iterable[IncidentFacts]) -> AlarmCounts:
    """Alarms by whether they were real: presses by mistake, device tests and duplicates merged
    into another incident counted apart."""
    alarms = [i for i in incidents if i.kind in ALARM_KINDS]
    outcomes = Counter(i.outcome for i in alarms)
    apart = (Outcome.ACCIDENTAL_PRESS, Outcome.DEVICE_TEST, MERGED_OUTCOME)
    return AlarmCounts(
        real=outcomes.total() - sum(outcomes[o] for o in apart),
        accidental_press=outcomes[Outcome.ACCIDENTAL_PRESS],
        device_test=outcomes[Outcome.DEVICE_TEST],
        merged=outcomes[MERGED_OUTCOME],
        cancelled_unanswered=sum(
            1 for i in alarms if not i.counted and i.outcome != MERGED_OUTCOME
        ),
    )


def _grouped(
    incidents: Iterable[IncidentFacts], key: Callable[[IncidentFacts], str]
) -> list[AnswerShares]:
    groups: dict[str, list[IncidentFacts]] = defaultdict(list)
    for incident in incidents:
        groups[key(incident)].append(incident)
    return [answer_shares(name, groups[name]) for name in sorted(groups)]


def build_report(
    incidents: Sequence[IncidentFacts],
    devices: list[DevicesOffline],
    since: dt.datetime,
    until: dt.datetime,
    tz: ZoneInfo,
) -> Report:
    """The report of a period: overall, per centre, per local day, by type and outcome."""
    return Report(
        since=since,
        until=until,
        target_60s=TARGET_60S,
        target_180s=TARGET_180S,
        overall=answer_shares("all", incidents),
        per_centre=_grouped(incidents, lambda i: i.centre_code),
        per_day=_grouped(incidents, lambda i: i.opened_at.astimezone(tz).date().isoformat()),
        by_kind=dict(Counter(i.kind for i in incidents).most_common()),
        by_outcome=dict(Counter(i.outcome or "open" for i in incidents).most_common()),
        alarms=alarm_counts(incidents),
        devices_offline=devices,
    )


CSV_COLUMNS = (
    "id", "opened_local", "centre", "kind", "priority", "status",
    "seconds_to_acknowledge", "minutes_to_on_site", "outcome", "answer_counted",
)  # fmt: skip


def incidents_csv(incidents: Sequence[IncidentFacts], tz: ZoneInfo) -> str:
    """One row per incident, local times, for a spreadsheet (UTF-8 with BOM, so Excel reads it);
    `answer_counted` says whether it is among the calls of the answer shares (1) or not (0)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for i in incidents:
        acknowledged = (
            round((i.acknowledged_at - i.opened_at).total_seconds(), 1)
            if i.acknowledged_at is not None
            else ""
        )
        on_site = _on_site_minutes(i)
        writer.writerow(
            [
                i.id,
                i.opened_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                i.centre_code,
                i.kind,
                i.priority,
                i.status,
                acknowledged,
                round(on_site, 1) if on_site is not None else "",
                i.outcome or "",
                int(i.counted),
            ]
        )
    return out.getvalue()


def month_bounds(month: str, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """A local month ("2026-11") as the UTC instants [since, until)."""
    year, number = (int(part) for part in month.split("-"))
    start = dt.datetime(year, number, 1, tzinfo=tz)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def months_back(month: str, count: int) -> list[str]:
    """The month and the count - 1 before it, newest first: "2026-01", 2 -> 2026-01, 2025-12."""
    year, number = (int(part) for part in month.split("-"))
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return months


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _met(share: float | None, target: float) -> bool | None:
    return None if share is None else share >= target


def centre_hops(
    key: str,
    quantiles: dict[tuple[str, str], tuple[int, float | None, float | None]],
    counts: HopCounts,
) -> HopTargets:
    """One centre's (or the street's) hops and targets from the counts the queries made."""
    alarms, in_60, in_180 = counts.alarms, counts.within_60s, counts.within_180s
    reached, reached_in_target = counts.on_site, counts.on_site_in_target
    share_60, share_180 = _share(in_60, alarms), _share(in_180, alarms)
    share_on_site = _share(reached_in_target, reached)
    return HopTargets(
        key=key,
        alarms=alarms,
        hops=[_timed(hop, quantiles.get((key, hop))) for hop in HOPS],
        within_60s=in_60,
        within_180s=in_180,
        share_60s=share_60,
        share_180s=share_180,
        met_60s=_met(share_60, TARGET_60S),
        met_180s=_met(share_180, TARGET_180S),
        on_site=reached,
        on_site_in_target=reached_in_target,
        share_on_site=share_on_site,
        met_on_site=_met(share_on_site, TARGET_ON_SITE),
        press_clock_off=counts.clock_off,
    )


def _timed(hop: str, found: tuple[int, float | None, float | None] | None) -> HopTimes:
    count, p50, p90 = found if found is not None else (0, None, None)
    return HopTimes(hop=hop, count=count, p50_s=p50, p90_s=p90)


def month_hops(
    month: str,
    since: dt.datetime,
    until: dt.datetime,
    quantiles: dict[tuple[str, str], tuple[int, float | None, float | None]],
    counts: dict[str, HopCounts],
) -> MonthHops:
    """A month's hops per centre (those with alarms, by code) and for the whole street."""
    street = sum(counts.values(), HopCounts())
    return MonthHops(
        month=month,
        since=since,
        until=until,
        overall=centre_hops(OVERALL, quantiles, street),
        per_centre=[centre_hops(code, quantiles, counts[code]) for code in sorted(counts)],
    )
