"""Words of the console: the reports page's links to the other reports (callcenter/console)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "reports.more": ("其他报表", "Other reports"),
    "reports.link.work_orders": (
        "服务工单报表：按需求和中心，按时完成、逾期",
        "Work orders: by need and centre, done on time, overdue",
    ),
    "reports.link.care_calls": (
        "主动关怀报表：各中心应打、接通、逾期、未联系上",
        "Care calls: due, answered, late, not reached by centre",
    ),
    "reports.link.maintenance": ("设备维修单", "Device maintenance orders"),
    "reports.link.self_tests": ("设备自检：逾期或失败的设备", "Device self-tests: late or failed"),
}
