"""Schemathesis over the whole OpenAPI, signed out and as each role: no request gets a server
error, and every answer is one the OpenAPI documents (status, content type, headers, body).

Every operation runs signed out (the public ones in full, the others to their 401); the
operations that need sign-in (those documenting a 401 for it) run again as an admin, with valid
and invalid input, and as an operator, a supervisor and a community worker with valid input. The app runs in-process on a copy of a small seeded street
(tests/api/conftest.py), with its background work, as `eldercare up` runs it. The console's
pages and the WebSocket routes are not in the OpenAPI (include_in_schema=False; a socket has
no OpenAPI description) and so are not exercised here.

Deterministic: Hypothesis derandomized, a fixed number of examples per operation, and
Schemathesis's coverage phase (boundary and invalid values derived from the schema).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callcenter.accounts.endpoints import NotSignedInError
from eldercare.app import create_app
from kernel.settings import Settings
from tests.api.conftest import MEMBERS, bearer_token, copy_street

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Examples per operation and run, beyond the coverage phase's: with five runs of 38
# operations, what keeps the whole module near a minute on two cores.
EXAMPLES = 5
EXAMPLE_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# The OpenAPI does not depend on the database: read it from an app on an in-memory one.
OPENAPI = create_app(
    Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:"),  # type: ignore[call-arg]
    mqtt=False,
).openapi()
CONFIG = {"seed": 18, "suppress-health-check": ["all"], "generation": {"deterministic": True}}
API = schemathesis.openapi.from_dict(OPENAPI, config=SchemathesisConfig.from_dict(CONFIG))
# Invalid input is refused the same whoever sends it (FastAPI validates before a route's own
# rules): valid input only for the roles after the admin, whose answers differ by role.
VALID_ONLY = {**CONFIG, "generation": {"deterministic": True, "mode": "positive"}}
API_VALID_ONLY = schemathesis.openapi.from_dict(
    OPENAPI, config=SchemathesisConfig.from_dict(VALID_ONLY)
)
# Signed out, every operation; then the ones that answer 401 to that, as each role.
NEEDS_SIGN_IN = {
    f"{method.upper()} {path}"
    for path, operations in OPENAPI["paths"].items()
    for method, operation in operations.items()
    if operation["responses"].get("401", {}).get("description") == NotSignedInError.__doc__
}


def _needs_sign_in(ctx: Any) -> bool:
    return f"{ctx.operation.method.upper()} {ctx.operation.path}" in NEEDS_SIGN_IN


@dataclass
class Caller:
    """The in-process client of one run, signed in as `username` (None: signed out)."""

    settings: Settings
    client: asgi.ASGIClient
    username: str | None

    def sign_in(self) -> None:
        """A session of its own for this person (again, after the run ended the last one)."""
        if self.username is not None:
            token = bearer_token(self.settings, self.username)
            self.client.headers["Authorization"] = f"Bearer {token}"

    def check(self, case: Any) -> None:
        """Send the case and check the answer against the OpenAPI."""
        response = case.call(session=self.client)
        case.validate_response(response, checks=CHECKS)
        if response.status_code == 401:
            self.sign_in()  # it signed this person out, or changed their password


def _caller(username: str | None, seeded: Path, data_dir: Path) -> Iterator[Caller]:
    settings = copy_street(seeded, data_dir)
    with asgi.get_client(create_app(settings, mqtt=False)) as client:
        caller = Caller(settings, client, username)
        caller.sign_in()
        try:
            yield caller
        finally:
            asgi.shutdown_lifespans()  # the app's background work and database, stopped


@pytest.fixture(scope="module")
def signed_out(seeded_street: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caller]:
    """The app on a copy of the street, and a client that is not signed in."""
    yield from _caller(None, seeded_street, tmp_path_factory.mktemp("api") / "data")


@pytest.fixture(scope="module")
def admin(seeded_street: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caller]:
    """The app on a copy of the street, and a client signed in as an admin."""
    yield from _caller(MEMBERS["admin"], seeded_street, tmp_path_factory.mktemp("api") / "data")


FLOOR_ROLES = [role for role in MEMBERS if role != "admin"]


@pytest.fixture(scope="module", params=[MEMBERS[role] for role in FLOOR_ROLES], ids=FLOOR_ROLES)
def signed_in(
    request: pytest.FixtureRequest, seeded_street: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Caller]:
    """The app on a copy of the street, and a client signed in as another role."""
    yield from _caller(request.param, seeded_street, tmp_path_factory.mktemp("api") / "data")


@API.parametrize()
@EXAMPLE_SETTINGS
def test_signed_out_no_server_error_and_every_answer_documented(
    case: Any, signed_out: Caller
) -> None:
    signed_out.check(case)


@API.include(func=_needs_sign_in).parametrize()
@EXAMPLE_SETTINGS
def test_admin_no_server_error_and_every_answer_documented(case: Any, admin: Caller) -> None:
    admin.check(case)


@API_VALID_ONLY.include(func=_needs_sign_in).parametrize()
@EXAMPLE_SETTINGS
def test_each_role_no_server_error_and_every_answer_documented(
    case: Any, signed_in: Caller
) -> None:
    signed_in.check(case)
