"""Words of the console: coverage assurance on the wall board (callcenter/coverage)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    # The board's coverage card: centres empty now and next, tomorrow's notices, each
    # community's walk from its centre against the on-site target.
    "coverage.title": ("值守覆盖", "Coverage"),
    "coverage.rule": (
        "步行 {kmh} km/h，绕行系数 {f}，出发 {s} 分钟；上门目标 {t} 分钟",
        "On foot at {kmh} km/h, detour factor {f}, {s} min to set off; on-site target {t} min",
    ),
    "coverage.now": ("现在无人值守", "Nobody on duty now"),
    "coverage.none_now": ("各中心均有人值守", "Every centre has someone on duty"),
    "coverage.next": ("即将出现的缺口", "Next gaps"),
    "coverage.none_next": ("今明两天没有缺口", "No gap today or tomorrow"),
    "coverage.notices": ("已提醒：明日缺口", "Notices given: tomorrow's gaps"),
    "coverage.no_notices": ("明日没有缺口", "No gap tomorrow"),
    "coverage.gap.unrostered": ("开放时段无人排班", "open hours with nobody rostered"),
    "coverage.gap.absent": ("排班人员请假，中心无人", "the rostered are absent: nobody there"),
    "coverage.gap.beyond_target": ("部分住户步行超出目标", "homes beyond the target on foot"),
    "coverage.absent_names": ("请假：{n}", "absent: {n}"),
    "coverage.street_covers": ("由街道中心接管", "the street centre covers"),
    "coverage.today": ("今天", "today"),
    "coverage.tomorrow": ("明天", "tomorrow"),
    "coverage.reach": (
        "各社区步行可达（自中心出发）",
        "Walking reach of each community (from its centre)",
    ),
    "coverage.community": ("社区", "Community"),
    "coverage.elders": ("长者", "Elders"),
    "coverage.p50": ("中位 分钟", "p50 min"),
    "coverage.p90": ("90% 分钟", "p90 min"),
    "coverage.max": ("最远 分钟", "max min"),
    "coverage.beyond": ("超出目标", "Beyond target"),
    # Notices of gaps, for supervisors: the banner on every page and their hand-over items.
    "coverage.banner": ("{n} 个值守缺口待确认", "{n} coverage gaps to acknowledge"),
    "coverage.banner_more": ("等", "and more"),
    "coverage.see_to": ("去交接班页确认", "Acknowledge on the hand-over page"),
    "coverage.my_notices": ("值守缺口提醒", "Coverage gaps ahead"),
    "coverage.no_open_notices": ("今明两天没有待处理的缺口", "No gap to see to today or tomorrow"),
    "coverage.acknowledge": ("已知悉，去安排", "Acknowledge"),
    "coverage.acknowledged_by": ("{n} 已于 {t} 确认", "acknowledged by {n} at {t}"),
    "coverage.not_acknowledged": ("尚无人确认", "nobody has acknowledged it yet"),
    "coverage.to_roster": ("排班", "Roster"),
    # The roster page: a rostered person marked absent from a shift, and withdrawn.
    "rosters.absence": ("缺勤", "Absence"),
    "rosters.mark_absent": ("标记缺勤", "Mark absent"),
    "rosters.withdraw_absence": ("撤销缺勤", "Withdraw"),
    "absence.sick": ("病假", "sick"),
    "absence.leave": ("事假/年假", "leave"),
    "absence.other": ("其他", "other"),
}
