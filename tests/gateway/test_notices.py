"""The notice outbox: sent once delivered, kept and retried while it cannot be."""

from __future__ import annotations

import json

from sqlalchemy import insert, select

from gateway.notices import send_pending_notices
from kernel.models import DeviceNotice, Incident, IncidentKind, IncidentStatus
from tests.gateway.conftest import Sessions, Street


async def queued(sessions: Sessions, street: Street) -> int:
    async with sessions() as session, session.begin():
        incident = Incident(
            kind=IncidentKind.SOS, priority=1, status=IncidentStatus.ACKNOWLEDGED,
            device_id=street.terminal, centre_code="PH03", routing="test",
        )  # fmt: skip
        session.add(incident)
        await session.flush()
        await session.execute(
            insert(DeviceNotice).values(
                device_id=street.terminal, incident_id=incident.id, text="社工正在赶来", eta_min=7
            )
        )
        return incident.id


async def test_a_notice_waits_while_undeliverable_then_goes_out_once(
    sessions: Sessions, street: Street
) -> None:
    incident_id = await queued(sessions, street)
    heard: list[tuple[str, bytes]] = []

    async def offline(device: str, payload: bytes) -> bool:
        return False

    async def failing(device: str, payload: bytes) -> bool:
        raise ConnectionError("broker gone")

    async def online(device: str, payload: bytes) -> bool:
        heard.append((device, payload))
        return True

    assert await send_pending_notices(sessions, offline) == 0
    assert await send_pending_notices(sessions, failing) == 0
    assert await send_pending_notices(sessions, online) == 1
    assert await send_pending_notices(sessions, online) == 0
    ((device, payload),) = heard
    assert device == street.terminal
    assert json.loads(payload) == {
        "v": 1,
        "type": "notice",
        "ref": str(incident_id),
        "text": "社工正在赶来",
        "eta_min": 7,
    }
    async with sessions() as session:
        row = (await session.scalars(select(DeviceNotice))).one()
    assert row.attempts == 3 and row.sent_at is not None
