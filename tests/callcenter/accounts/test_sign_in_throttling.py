"""Sign-in throttling: a guesser is slowed per account and per address, staff are never locked
out by a stranger, and nothing tells which accounts exist."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.accounts import service
from callcenter.accounts.service import (
    ADDRESS_BURST,
    FIRST_HOLD,
    Refusal,
    Refused,
    SignedIn,
    SignInClient,
    Throttled,
)
from eldercare.jobs import ensure_staff_and_roster
from kernel.settings import Settings
from tests.callcenter.accounts.test_sign_in import staffed_app
from tests.factories import TEST_PASSWORD, create_passwords, sign_in

STRANGER = ("203.0.113.66", 40000)
CALL_CENTRE = ("198.51.100.10", 50000)  # the street call centre's one NAT address


def attempt(client: TestClient, username: str, password: str) -> tuple[int, dict[str, str]]:
    answer = client.post("/api/auth/sign-in", json={"username": username, "password": password})
    return answer.status_code, answer.json()


def browser(app: FastAPI, address: tuple[str, int]) -> TestClient:
    return TestClient(app, client=address)


def test_a_strangers_failures_never_keep_staff_out_from_their_usual_place(
    settings: Settings,
) -> None:
    app = staffed_app(settings)
    with TestClient(app) as _running:
        own_browser = browser(app, CALL_CENTRE)
        sign_in(own_browser, "op1")
        assert own_browser.cookies.get("eldercare_device")
        own_browser.post("/api/auth/sign-out")

        stranger = browser(app, STRANGER)
        for n in range(8):
            assert attempt(stranger, "op1", f"guess-{n}")[0] == 401
        # From elsewhere, even the right password now waits (and says only 'refused').
        assert attempt(stranger, "op1", TEST_PASSWORD) == (
            401, {"code": "sign_in_refused", "message": "wrong username or password"}
        )  # fmt: skip
        # The operator's own browser, and a fresh browser at the call centre's address.
        assert sign_in(own_browser, "op1")["username"] == "op1"
        colleague_pc = browser(app, CALL_CENTRE)
        assert sign_in(colleague_pc, "op1")["username"] == "op1"


def test_a_held_account_an_unknown_name_and_a_wrong_password_answer_alike(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    real = service._matches

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(service, "_matches", counted)
    app = staffed_app(settings)
    with TestClient(app) as _running:
        stranger = browser(app, STRANGER)
        for n in range(6):
            attempt(stranger, "sup1", f"guess-{n}")
        checks.clear()
        answers = {
            "held": attempt(stranger, "sup1", TEST_PASSWORD),
            "wrong": attempt(stranger, "op2", "not-it"),
            "unknown": attempt(stranger, "nobody-here", "not-it"),
        }
    assert len(set(map(repr, answers.values()))) == 1, answers
    assert answers["held"][0] == 401
    # Each refusal costs one argon2 check: the held and the unknown one against a decoy hash.
    assert len(checks) == 3


def test_an_address_with_too_many_failures_waits_but_staff_browsers_behind_it_do_not(
    settings: Settings,
) -> None:
    app = staffed_app(settings)
    with TestClient(app) as _running:
        own_browser = browser(app, CALL_CENTRE)
        sign_in(own_browser, "sup1")
        own_browser.post("/api/auth/sign-out")

        guesser = browser(app, CALL_CENTRE)  # at the next desk: same address, no device cookie
        codes = Counter(
            attempt(guesser, f"ph{n % 13:02d}-w1", f"guess-{n}")[0]
            for n in range(ADDRESS_BURST + 5)
        )
        assert codes == {401: ADDRESS_BURST, 429: 5}
        answer = guesser.post(
            "/api/auth/sign-in", json={"username": "op1", "password": TEST_PASSWORD}
        )
        assert (answer.status_code, answer.json()["code"]) == (429, "too_many_sign_ins")
        assert 1 <= int(answer.headers["retry-after"]) <= 60

        assert sign_in(own_browser, "sup1")["username"] == "sup1"
        assert sign_in(browser(app, STRANGER), "op1")["username"] == "op1"


async def _staff(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    await ensure_staff_and_roster(sessions, settings)
    await create_passwords(sessions)


async def test_the_wait_doubles_with_each_failure_and_a_right_password_ends_it(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _staff(sessions, settings)
    stranger = SignInClient("203.0.113.66")
    start = dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC)

    async def at(seconds: float, password: str = "guess") -> Refusal | str:
        outcome = await service.sign_in(
            sessions, "op1", password, stranger, start + dt.timedelta(seconds=seconds)
        )
        assert not isinstance(outcome, Throttled)
        return outcome.reason if isinstance(outcome, Refused) else "signed in"

    assert [await at(n) for n in range(5)] == [Refusal.WRONG_PASSWORD] * 5
    first = FIRST_HOLD.total_seconds()
    assert await at(4 + first - 1, TEST_PASSWORD) == Refusal.HELD
    assert await at(4 + first + 1) == Refusal.WRONG_PASSWORD  # counted: now 2 x FIRST_HOLD
    later = 4 + first + 1
    assert await at(later + 2 * first - 1, TEST_PASSWORD) == Refusal.HELD
    assert await at(later + 2 * first + 1, TEST_PASSWORD) == "signed in"
    assert await at(later + 2 * first + 2) == Refusal.WRONG_PASSWORD  # the count starts afresh


async def test_a_burst_of_tries_at_once_is_counted_whole(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await _staff(sessions, settings)
    now = dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC)
    stranger = SignInClient("203.0.113.66")
    outcomes = await asyncio.gather(*(
        service.sign_in(sessions, f"op{n % 3 + 1}", f"guess-{n}", stranger, now)
        for n in range(ADDRESS_BURST + 10)
    ))  # fmt: skip
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"Refused": ADDRESS_BURST, "Throttled": 10}
    checked = [o for o in outcomes if isinstance(o, Refused) and o.reason is Refusal.WRONG_PASSWORD]
    assert len(checked) <= 3 * service.FREE_FAILURES
    right = await service.sign_in(
        sessions, "sup1", TEST_PASSWORD, SignInClient("198.51.100.10"), now
    )
    assert isinstance(right, SignedIn)
