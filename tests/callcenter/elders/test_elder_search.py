"""Finding elders: by name, a whole phone or ID number, and filters; a worker only finds their own;
numbers are never matched in part, number searches are limited per person, every search audited."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from callcenter.elders.service import NUMBER_SEARCH_LIMITS
from callcenter.register import columns
from kernel.models import StaffRole
from kernel.settings import Settings
from tests.callcenter.elders.conftest import Elders, act_as, database_rows


def names(client: TestClient, **params: str | int) -> list[str]:
    answer = client.get("/api/elders", params=params)
    assert answer.status_code == 200, answer.text
    return [elder["name"] for elder in answer.json()["items"]]


def test_name_matches_any_part_of_it(client: TestClient) -> None:
    assert names(client, q="秀") == ["王秀英"]
    assert sorted(names(client, q="王")) == ["王建华", "王秀英"]
    assert sorted(names(client, q="建")) == ["李建国", "王建华"]
    assert names(client, q="张") == []


def test_a_whole_phone_number_finds_the_elder_by_their_own_or_any_contacts(
    client: TestClient,
) -> None:
    assert names(client, q="13800004321") == ["王秀英"]  # her own phone
    assert names(client, q="139 0000 5555") == ["王秀英"]  # her son's, typed with spaces
    assert names(client, q="+86 136-0000-8888") == ["李建国"]  # his second contact
    assert names(client, q="13800009999") == []


def test_a_whole_id_number_finds_the_elder_with_x_in_either_case(
    client: TestClient, elders: Elders
) -> None:
    number = elders.xiuying[columns.NATIONAL_ID]
    assert number.endswith("X")
    assert names(client, q=number.lower()) == ["王秀英"]
    assert names(client, q=number) == ["王秀英"]
    assert names(client, q=elders.jianguo[columns.NATIONAL_ID]) == ["李建国"]


def test_a_part_of_a_number_is_refused_so_masked_digits_cannot_be_uncovered(
    client: TestClient, elders: Elders
) -> None:
    number = elders.jianguo[columns.NATIONAL_ID]
    # What recovered a whole ID before: its end, one digit longer each time.
    for part in (number[-4:], number[-5:], number[-12:], number[-17:], number[:6], "4321", "00 5555", "138000043", "123x"):  # fmt: skip
        answer = client.get("/api/elders", params={"q": part})
        assert answer.status_code == 422, (part, answer.text)
        assert answer.json()["code"] == "whole_number_needed"
    # 7 or 8 digits are a whole local landline: matched whole, never as the end of another number.
    assert names(client, q=number[-8:]) == names(client, q="00004321") == []


def test_number_searches_are_limited_per_person_and_every_search_is_audited(
    client: TestClient, settings: Settings
) -> None:
    act_as(client, StaffRole.OPERATOR, staff_id=7)
    limit = NUMBER_SEARCH_LIMITS[0][1]
    for _ in range(limit):
        assert client.get("/api/elders", params={"q": "13800009999"}).status_code == 200
    refused = client.get("/api/elders", params={"q": "13800004321"})
    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_number_searches")
    assert names(client, q="秀") == ["王秀英"]  # a name search still answers
    act_as(client, StaffRole.OPERATOR, staff_id=8)  # another person has their own allowance
    assert names(client, q="13800004321") == ["王秀英"]
    rows = database_rows(
        settings,
        "SELECT actor, action, detail FROM audit_log WHERE action LIKE 'elder.%search%'"
        " ORDER BY id",
    )
    assert [(actor, action) for actor, action, _ in rows] == [
        *[("staff:7", "elder.number_searched")] * limit,
        ("staff:7", "elder.number_search_refused"),
        ("staff:7", "elder.searched"),
        ("staff:8", "elder.number_searched"),
    ]
    details = [json.loads(detail) for _, _, detail in rows]
    assert (details[0]["by"], details[0]["results"]) == ("phone", 0)
    assert (details[-2]["by"], details[-2]["results"]) == ("name", 1)
    assert (details[-1]["by"], details[-1]["results"]) == ("phone", 1)
    # Never what was typed: no name, no number in the audit log.
    assert not any(text in str(rows) for text in ("秀", "1380000", "4321"))


def test_filters_narrow_by_community_condition_and_living_situation(client: TestClient) -> None:
    assert names(client, community="PH02") == ["李建国"]
    assert sorted(names(client, condition="高血压")) == ["王建华", "王秀英"]
    assert names(client, condition="阿尔茨海默症") == ["李建国"]
    assert names(client, living="alone") == ["王秀英"]
    assert names(client, q="王", condition="高血压", living="with_children") == ["王建华"]


def test_results_carry_the_total_beyond_the_page(client: TestClient) -> None:
    page = client.get("/api/elders", params={"q": "王", "limit": 1, "offset": 1}).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (2, 1, 1, 1)
    first = client.get("/api/elders", params={"limit": 1}).json()
    assert first["total"] == 3 and first["items"][0]["name"] != page["items"][0]["name"]
    assert set(first["items"][0]) == {
        "id", "name", "sex", "age", "national_id", "community_code", "address", "phone",
        "living_situation",
    }  # fmt: skip


def test_a_community_worker_only_finds_their_own_centres_elders(client: TestClient) -> None:
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03")
    assert sorted(names(client)) == ["王建华", "王秀英"]
    assert names(client, q="13600008888") == []  # 李建国 of PH02, by his contact's phone
    assert names(client, community="PH02") == []
    answer = client.get("/api/elders", params={"community": "PH02"}).json()
    assert answer["total"] == 0
    act_as(client, StaffRole.OPERATOR)
    assert names(client, q="13600008888") == ["李建国"]


def test_bad_searches_are_refused_with_the_reason(client: TestClient) -> None:
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"offset": -1}, "offset"),
        ({"living": "on_the_moon"}, "living"),
        ({"q": "x" * 65}, "q"),
    ):
        answer = client.get("/api/elders", params=params)
        assert answer.status_code == 422, params
        (problem,) = answer.json()["detail"]
        assert problem["loc"] == ["query", field] and problem["msg"]
