"""The self-test report an installer and a supervisor can act on: a summary per community (on
time, overdue after having reported, failed, never heard since installation), the lines needing
action by how long, the devices never heard from apart, paged with the count of them all."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from devices.ids import DeviceKind
from kernel.database import create_engine, session_factory
from kernel.models import AlarmReceiverAccount, Device
from tests.callcenter.workorders.conftest import Street
from tests.factories import create_imei, sign_in

HOUR = dt.timedelta(hours=1)


def _ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _a_street_of_devices(url: str, street: Street) -> dict[str, str]:
    """禾花 (PH03): 王秀英's terminal silent an hour, a panel whose test failed 5 h ago, a panel
    on time on its backup battery 2 h. 白坭坑 (PH02): one terminal heard just now, one silent
    3 h. Both elders' health monitors and 李建国's terminal were never heard from. In the store:
    a terminal of nobody's. Returns ids by role."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    ids = {name: create_imei() for name in ("failed", "mains", "fresh", "silent", "store")}
    ids |= {"late": street.terminal}
    terminals = [
        ("fresh", street.ph02_elder, True, now), ("silent", street.ph02_elder, False, now - 3 * HOUR),
        ("failed", street.ph03_elder, True, now), ("mains", street.ph03_elder, True, now),
        ("store", None, False, None),
    ]  # fmt: skip
    async with sessions() as session, session.begin():
        await session.execute(
            update(Device)
            .where(Device.id == street.terminal)
            .values(online=False, last_seen_at=now - HOUR, battery=80)
        )
        for name, elder, online, seen in terminals:
            await session.execute(
                insert(Device).values(
                    id=ids[name], kind=DeviceKind.SOS_TERMINAL, elder_id=elder, secret="s",
                    online=online, last_seen_at=seen, battery=90 if seen else None,
                )
            )  # fmt: skip
        for account, name, troubles in (
            ("2001", "failed", {"test_failed_at": now - 5 * HOUR, "test_failure": "1307"}),
            ("2002", "mains", {"mains_lost_since": now - 2 * HOUR}),
        ):
            await session.execute(
                insert(AlarmReceiverAccount).values(
                    account=account, device_id=ids[name], key=None, test_every_s=86_400,
                    last_test_at=now - 5 * HOUR, created_at=now - 9 * 24 * HOUR, **troubles,
                )
            )  # fmt: skip
    await engine.dispose()
    return ids


def _counts(summary: dict[str, Any], community: str | None) -> dict[str, int]:
    row = (
        summary["overall"]
        if community is None
        else next(c for c in summary["by_community"] if c["community_code"] == community)
    )
    return {key: value for key, value in row.items() if key != "community_code"}


def test_the_summary_counts_each_community_and_keeps_the_never_heard_apart(
    client: TestClient, migrated_url: str, street: Street
) -> None:
    ids = asyncio.run(_a_street_of_devices(migrated_url, street))
    sign_in(client, "sup1")
    report = _ok(client.get("/api/maintenance/self-test-report"))
    summary = report["summary"]
    assert _counts(summary, "PH03") == {
        "devices": 4, "on_time": 1, "overdue": 1, "failed": 1, "never_heard": 1,
        "needs_action": 3, "mains_lost": 1, "battery_low": 0,
    }  # fmt: skip
    assert _counts(summary, "PH02") == {
        "devices": 4, "on_time": 1, "overdue": 1, "failed": 0, "never_heard": 2,
        "needs_action": 1, "mains_lost": 0, "battery_low": 0,
    }  # fmt: skip
    assert _counts(summary, None) == {
        "devices": 8, "on_time": 2, "overdue": 2, "failed": 1, "never_heard": 3,
        "needs_action": 4, "mains_lost": 1, "battery_low": 0,
    }  # fmt: skip
    assert summary["in_store"] == 1

    # By default, those needing action, the longest first; never the devices never heard from.
    assert (report["show"], report["total"]) == ("action", 4)
    assert [line["device_id"] for line in report["lines"]] == [
        ids["failed"], ids["silent"], ids["mains"], ids["late"],
    ]  # fmt: skip
    assert [line["status"] for line in report["lines"]] == [
        "failed", "overdue", "on_time", "overdue",
    ]  # fmt: skip
    never = _ok(client.get("/api/maintenance/self-test-report", params={"show": "never_heard"}))
    # 李建国's terminal and health monitor, 王秀英's health monitor: installed, never heard.
    assert [(line["status"], line["elder_id"]) for line in never["lines"]] == [
        ("never_heard", street.ph02_elder), ("never_heard", street.ph02_elder),
        ("never_heard", street.ph03_elder),
    ]  # fmt: skip
    assert never["total"] == 3
    assert not {line["device_id"] for line in never["lines"]} & {
        line["device_id"] for line in report["lines"]
    }


def test_the_lines_page_with_the_count_of_them_all(
    client: TestClient, migrated_url: str, street: Street
) -> None:
    ids = asyncio.run(_a_street_of_devices(migrated_url, street))
    sign_in(client, "op1")
    pages = [
        _ok(client.get("/api/maintenance/self-test-report", params={"limit": 3, "offset": at}))
        for at in (0, 3)
    ]
    assert [(page["total"], len(page["lines"])) for page in pages] == [(4, 3), (4, 1)]
    assert [line["device_id"] for page in pages for line in page["lines"]] == [
        ids["failed"], ids["silent"], ids["mains"], ids["late"],
    ]  # fmt: skip
    every = _ok(client.get("/api/maintenance/self-test-report", params={"show": "all"}))
    assert every["total"] == 9
    assert [line["status"] for line in every["lines"]][4:] == [
        "on_time", "never_heard", "never_heard", "never_heard", "in_store",
    ]  # fmt: skip

    # One community: its summary and its lines only.
    ph02 = _ok(client.get("/api/maintenance/self-test-report", params={"community": "PH02"}))
    assert [c["community_code"] for c in ph02["summary"]["by_community"]] == ["PH02"]
    assert [line["device_id"] for line in ph02["lines"]] == [ids["silent"]]

    # The list as before: `overdue=true` is the lines needing action, with their count.
    answer = client.get("/api/maintenance/self-tests", params={"overdue": "true", "limit": 2})
    assert [line["device_id"] for line in _ok(answer)] == [ids["failed"], ids["silent"]]
    assert answer.headers["X-Total-Count"] == "4"
    assert len(_ok(client.get("/api/maintenance/self-tests"))) == 9

    sign_in(client, "ph03-w1")
    assert client.get("/api/maintenance/self-test-report").status_code == 403
