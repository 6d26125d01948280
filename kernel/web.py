"""What every HTTP route shares: a unit of work per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed when the route returns, rolled back if it raises."""
    async with request.app.state.sessions() as session, session.begin():
        yield session


# scope="function": the commit happens before the response leaves. With FastAPI's default
# ("request") a client could be told 200 before its write was committed, read its own write
# back and not find it, or be told 200 for a write whose commit then failed.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
