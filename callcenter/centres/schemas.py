"""Shapes of the centres: the facts shipped with the project and what the API shows."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from kernel.models import CentreTier


class CentreFacts(BaseModel):
    """A centre as communities.json describes it."""

    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    name_en: str
    centre_name: str
    tier: CentreTier
    lat: float
    lon: float
    opens_at: dt.time | None
    closes_at: dt.time | None
    operators: int = 0
    supervisors: int = 0
    workers: int = 0


class CentreRead(BaseModel):
    """A centre as the API returns it."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    name_en: str
    centre_name: str
    tier: CentreTier
    lat: float
    lon: float
    opens_at: dt.time | None
    closes_at: dt.time | None
