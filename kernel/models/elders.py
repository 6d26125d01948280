"""Elders of the register, their emergency contacts, alarm settings and away periods."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kernel.models.base import Base, utcnow
from kernel.models.enums import LivingSituation, SelfCare, Sex, string_enum


class LifeStatus(enum.StrEnum):
    """Whether the elder is still one the street looks after."""

    ACTIVE = "active"
    DECEASED = "deceased"  # 已故
    MOVED_AWAY = "moved_away"  # 迁出


class Elder(Base):
    """A registered elder (60 and over) of Pinghu street."""

    __tablename__ = "elders"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    sex: Mapped[Sex] = mapped_column(string_enum(Sex, 8))
    birth_date: Mapped[dt.date]
    community_code: Mapped[str] = mapped_column(ForeignKey("centres.code"), index=True)
    address: Mapped[str] = mapped_column(String(255))
    lat: Mapped[float]
    lon: Mapped[float]
    phone: Mapped[str | None] = mapped_column(String(20))
    living_situation: Mapped[LivingSituation] = mapped_column(string_enum(LivingSituation, 16))
    # Chronic conditions as written in the register (e.g. 高血压, 阿尔茨海默症), normalised.
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    self_care: Mapped[SelfCare] = mapped_column(string_enum(SelfCare, 20))
    remarks: Mapped[str] = mapped_column(Text, default="")
    # sha256 of the normalised register row: an unchanged row on re-import is skipped.
    record_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Deceased or moved away: their devices raise no alarm, and the retention period runs from
    # the later of the day it happened and the day it was recorded (callcenter/privacy).
    life_status: Mapped[LifeStatus] = mapped_column(
        string_enum(LifeStatus, 16), default=LifeStatus.ACTIVE, server_default="active", index=True
    )
    life_status_on: Mapped[dt.date | None]
    life_status_recorded_at: Mapped[dt.datetime | None]
    life_status_recorded_by: Mapped[str | None] = mapped_column(String(64))
    # Set once the retention period is over and the personal data is gone; the row stays for
    # the incidents' statistics (community, sex, year of birth).
    anonymised_at: Mapped[dt.datetime | None]

    # What the call centre keeps up to date itself, beyond the register (callcenter/elders):
    # Bumped by every edit in the console and every re-import that changes the elder: an edit
    # made on an older version is refused (two operators never silently overwrite each other).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Register fields changed in the console since the office's file last agreed with them:
    # {"phone" | "contacts": {"at": iso time, "by": actor}}; None when there are none. A re-import
    # keeps these as the console has them and reports the file's other value as a conflict.
    console_edits: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Another number to reach the elder (a landline, a second mobile); not in the register.
    second_phone: Mapped[str | None] = mapped_column(String(20))
    # How to get in: who holds a key, and the codes. The codes are never listed or exported:
    # they are shown one at a time on request, each showing audited.
    key_holder_name: Mapped[str | None] = mapped_column(String(64))
    key_holder_relation: Mapped[str | None] = mapped_column(String(32))
    key_holder_phone: Mapped[str | None] = mapped_column(String(20))
    key_safe_code: Mapped[str | None] = mapped_column(String(32))
    door_code: Mapped[str | None] = mapped_column(String(32))
    access_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    # [{"name": "氨氯地平", "dose": "5mg 每日一次"}], as the family or the doctor gave them.
    medications: Mapped[list[dict[str, str]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    allergies: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # The family doctor or the community health centre's (社康) doctor, and where to take them.
    doctor_name: Mapped[str | None] = mapped_column(String(64))
    doctor_phone: Mapped[str | None] = mapped_column(String(20))
    doctor_clinic: Mapped[str | None] = mapped_column(String(128))
    preferred_hospital: Mapped[str | None] = mapped_column(String(128))

    contacts: Mapped[list[EmergencyContact]] = relationship(
        back_populates="elder",
        lazy="raise",
        order_by="EmergencyContact.position",
        cascade="all, delete-orphan",
    )
    thresholds: Mapped[list[VitalThreshold]] = relationship(
        back_populates="elder", lazy="raise", cascade="all, delete-orphan"
    )
    away_periods: Mapped[list[AwayPeriod]] = relationship(
        back_populates="elder", lazy="raise", cascade="all, delete-orphan"
    )


class EmergencyContact(Base):
    """A family member or neighbour to call, in the order the register gives (1 first)."""

    __tablename__ = "emergency_contacts"
    __table_args__ = (UniqueConstraint("elder_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(32))
    # None when the register's number was not a usable mobile (reported as a warning on import).
    phone: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8), default="zh")

    elder: Mapped[Elder] = relationship(back_populates="contacts", lazy="raise")


class VitalThreshold(Base):
    """A per-elder override of the default bands for one vital sign (None keeps the default)."""

    __tablename__ = "vital_thresholds"
    __table_args__ = (UniqueConstraint("elder_id", "vital"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    vital: Mapped[str] = mapped_column(String(16))
    warn_low: Mapped[float | None]
    warn_high: Mapped[float | None]
    critical_low: Mapped[float | None]
    critical_high: Mapped[float | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    elder: Mapped[Elder] = relationship(back_populates="thresholds", lazy="raise")


class AwayPeriod(Base):
    """The elder is away (in hospital, visiting family): no welfare or wandering alarms meanwhile."""

    __tablename__ = "away_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime | None]
    reason: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str] = mapped_column(String(64))

    elder: Mapped[Elder] = relationship(back_populates="away_periods", lazy="raise")
