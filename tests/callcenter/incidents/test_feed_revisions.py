"""The live feed's snapshots of an incident are numbered in commit order and show the committed row,
even from a transaction that read the incident before someone else changed it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.incidents.repository import FEED, add_entry
from callcenter.pipeline.tasks import process_pending
from kernel.bus import Bus
from kernel.database import session_factory
from kernel.models import Incident, IncidentKind, IncidentStatus
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import (
    Sessions,
    actor_of,
    incidents,
    local,
    make_street,
    record,
)


async def test_a_step_committed_after_an_assign_it_did_not_see_sends_the_assign_too(
    engine: AsyncEngine, sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    street = await make_street(sessions, settings, tmp_path)
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(
        sessions, settings, lambda: local(settings, 2)
    )  # night: the street takes it
    (opened,) = await incidents(sessions)
    worker = (await actor_of(sessions, role="community_worker", centre_code="PH03")).staff_id
    bus = Bus()
    published = session_factory(engine, bus)
    async with bus.subscribe(FEED) as feed:
        async with published() as background, published() as operator:
            # A background step (the family's SMS, say) reads the case first ...
            async with background.begin():
                seen = await background.get(Incident, opened.id)
            assert seen is not None and seen.assigned_staff_id != worker
            # ... an operator assigns it and commits ...
            async with operator.begin():
                case = await operator.get(Incident, opened.id)
                assert case is not None
                case.assigned_staff_id, case.status = worker, IncidentStatus.ASSIGNED
                add_entry(operator, case, "assigned", actor="op1", staff_id=worker)
            # ... and the background step commits its own step last, from its older copy.
            async with background.begin():
                add_entry(background, seen, "family_notified", phones=1)
        assigned, noted = feed.get_nowait()["incident"], feed.get_nowait()["incident"]
    assert assigned["assigned_staff_id"] == worker
    assert noted["assigned_staff_id"] == worker  # the committed row, not the stale copy
    assert noted["status"] == IncidentStatus.ASSIGNED
    assert noted["revision"] > assigned["revision"] > 0
    assert noted["kind"] == IncidentKind.SOS and noted["elder_name"]
