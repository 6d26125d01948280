"""Queries on devices and their credentials."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.credentials.schemas import DeviceRow
from kernel.models import Device, Elder, utcnow


async def list_devices(
    session: AsyncSession,
    *,
    offline_only: bool = False,
    battery_below: int | None = None,
    community_code: str | None = None,
    limit: int | None = None,
) -> tuple[list[DeviceRow], int]:
    """Devices matching the filters, by community then id, with how many match in all."""
    # Outer join: a device bound to no elder is still listed (its elder and community empty).
    query = select(Device, Elder.name, Elder.community_code).outerjoin(
        Elder, Device.elder_id == Elder.id
    )
    if offline_only:
        query = query.where(Device.online.is_(False))
    if battery_below is not None:
        query = query.where(Device.battery < battery_below)
    if community_code is not None:
        query = query.where(Elder.community_code == community_code)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Elder.community_code.nulls_last(), Device.id).limit(limit)
    rows = [
        DeviceRow(
            id=device.id,
            kind=device.kind,
            elder_id=device.elder_id,
            elder_name=elder_name,
            community_code=community,
            online=device.online,
            last_seen_at=device.last_seen_at,
            battery=device.battery,
        )
        for device, elder_name, community in await session.execute(page)
    ]
    return rows, total


async def get_device(session: AsyncSession, device_id: str) -> Device | None:
    """One device by id, or None."""
    return await session.get(Device, device_id)


async def rotate_secret(session: AsyncSession, device_id: str, secret: str) -> bool:
    """Replace a device's secret and stamp when it was issued; False when there is no such device."""
    result = await session.execute(
        update(Device)
        .where(Device.id == device_id)
        .values(secret=secret, secret_issued_at=utcnow())
        .returning(Device.id)
    )
    return result.scalar_one_or_none() is not None


async def device_logins(session: AsyncSession) -> list[tuple[str, str]]:
    """(device id, secret) of every registered device, by id: the broker's password file."""
    result = await session.execute(select(Device.id, Device.secret).order_by(Device.id))
    return [(device_id, secret) for device_id, secret in result]
