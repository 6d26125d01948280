"""What every HTTP route shares: a unit of work per request."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed when the route returns, rolled back if it raises."""
    async with request.app.state.sessions() as session, session.begin():
        yield session
