"""Finding elders: by name, phone tail, ID tail and filters; a worker only finds their own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from callcenter.register import columns
from kernel.models import StaffRole
from tests.callcenter.elders.conftest import Elders, act_as


def names(client: TestClient, **params: str | int) -> list[str]:
    answer = client.get("/api/elders", params=params)
    assert answer.status_code == 200, answer.text
    return [elder["name"] for elder in answer.json()["items"]]


def test_name_matches_any_part_of_it(client: TestClient) -> None:
    assert names(client, q="秀") == ["王秀英"]
    assert sorted(names(client, q="王")) == ["王建华", "王秀英"]
    assert sorted(names(client, q="建")) == ["李建国", "王建华"]
    assert names(client, q="张") == []


def test_phone_tail_matches_the_elders_own_phone_or_any_contacts(client: TestClient) -> None:
    assert names(client, q="4321") == ["王秀英"]  # her own phone
    assert names(client, q="0000 5555") == ["王秀英"]  # her son's, typed with a space
    assert names(client, q="8888") == ["李建国"]  # his second contact
    assert names(client, q="1380000") == []  # the start of a number is not its tail


def test_id_tail_matches_the_end_of_the_number_with_x_in_either_case(
    client: TestClient, elders: Elders
) -> None:
    xiuying_id = elders.xiuying[columns.NATIONAL_ID]
    assert names(client, q=xiuying_id[-4:].lower()) == ["王秀英"]
    assert names(client, q=xiuying_id[-4:]) == ["王秀英"]
    jianguo_tail = elders.jianguo[columns.NATIONAL_ID][-6:]
    assert names(client, q=jianguo_tail) == ["李建国"]
    assert names(client, q=elders.jianguo[columns.NATIONAL_ID][:6]) == []


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
    assert names(client, q="8888") == []  # 李建国 of PH02, found by his contact's phone
    assert names(client, community="PH02") == []
    answer = client.get("/api/elders", params={"community": "PH02"}).json()
    assert answer["total"] == 0
    act_as(client, StaffRole.OPERATOR)
    assert names(client, q="8888") == ["李建国"]


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
