"""Every integer the API takes is bounded in its OpenAPI to what the database holds: a path,
query or body integer beyond it is a 422, never a driver's overflow (a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from eldercare.app import create_app
from kernel.bounds import INT8_MAX
from kernel.settings import Settings
from tests.api.test_openapi_conformance import OPENAPI
from tests.databases import migrate_fresh
from tests.factories import acting_as

BEYOND = 2**63  # one past SQLite's INTEGER and PostgreSQL's bigint


def _integers(
    schema: dict[str, Any], where: str, seen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema inside `schema` (following $refs), with where it is."""
    ref = schema.get("$ref")
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            yield from _integers(
                OPENAPI["components"]["schemas"][name], f"{where}>{name}", seen | {name}
            )
        return
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            yield from _integers(part, where, seen)
    for name, part in schema.get("properties", {}).items():
        yield from _integers(part, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _integers(schema["items"], f"{where}[]", seen)


def _request_integers() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            here = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                yield from _integers(parameter["schema"], f"{here} {parameter['name']}")
            for media in operation.get("requestBody", {}).get("content", {}).values():
                yield from _integers(media["schema"], f"{here} body")


def test_every_integer_the_api_takes_is_bounded_to_what_the_database_holds() -> None:
    found = list(_request_integers())
    assert len(found) > 10  # ids in paths, queries and bodies, limits, offsets
    unbounded = [
        where for where, schema in found
        if not (schema.get("maximum", INT8_MAX + 1) <= INT8_MAX and "minimum" in schema)
    ]  # fmt: skip
    assert unbounded == []


def test_an_id_beyond_the_database_is_a_422_in_a_path_a_query_and_a_body(
    settings: Settings,
) -> None:
    migrate_fresh(settings.effective_database_url)
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        answers = [
            client.get(f"/api/elders/{BEYOND}"),
            client.get(f"/api/elders?offset={BEYOND}"),
            client.get(f"/api/incidents?elder_id={BEYOND}"),
            client.post("/api/incidents/1/assign", json={"staff_id": BEYOND}),
            client.post(
                "/api/rosters/shifts",
                json={
                    "staff_id": BEYOND,
                    "centre_code": "PH03",
                    "starts_at": "2026-11-23T08:00:00+08:00",
                    "ends_at": "2026-11-23T16:00:00+08:00",
                },
            ),
            client.get("/api/on-duty", params={"at": "9999-12-31T23:59:59-12:00"}),
            client.get("/api/rosters", params={"from": "9999-12-31"}),
        ]
    assert [answer.status_code for answer in answers] == [422] * len(answers)
