"""The street call centre, the community centres, their staff and duty rosters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.models.base import Base, utcnow
from kernel.models.enums import CentreTier, StaffRole, string_enum


class Centre(Base):
    """The street call centre (PH00, around the clock) or a community centre (day hours)."""

    __tablename__ = "centres"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    centre_name: Mapped[str] = mapped_column(String(128))
    tier: Mapped[CentreTier] = mapped_column(string_enum(CentreTier, 16))
    lat: Mapped[float]
    lon: Mapped[float]
    # Local opening hours; both None means staffed around the clock.
    opens_at: Mapped[dt.time | None]
    closes_at: Mapped[dt.time | None]

    staff: Mapped[list[StaffMember]] = relationship(back_populates="centre", lazy="raise")


class StaffMember(Base):
    """An operator, supervisor, community worker or admin, attached to one centre."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centres.code"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[StaffRole] = mapped_column(string_enum(StaffRole, 24))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    centre: Mapped[Centre] = relationship(back_populates="staff", lazy="raise")
    shifts: Mapped[list[Shift]] = relationship(back_populates="staff_member", lazy="raise")


class Shift(Base):
    """One stretch of duty: who is on duty at which centre, from when until when (UTC)."""

    __tablename__ = "shifts"
    __table_args__ = (Index("ix_shifts_centre_window", "centre_code", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centres.code"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]

    staff_member: Mapped[StaffMember] = relationship(back_populates="shifts", lazy="raise")
