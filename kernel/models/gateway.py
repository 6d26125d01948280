"""What the gateway records: accepted device messages (vital readings among them), rejected ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, BigId


class DeviceEvent(Base):
    """An accepted uplink message, recorded before it is acknowledged; one row per (device, id).

    The unique key is the protocol's deduplication key: a QoS 1 resend or a terminal's retry
    with the same id finds its row and is not recorded, nor handed on, twice.

    A vital reading is stored once, as its event: the alarm engine judges it from here and the
    elder's chart reads it from here (by `ix_device_events_elder_received`).

    `judged_at` is the alarm engine's mark: NULL until the event has been judged, set in the
    same transaction as whatever judging it did. The engine takes the unmarked rows (the
    partial index holds only those), so no event is skipped, whatever order the rows were
    committed in, and none is judged twice. `judge_error` keeps why judging failed, for review.
    """

    __tablename__ = "device_events"
    __table_args__ = (
        UniqueConstraint("device_id", "message_id"),
        Index("ix_device_events_elder_received", "elder_id", "received_at"),
        Index(
            "ix_device_events_unjudged",
            "id",
            sqlite_where=text("judged_at IS NULL"),
            postgresql_where=text("judged_at IS NULL"),
        ),
        # Alarms are claimed ahead of any backlog of readings without scanning it.
        Index(
            "ix_device_events_unjudged_alarms",
            "id",
            sqlite_where=text("judged_at IS NULL AND type IN ('sos', 'fall')"),
            postgresql_where=text("judged_at IS NULL AND type IN ('sos', 'fall')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    message_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    # None for an sos/fall from a registered device bound to no elder: an unidentified caller.
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id", ondelete="SET NULL"))
    device_ts: Mapped[dt.datetime | None]
    received_at: Mapped[dt.datetime]
    transport: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    judged_at: Mapped[dt.datetime | None]
    judge_error: Mapped[str | None] = mapped_column(Text)


class RejectedMessage(Base):
    """A message the gateway refused, kept raw with the reason for an operator to review."""

    __tablename__ = "rejected_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[dt.datetime] = mapped_column(index=True)
    transport: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(255))
    # As claimed by the topic or the handshake: may name no registered device.
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text)
    size: Mapped[int]
    # The payload as received, cut at RAW_KEPT_BYTES (an oversized message keeps its head).
    raw: Mapped[bytes] = mapped_column(LargeBinary)


RAW_KEPT_BYTES = 8192
