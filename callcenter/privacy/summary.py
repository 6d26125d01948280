"""An elder's export as a page a person reads and prints: plain text, Chinese and English.

Plain text, not HTML: it prints anywhere, needs no style sheet (the console's content policy
allows none inline) and cannot carry markup from the data into a browser. Readings are
counted by type and month here; every one of them is in the JSON export.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from callcenter.privacy.schemas import ElderExport, ExportedElder

LIFE_STATUS = {
    "active": "在册 active",
    "deceased": "已故 deceased",
    "moved_away": "迁出 moved away",
}
SEX = {"male": "男 male", "female": "女 female"}
LIVING = {
    "alone": "独居 alone",
    "with_spouse": "空巢 with spouse",
    "with_children": "与子女同住 with children",
    "other": "其他 other",
}
SELF_CARE = {
    "independent": "自理 independent",
    "partly_dependent": "半失能 partly dependent",
    "dependent": "失能 dependent",
    "unknown": "不详 unknown",
}


def _at(moment: dt.datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def _width(text: str) -> int:
    """Columns the text takes in a terminal or a monospaced print (Chinese characters: two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _heading(zh: str, en: str) -> list[str]:
    title = f"{zh} {en}"
    return ["", title, "=" * _width(title)]


def _fields(pairs: Iterable[tuple[str, object]]) -> list[str]:
    return [f"  {label}: {value if value not in (None, '') else '-'}" for label, value in pairs]


def _codes_held(elder: ExportedElder) -> str:
    """Which codes to the home are kept (never the codes)."""
    held = [
        what
        for what, kept in (
            ("钥匙盒 key safe", elder.key_safe_code_held),
            ("门锁 door", elder.door_code_held),
        )
        if kept
    ]
    return "、".join(held) + " 已登记 held, not printed" if held else ""


def summary_text(export: ElderExport, tz: ZoneInfo) -> str:
    """The export as a printable, bilingual plain-text page."""
    elder = export.elder
    lines = [
        "平湖街道智慧养老呼叫中心 · 个人信息副本",
        "Pinghu street elderly-care call centre · copy of personal data",
        f"导出时间 Exported: {_at(export.exported_at, tz)}  导出人 By: {export.exported_by}",
        "依据《个人信息保护法》第四十五条 (PIPL art. 45): 本副本含本中心保存的该老人全部信息。",
        "This copy holds everything the call centre keeps about the elder; the JSON export "
        "holds the same in full (every reading).",
    ]
    lines += _heading("基本信息", "Profile")
    lines += _fields([
        ("编号 Id", elder.id), ("姓名 Name", elder.name), ("性别 Sex", SEX[elder.sex.value]),
        ("身份证号 ID number", elder.national_id), ("出生日期 Born", elder.birth_date),
        ("社区 Community", elder.community_code), ("住址 Address", elder.address),
        ("位置 Position", f"{elder.lat:.6f}, {elder.lon:.6f}"), ("电话 Phone", elder.phone),
        ("居住情况 Living", LIVING[elder.living_situation.value]),
        ("慢性病 Conditions", "、".join(elder.conditions)),
        ("自理能力 Self-care", SELF_CARE[elder.self_care.value]), ("备注 Remarks", elder.remarks),
        ("其他电话 Other phone", elder.second_phone),
        ("钥匙保管人 Key holder", " ".join(filter(None, (elder.key_holder_name,
            elder.key_holder_relation, elder.key_holder_phone)))),
        ("入户说明 Getting in", elder.access_notes),
        ("密码 Codes", _codes_held(elder)),
        ("用药 Medications", "；".join(" ".join(filter(None, (m.get("name"), m.get("dose"))))
            for m in elder.medications)),
        ("过敏 Allergies", "、".join(elder.allergies)),
        ("医生 Doctor", " ".join(filter(None, (elder.doctor_name, elder.doctor_phone,
            elder.doctor_clinic)))),
        ("首选医院 Hospital", elder.preferred_hospital),
        ("状态 Status", LIFE_STATUS[elder.life_status.value]),
        ("状态日期 Since", elder.life_status_on),
        ("登记 Recorded", f"{_at(elder.life_status_recorded_at, tz)} {elder.life_status_recorded_by or ''}"),
        ("建档 Registered", _at(elder.created_at, tz)), ("更新 Updated", _at(elder.updated_at, tz)),
    ])  # fmt: skip
    lines += _heading("紧急联系人", "Emergency contacts")
    lines += [
        f"  {c.position}. {c.name} ({c.relation}) {c.phone or '-'} [{c.language}]"
        for c in export.contacts
    ] or ["  -"]
    lines += _heading("设备", "Devices (secrets left out)")
    lines += [
        f"  {d.id} {d.kind.value} 在线 online={'是 yes' if d.online else '否 no'} "
        f"最后上线 last seen {_at(d.last_seen_at, tz)} 电量 battery {d.battery if d.battery is not None else '-'}%"
        for d in export.devices
    ] or ["  -"]
    lines += _heading("外出记录", "Away periods")
    lines += [
        f"  {_at(a.starts_at, tz)} – {_at(a.ends_at, tz)} {a.reason} ({a.created_by})"
        for a in export.away_periods
    ] or ["  -"]
    lines += _heading("个人预警阈值", "Own vital bounds")
    lines += [
        f"  {t.vital}: warn {t.warn_low}–{t.warn_high}, critical {t.critical_low}–"
        f"{t.critical_high}; {t.reason} ({t.set_by}, {_at(t.set_at, tz)})"
        for t in export.thresholds
    ] or ["  -"]
    lines += _heading("事件", f"Incidents ({len(export.incidents)})")
    for incident in export.incidents:
        lines.append(
            f"  #{incident.id} {incident.kind.value} P{incident.priority} {incident.status.value} "
            f"{_at(incident.opened_at, tz)} {incident.centre_code} "
            f"结果 outcome: {incident.outcome or '-'}"
        )
        lines += [
            f"      {_at(step.at, tz)} {step.action} ({step.actor})" for step in incident.timeline
        ]
    if not export.incidents:
        lines.append("  -")
    lines += _heading(
        "设备消息与测量", f"Device messages and readings ({len(export.device_events)})"
    )
    by_month = Counter(
        (e.received_at.astimezone(tz).strftime("%Y-%m"), e.type) for e in export.device_events
    )
    lines += [f"  {month} {type_}: {count}" for (month, type_), count in sorted(by_month.items())]
    if not by_month:
        lines.append("  -")
    lines += _heading("家属短信", f"SMS to the family ({len(export.sms)})")
    lines += [
        f"  {_at(m.created_at, tz)} #{m.incident_id} {m.step} → {m.contact_name} ({m.relation}) "
        f"{m.phone} {m.state}/{m.delivery_status or '-'}: {m.body or ''}"
        for m in export.sms
    ] or ["  -"]
    lines += _heading("查阅与修改记录", f"Who viewed or changed the record ({len(export.audit)})")
    lines += [
        f"  {_at(a.at, tz)} {a.actor} {a.action} {a.subject_type} {a.subject_id}"
        for a in export.audit
    ] or ["  -"]
    return "\n".join(lines) + "\n"
