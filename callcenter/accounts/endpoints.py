"""The `CurrentActor` dependency every operator and worker route takes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from callcenter.accounts.schemas import Actor
from kernel.models import StaffRole

# Until sign-in lands (the console issue), every caller acts as the street centre's system.
STREET_SYSTEM = Actor(staff_id=None, role=StaffRole.ADMIN, centre_code=None)


async def current_actor(connection: HTTPConnection) -> Actor:
    """The person making this request (an HTTP request or a WebSocket)."""
    del connection
    return STREET_SYSTEM


CurrentActor = Annotated[Actor, Depends(current_actor)]
