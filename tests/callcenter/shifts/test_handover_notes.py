"""Notes to the next shift: written by one shift, news to the people of the next until each marks
them read, kept with who read them and when, audited without their text; a community centre's
notes stay with that centre."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from eldercare.app import create_app
from kernel.models import HandoverNote
from kernel.settings import Settings
from tests.callcenter.shifts.conftest import Floor
from tests.databases import migrate_fresh
from tests.factories import acting_as, sign_in

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
LIFT = "3号楼电梯停用，上门请走楼梯；王阿姨下午回电"


def test_the_next_shift_sees_the_note_and_marks_it_read_and_the_writer_sees_who_did(
    floor: Floor,
) -> None:
    floor.roster(("op1", "PH00", -8 * H, 5 * M), ("op2", "PH00", 5 * M, 8 * H))
    with floor.client() as client:
        sign_in(client, "op1")
        written = client.post("/api/shift/notes", json={"text": f"  {LIFT}\n"})
        assert written.status_code == 201, written.text
        note = written.json()
        assert (note["centre_code"], note["text"], note["mine"]) == ("PH00", LIFT, True)
        assert note["read_by"] == []
        mine = client.get("/api/shift/notes").json()
        assert mine["unread"] == [] and [n["id"] for n in mine["recent"]] == [note["id"]]

        sign_in(client, "op2")
        (unread,) = client.get("/api/shift/notes").json()["unread"]
        assert (unread["id"], unread["text"], unread["read_by_me"]) == (note["id"], LIFT, False)
        read = client.post(f"/api/shift/notes/{note['id']}/read")
        assert read.status_code == 200, read.text
        (reader,) = read.json()["read_by"]
        assert (reader["staff_id"], read.json()["read_by_me"]) == (floor.staff["op2"], True)
        again = client.post(f"/api/shift/notes/{note['id']}/read").json()
        assert again["read_by"] == [reader]  # the first reading stays
        after = client.get("/api/shift/notes").json()
        assert after["unread"] == [] and after["recent"][0]["read_by"] == [reader]

        sign_in(client, "op1")
        assert client.get("/api/shift/notes").json()["recent"][0]["read_by"] == [reader]
        own = client.post(f"/api/shift/notes/{note['id']}/read")
        assert (own.status_code, own.json()["code"]) == (409, "own_note")

    ((actor, subject, detail),) = floor.audit("shift.note_written")
    assert (actor, subject, detail) == (f"staff:{floor.staff['op1']}", str(note["id"]),
                                        {"centre_code": "PH00"})  # fmt: skip
    (read_entry,) = floor.audit("shift.note_read")
    assert read_entry == (f"staff:{floor.staff['op2']}", str(note["id"]), {"centre_code": "PH00"})


def test_notes_from_before_my_last_shift_ended_are_not_news_to_me(floor: Floor) -> None:
    now = dt.datetime.now(dt.UTC)
    # op3 worked until an hour ago: what was written before that was for their shift.
    floor.roster(("op3", "PH00", -9 * H, -1 * H))
    author = floor.staff["op1"]
    during = floor.add(HandoverNote, centre_code="PH00", author_staff_id=author,
                       text="交给 op3 那一班", written_at=now - 3 * H)  # fmt: skip
    since = floor.add(HandoverNote, centre_code="PH00", author_staff_id=author,
                      text="交给下一班", written_at=now - 30 * M)  # fmt: skip
    stale = floor.add(HandoverNote, centre_code="PH00", author_staff_id=author,
                      text="四天前", written_at=now - 96 * H)  # fmt: skip
    with floor.client() as client:
        sign_in(client, "op3")
        notes = client.get("/api/shift/notes").json()
        assert [n["id"] for n in notes["unread"]] == [since]
        assert [n["id"] for n in notes["recent"]] == [during]
        # op4 has no shift over in the roster: the last three days' notes are news to them.
        sign_in(client, "op4")
        notes = client.get("/api/shift/notes").json()
        assert [n["id"] for n in notes["unread"]] == [during, since]
        assert stale not in [n["id"] for n in notes["unread"] + notes["recent"]]


def test_a_community_centres_notes_stay_with_that_centre(floor: Floor) -> None:
    floor.roster()
    with floor.client() as client:
        sign_in(client, "ph03-w1")
        note = client.post("/api/shift/notes", json={"text": "明早给王秀英送药"}).json()
        assert note["centre_code"] == "PH03"
        elsewhere = client.post("/api/shift/notes", json={"text": "x", "centre_code": "PH00"})
        assert elsewhere.status_code == 403
        assert client.post("/api/shift/notes", json={"text": "   "}).status_code == 422

        sign_in(client, "ph03-w2")
        assert [n["id"] for n in client.get("/api/shift/notes").json()["unread"]] == [note["id"]]

        sign_in(client, "ph02-w1")
        assert client.get("/api/shift/notes").json()["unread"] == []
        assert client.get("/api/shift/notes", params={"centre": "PH03"}).status_code == 403
        assert client.post(f"/api/shift/notes/{note['id']}/read").status_code == 404

        sign_in(client, "sup1")  # street staff read and leave notes at any centre
        at_hehua = client.get("/api/shift/notes", params={"centre": "PH03"}).json()
        assert [n["id"] for n in at_hehua["unread"]] == [note["id"]]
        unknown = client.post("/api/shift/notes", json={"text": "x", "centre_code": "PH99"})
        assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_centre")


def test_before_the_centres_are_set_up_there_is_no_centre_to_hand_over_at(
    settings: Settings,
) -> None:
    migrate_fresh(settings.effective_database_url)
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        answer = client.get("/api/shift/notes")
        assert (answer.status_code, answer.json()["code"]) == (422, "unknown_centre")
        assert client.get("/api/shift/my-items").json()["centre_open"] == []
