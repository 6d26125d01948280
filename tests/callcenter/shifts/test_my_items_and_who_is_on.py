"""The shift page's other parts: the open incidents I hold and my centre's other open ones, and
the work orders to see to; who is on duty now and next at each centre (from the roster) and who
is signed in (a live session, not one signed out or expired)."""

from __future__ import annotations

import datetime as dt

from kernel.models import (
    IncidentStatus,
    StaffSession,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
)
from tests.callcenter.shifts.conftest import Floor
from tests.factories import sign_in

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def test_my_items_are_what_i_hold_anywhere_and_my_centres_other_open_incidents(
    floor: Floor,
) -> None:
    held_p2 = floor.incident("PH03", ago=20 * M, priority=2, holder="ph03-w1")
    held_across = floor.incident("PH02", ago=5 * M, holder="ph03-w1")  # sent across the line
    unheld = floor.incident("PH03", ago=3 * M, priority=3)
    colleagues = floor.incident("PH03", ago=1 * M, holder="ph03-w2")
    floor.incident("PH03", ago=40 * M, holder="ph03-w1", status=IncidentStatus.RESOLVED)
    floor.incident("PH02", ago=2 * M)  # another centre's, held by nobody here
    street = floor.incident("PH00", ago=9 * M, holder="op1")
    street_queued = floor.incident("PH00", ago=8 * M)
    with floor.client() as client:
        sign_in(client, "ph03-w1")
        items = client.get("/api/shift/my-items").json()
        assert items["centre_code"] == "PH03"
        assert [i["id"] for i in items["held"]] == [held_across, held_p2]  # P1 first
        assert [i["id"] for i in items["centre_open"]] == [colleagues, unheld]

        sign_in(client, "op1")
        items = client.get("/api/shift/my-items").json()
        assert items["centre_code"] == "PH00"
        assert [i["id"] for i in items["held"]] == [street]
        assert [i["id"] for i in items["centre_open"]] == [street_queued]


def _names(people: list[dict[str, object]]) -> set[object]:
    return {p["staff_id"] for p in people}


def test_who_is_on_duty_now_and_next_and_who_is_signed_in(floor: Floor) -> None:
    floor.roster(
        ("op1", "PH00", -2 * H, 6 * H), ("sup1", "PH00", -2 * H, 10 * H),
        ("op2", "PH00", 6 * H, 14 * H), ("op5", "PH00", 6 * H, 14 * H),
        ("op3", "PH00", 10 * H, 18 * H),  # after the next operators (with the next supervisor)
        ("sup2", "PH00", 10 * H, 22 * H),
        ("op4", "PH00", 30 * H, 38 * H),  # beyond a day: nobody's next
        ("ph03-w1", "PH03", -1 * H, 5 * H), ("ph03-w2", "PH03", 20 * H, 32 * H),
        ("ph02-w1", "PH02", -3 * H, -1 * H),  # over
    )  # fmt: skip
    staff = floor.staff
    with floor.client() as client:
        sign_in(client, "ph03-w2")
        assert client.post("/api/auth/sign-out").status_code == 204  # not signed in any more
        sign_in(client, "op2")  # signed in before their shift
        sign_in(client, "op1")
        # A session past its end, not cleared away yet (a sign-in clears them).
        now = dt.datetime.now(dt.UTC)
        floor.add(StaffSession, token_hash="0" * 64, staff_id=staff["ph02-w1"],
                  created_at=now - 14 * H, expires_at=now - 1 * H)  # fmt: skip
        centres = client.get("/api/shift/staff").json()
        assert [c["centre_code"] for c in centres][:2] == ["PH00", "PH01"]
        assert len(centres) == 13
        by_code = {c["centre_code"]: c for c in centres}
        street = by_code["PH00"]
        assert _names(street["on_duty"]) == {staff["op1"], staff["sup1"]}
        assert {p["staff_id"]: p["signed_in"] for p in street["on_duty"]} == {
            staff["op1"]: True, staff["sup1"]: False,
        }  # fmt: skip
        assert _names(street["next"]) == {staff["op2"], staff["op5"], staff["sup2"]}
        assert _names(street["signed_in"]) == {staff["op1"], staff["op2"]}
        hehua = by_code["PH03"]
        assert _names(hehua["on_duty"]) == {staff["ph03-w1"]}
        assert _names(hehua["next"]) == {staff["ph03-w2"]}
        assert hehua["signed_in"] == []
        assert by_code["PH02"]["on_duty"] == [] and by_code["PH02"]["signed_in"] == []

        sign_in(client, "ph03-w1")  # a worker sees their centre and the street centre
        mine = client.get("/api/shift/staff").json()
        assert [c["centre_code"] for c in mine] == ["PH00", "PH03"]
        assert _names(mine[1]["signed_in"]) == {staff["ph03-w1"]}


def test_work_orders_to_see_to_are_a_workers_centres_and_the_streets_overdue_and_accepted(
    floor: Floor,
) -> None:
    now = dt.datetime.now(dt.UTC)

    def order(centre: str, status: WorkOrderStatus = WorkOrderStatus.NEW, **values: object) -> int:
        return floor.add(WorkOrder, category=WorkOrderCategory.SERVICE, status=status,
                         centre_code=centre, need="meal", created_by="test", created_at=now,
                         **values)  # fmt: skip

    due_soon = order("PH03", due_at=now + 20 * M)
    due_later = order("PH03", due_at=now + 3 * H)
    overdue_here = order("PH03", due_at=now - 10 * M, overdue_at=now - 9 * M)
    order("PH03", WorkOrderStatus.DONE)
    overdue_there = order("PH02", due_at=now - 1 * H, overdue_at=now - 50 * M)
    accepted = order("PH01", WorkOrderStatus.ACCEPTED, accepted_by_staff_id=floor.staff["op1"],
                     due_at=now + 1 * H)  # fmt: skip
    order("PH01", WorkOrderStatus.ACCEPTED, accepted_by_staff_id=floor.staff["op2"])
    with floor.client() as client:
        sign_in(client, "ph03-w1")
        orders = client.get("/api/shift/my-items").json()["work_orders"]
        assert [o["id"] for o in orders] == [overdue_here, due_soon, due_later]

        sign_in(client, "op1")
        orders = client.get("/api/shift/my-items").json()["work_orders"]
        assert [o["id"] for o in orders] == [overdue_there, overdue_here, accepted]
