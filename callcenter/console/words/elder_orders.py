"""Words of the console: an elder's work orders and care calls on their page (callcenter/elders)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "elder.work_orders": ("服务工单", "Work orders"),
    "elder.no_work_orders": ("没有服务工单", "No work orders"),
    "elder.maintenance": ("设备维修单", "Device maintenance"),
    "elder.no_maintenance": ("设备没有维修单", "No maintenance orders"),
    "elder.care_calls": ("主动关怀电话", "Care calls"),
    "elder.no_care_calls": ("没有关怀电话", "No care calls"),
    "elder.latest_only": ("只列出最近 {n} 条", "The latest {n} only"),
    "elder.appointment": ("预约 {t}", "appointment {t}"),
    "elder.closed_at": ("结束于 {t}", "closed {t}"),
    "elder.was_late": ("曾逾期", "was late"),
    "elder.tries": ("拨打 {n} 次", "{n} tries"),
    "elder.welfare_visit": ("探访警情", "welfare visit"),
    "elder.all_maintenance": ("全部维修单", "All maintenance orders"),
    "care.dropped.deceased": ("长者已故", "the elder died"),
    "care.dropped.moved_away": ("长者已迁出", "the elder moved away"),
    "care.dropped.away": ("长者外出或住院", "the elder is away"),
}
