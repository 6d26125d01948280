"""A request's unit of work is committed before its answer leaves; logged request targets keep
no query values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session as OrmSession
from starlette.types import Message, Receive, Scope, Send

from kernel.database import create_engine, session_factory
from kernel.web import Session, without_query_values


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    yield engine
    await engine.dispose()


def app_on(engine: AsyncEngine) -> tuple[FastAPI, list[str]]:
    app = FastAPI()
    app.state.sessions = session_factory(engine)
    order: list[str] = []

    @app.post("/things")
    async def add(session: Session) -> dict[str, str]:
        await session.execute(text("select 1"))
        order.append("route returned")
        return {"saved": "yes"}

    return app, order


async def test_the_commit_happens_before_the_response_is_sent(engine: AsyncEngine) -> None:
    app, order = app_on(engine)

    async def watch(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                order.append("response sent")
            await send(message)

        await app(scope, receive, sending)

    def committed(_: OrmSession) -> None:
        order.append("committed")

    event.listen(OrmSession, "after_commit", committed)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=watch), base_url="http://t"
        ) as client:
            answer = await client.post("/things")
    finally:
        event.remove(OrmSession, "after_commit", committed)
    assert answer.status_code == 200
    assert order == ["route returned", "committed", "response sent"]


async def test_a_commit_that_fails_is_an_error_to_the_client_not_a_200(engine: AsyncEngine) -> None:
    app, _ = app_on(engine)

    def refuse(_: OrmSession) -> None:
        raise RuntimeError("the database refused the commit")

    event.listen(OrmSession, "before_commit", refuse)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://t",
        ) as client:
            answer = await client.post("/things")
    finally:
        event.remove(OrmSession, "before_commit", refuse)
    assert answer.status_code == 500


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/api/elders?q=%E7%8E%8B&phone=138", "/api/elders?q=&phone="),
        ("/api/elders?q", "/api/elders?q="),
        ("/api/elders?", "/api/elders?"),
        ("/api/elders", "/api/elders"),
        ("/ws/feed?centre=PH03", "/ws/feed?centre="),
    ],
)
def test_query_values_are_left_out_of_a_logged_target(target: str, logged: str) -> None:
    assert without_query_values(target) == logged
