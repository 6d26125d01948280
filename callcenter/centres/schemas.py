"""Shapes of the centres: the facts shipped with the project and what the API shows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, WithJsonSchema

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
    opens_at: LocalTime | None
    closes_at: LocalTime | None
    operators: int = 0
    supervisors: int = 0
    workers: int = 0


# A wall-clock time in the street's zone ("08:00:00"): JSON Schema's "time" format would
# promise a UTC offset that these opening hours do not carry.
LocalTime = Annotated[
    dt.time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$",
            "description": "Local time in the street's time zone (Asia/Shanghai)",
        }
    ),
]


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
    opens_at: LocalTime | None
    closes_at: LocalTime | None
