"""A task merged into another case does not just leave the worker's phone: it says where it went."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from kernel.settings import Settings
from tests.callcenter.console.conftest import Street, signed_in_page
from tests.callcenter.console.test_merge_and_callback_in_browser import welfare_check_of


def test_the_worker_reads_that_their_task_was_merged_into_the_case(
    browser: Browser, street: Street, settings: Settings
) -> None:
    welfare = welfare_check_of(settings, street.hehua_terminal)
    worker = signed_in_page(browser, street, "ph03-w1", phone=True)
    expect(worker.locator("#feed-state")).to_have_attribute("data-state", "live")
    operator = signed_in_page(browser, street, "op1")
    street.press(street.hehua_terminal, button="main")
    rows = operator.locator("#queue tbody tr")
    expect(rows).to_have_count(2)
    sos = int(rows.filter(has_text="一键呼救").get_attribute("data-incident-id") or 0)
    me = worker.evaluate("ME.staff_id")
    for incident in (sos, welfare):
        given = operator.request.post(
            f"{street.base}/api/incidents/{incident}/assign", data={"staff_id": me}
        )
        assert given.ok, given.text()
    expect(worker.locator("#tasks article.task")).to_have_count(2)

    merged = operator.request.post(
        f"{street.base}/api/incidents/{welfare}/merge", data={"into": sos, "note": "同一件事"}
    )
    assert merged.ok, merged.text()
    notice = worker.locator("#tasks .merged-notice")
    expect(notice).to_have_text(f"警情 {welfare} · 关怀探访 · 已并入 警情 {sos}")
    expect(notice).to_have_attribute("data-merged-into", str(sos))
    expect(worker.locator("#tasks article.task")).to_have_count(1)
    expect(worker.locator(f"#tasks article.task[data-incident-id='{sos}']")).to_be_visible()
    for page in (worker, operator):
        assert page.errors == []  # type: ignore[attr-defined]
        page.context.close()
