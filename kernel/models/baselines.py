"""Each elder's own baseline of each vital, and the trends that drift outside it (callcenter/care)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kernel.models.base import Base, utcnow
from kernel.models.enums import string_enum

# The subject of a trend that is about the readings stopping, not about one vital.
READINGS = "readings"


class TrendDirection(enum.StrEnum):
    """Which way an elder's readings left their own baseline."""

    HIGH = "high"
    LOW = "low"
    SILENT = "silent"  # a monitor that used to report daily has stopped


class VitalBaseline(Base):
    """An elder's usual level of one vital: the median of their daily means over recent weeks,
    and how far those days usually stray from it (a robust standard deviation, from the MAD).

    Rewritten by the baseline task when its figures change (once a day, as days complete);
    an elder with too few days of a vital has no row for it (still learning).
    """

    __tablename__ = "vital_baselines"

    elder_id: Mapped[int] = mapped_column(
        ForeignKey("elders.id", ondelete="CASCADE"), primary_key=True
    )
    vital: Mapped[str] = mapped_column(String(16), primary_key=True)
    median: Mapped[float]
    spread: Mapped[float]  # 1.4826 x the median absolute deviation of the daily means
    days: Mapped[int]  # days with a reading of this vital in the window
    # The last local day of the window (it ends a fortnight before the day it was worked out).
    window_ends_on: Mapped[dt.date]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class VitalTrend(Base):
    """A drift of one elder's vital outside their baseline (or their readings stopping), one row
    while it lasts: what it was measured against when it began, and the notice it opened.

    The row, not the notice, is what keeps a lasting trend from being reported again: the
    notice may be resolved by a person while the readings stay where they went. It goes once the
    readings are back inside (the notice, if nobody took it yet, is resolved with it).
    """

    __tablename__ = "vital_trends"

    elder_id: Mapped[int] = mapped_column(
        ForeignKey("elders.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(16), primary_key=True)  # a vital, or READINGS
    direction: Mapped[TrendDirection] = mapped_column(string_enum(TrendDirection, 8))
    since: Mapped[dt.datetime]
    # The baseline then: its median and the half-width of the band around it (for READINGS, the
    # days with readings out of the weeks before, and None).
    reference: Mapped[float]
    band: Mapped[float | None]
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
