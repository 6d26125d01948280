"""PUT /api/elders/{id}/life-status and GET /api/privacy/departed: supervisors and admins only,
audited; the directory leaves the departed out and the privacy register finds them; a day in
the future, a missing day and an anonymised record are refused. (SQLite and PostgreSQL.)"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from callcenter.elders import repository as elders_repository
from callcenter.elders.repository import ElderFilter
from callcenter.elders.service import SearchText
from eldercare.app import create_app
from kernel.models import AuditEntry, Elder, StaffRole, utcnow
from kernel.models.elders import LifeStatus
from tests.callcenter.elders.conftest import act_as
from tests.callcenter.incidents.conftest import Sessions
from tests.callcenter.privacy.conftest import Api, fetch_all


def _yesterday() -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


def _names(api: Api, **params: str) -> list[str]:
    answer = api.client.get("/api/elders", params=params)
    assert answer.status_code == 200, answer.text
    return [item["name"] for item in answer.json()["items"]]


def test_a_supervisor_records_a_death_and_the_directory_leaves_the_elder_out(api: Api) -> None:
    act_as(api.client, StaffRole.SUPERVISOR, staff_id=2)
    assert _names(api, q="王秀英") == ["王秀英"]

    answer = api.client.put(
        f"/api/elders/{api.street.leaving}/life-status",
        json={"status": "deceased", "on": _yesterday()},
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["on"], body["recorded_by"]) == (
        "deceased",
        _yesterday(),
        "staff:2",
    )
    retention = api.settings.privacy_retention_days
    today = dt.datetime.now(api.settings.tz).date()  # the street's day
    assert body["anonymise_on"] == (today + dt.timedelta(days=retention)).isoformat()
    assert sorted(body["unbound_devices"]) == sorted(
        [api.street.terminal, api.street.monitor, api.street.door]
    )
    assert _names(api, q="王秀英") == []
    assert _names(api) == ["李建国"]  # and out of the directory's count
    (listed,) = api.client.get("/api/privacy/departed").json()
    assert (listed["id"], listed["name"], listed["status"]) == (
        api.street.leaving,
        "王秀英",
        "deceased",
    )
    assert api.client.get("/api/privacy/departed", params={"status": "moved_away"}).json() == []

    async def asked_for(sessions: Sessions) -> list[str]:
        async with sessions() as session:
            wanted = ElderFilter(SearchText(name="王"), life_status=LifeStatus.DECEASED)
            _total, found = await elders_repository.search_elders(
                session, wanted, limit=5, offset=0
            )
            return [elder.name for elder in found]

    assert api.rows(asked_for) == ["王秀英"]
    audited = api.rows(fetch_all(AuditEntry, AuditEntry.action == "elder.life_status_set"))
    assert [(a.actor, a.subject_id, a.detail["to"]) for a in audited] == [
        ("staff:2", str(api.street.leaving), "deceased")
    ]
    assert _yesterday() not in str(audited[0].detail)  # the date of death is not the log's

    # A mistake: active again, back in the directory (its devices are bound again by hand).
    back = api.client.put(
        f"/api/elders/{api.street.leaving}/life-status", json={"status": "active"}
    )
    assert (back.status_code, back.json()["anonymise_on"]) == (200, None)
    assert _names(api, q="王秀英") == ["王秀英"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "deceased"}, 422),  # on which day?
        ({"status": "active", "on": "2026-01-01"}, 422),
        ({"status": "buried", "on": "2026-01-01"}, 422),
        ({"status": "moved_away", "on": "2999-01-01"}, 422),  # not yet
        ({"status": "moved_away", "on": "1900-01-01"}, 422),  # before birth
    ],
)
def test_a_life_status_needs_a_day_between_birth_and_today(
    api: Api, body: dict[str, str], status: int
) -> None:
    answer = api.client.put(f"/api/elders/{api.street.leaving}/life-status", json=body)
    assert answer.status_code == status, answer.text
    (elder,) = api.rows(fetch_all(Elder, Elder.id == api.street.leaving))
    assert elder.life_status is LifeStatus.ACTIVE


def test_an_anonymised_record_cannot_change_and_an_unknown_elder_is_404(api: Api) -> None:
    async def anonymised(sessions: Sessions) -> None:
        async with sessions() as session, session.begin():
            elder = await session.scalar(select(Elder).where(Elder.id == api.street.leaving))
            assert elder is not None
            elder.life_status, elder.anonymised_at = LifeStatus.DECEASED, utcnow()

    api.rows(anonymised)
    url = f"/api/elders/{api.street.leaving}/life-status"
    answer = api.client.put(url, json={"status": "active"})
    assert (answer.status_code, answer.json()["code"]) == (409, "elder_anonymised")
    missing = api.client.put("/api/elders/999999/life-status", json={"status": "active"})
    assert missing.status_code == 404


ROUTES = {
    "export": ("GET", "/api/elders/{id}/export", None),
    "export page": ("GET", "/api/elders/{id}/export.txt", None),
    "life status": (
        "PUT",
        "/api/elders/{id}/life-status",
        {"status": "moved_away", "on": "2026-01-02"},
    ),
    "departed": ("GET", "/api/privacy/departed", None),
}


@pytest.mark.parametrize("route", ROUTES)
def test_only_supervisors_and_admins_export_or_record_a_departure(api: Api, route: str) -> None:
    method, path, body = ROUTES[route]
    url = path.format(id=api.street.leaving)
    for role, centre, expected in [
        (StaffRole.OPERATOR, "PH00", 403),
        (StaffRole.COMMUNITY_WORKER, "PH03", 403),  # even of the elder's own centre
        (StaffRole.SUPERVISOR, "PH00", 200),
        (StaffRole.ADMIN, "PH00", 200),
    ]:
        act_as(api.client, role, centre)
        answer = api.client.request(method, url, json=body)
        assert answer.status_code == expected, (role, answer.text)


def test_every_privacy_route_needs_a_signed_in_person(api: Api) -> None:
    with TestClient(create_app(api.settings, mqtt=False)) as stranger:
        for method, path, body in ROUTES.values():
            answer = stranger.request(method, path.format(id=api.street.leaving), json=body)
            assert answer.status_code == 401, answer.text
