"""Who may see an elder, and the elder looked up for a person who may act on them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts import permissions
from callcenter.accounts.permissions import Action, Where
from callcenter.accounts.schemas import Actor
from callcenter.elders import repository
from kernel.errors import NotFoundError
from kernel.models import Elder


class ElderNotFoundError(NotFoundError):
    """No elder with this id (or not one this person may see)."""


async def where_of(session: AsyncSession, elder: Elder, actor: Actor) -> Where:
    """The elder's community, and whether this person holds an open incident of theirs (a
    worker sent across a community line must see who lives behind the door)."""
    if (
        elder.community_code == actor.centre_code
        or actor.staff_id is None
        or permissions.centre_limit(actor, Action.ELDER_VIEW) is None
    ):
        return Where(elder.community_code)  # no need to ask: held or not changes nothing
    held = await repository.holds_open_incident_of(session, elder.id, actor.staff_id)
    return Where(elder.community_code, held=held)


async def visible_elder(
    session: AsyncSession, elder_id: int, actor: Actor, action: Action = Action.ELDER_VIEW
) -> Elder:
    """The elder, if this person may see them (404) and do `action` for them (403)."""
    elder = await session.get(Elder, elder_id)
    where = await where_of(session, elder, actor) if elder is not None else None
    if elder is None or not permissions.may(actor, Action.ELDER_VIEW, where):
        raise ElderNotFoundError(f"elder {elder_id} does not exist")
    permissions.require(actor, action, where)
    return elder
