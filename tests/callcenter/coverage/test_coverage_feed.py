"""Coverage's live feed (/ws/coverage): a roster change (an absence marked or withdrawn, a shift
added) reaches the street's listeners as it commits, so the wall board asks again at once; a
community worker may not listen."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from kernel.settings import Settings
from tests.callcenter.coverage.conftest import local
from tests.factories import sign_in

# A change commits within the request; a broken feed sends nothing, and this ends the wait.
LIVE_S = 10


def heard(socket: WebSocketTestSession) -> dict[str, Any]:
    """The socket's next message, or a failure after LIVE_S (TestClient's receive never times
    out; its thread is let go when the socket closes)."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        message: dict[str, Any] = pool.submit(socket.receive_json).result(timeout=LIVE_S)
        return message
    finally:
        pool.shutdown(wait=False)


def test_absences_and_a_shift_added_reach_the_coverage_feed_as_they_commit(
    client: TestClient, settings: Settings
) -> None:
    sign_in(client, "sup1")
    day = dt.datetime.now(settings.tz).date() + dt.timedelta(days=1)
    (shift, *_) = client.get(
        "/api/rosters", params={"centre": "PH03", "from": day.isoformat(), "to": day.isoformat()}
    ).json()
    worker = next(
        s for s in client.get("/api/staff").json()
        if s["centre_code"] == "PH05" and s["role"] == "community_worker"
    )  # fmt: skip
    with client.websocket_connect("/ws/coverage") as feed:
        marked = client.put(f"/api/rosters/shifts/{shift['id']}/absence", json={"reason": "sick"})
        assert marked.status_code == 200, marked.text
        assert heard(feed) == {
            "type": "coverage", "change": "absence_recorded", "centre_code": "PH03",
            "starts_at": dt.datetime.fromisoformat(shift["starts_at"]).isoformat(),
        }  # fmt: skip
        assert client.delete(f"/api/rosters/shifts/{shift['id']}/absence").status_code == 200
        assert heard(feed)["change"] == "absence_withdrawn"
        # Tomorrow evening at another community centre, after its hours: a shift of its own worker.
        evening = {"starts_at": local(settings, day, 21).isoformat(),
                   "ends_at": local(settings, day, 23).isoformat()}  # fmt: skip
        added = client.post(
            "/api/rosters/shifts",
            json={"staff_id": worker["id"], "centre_code": "PH05", **evening},
        )
        assert added.status_code == 201, added.text
        assert (heard(feed)["change"], added.json()["centre_code"]) == ("shift_added", "PH05")


def test_a_community_worker_may_not_listen_to_coverage(client: TestClient) -> None:
    sign_in(client, "ph03-w1")
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/coverage"):
        pass
    assert refused.value.code == 4403
