"""Numbers and moments the API accepts, bounded to what the database and the calendar hold.

A record's id in a path, a query or a body is checked against its column's range before any
query runs: an id beyond it names no record, and handed to the database it fails inside the
driver (SQLite cannot bind an integer past 2**63 - 1, PostgreSQL refuses one past its column's
type), which would be the client's mistake answered as a server fault. Out of range, FastAPI
answers 422 like any other invalid field. Use these types in routes' parameters and in the
request schemas, never a bare `int`, for anything that becomes a query's parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, TypeVar

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime

# PostgreSQL's integer (the tables' default key) and bigint (kernel.models.base.BigId, the
# tables that grow with traffic: events, audit, SMS outbox, rejects). SQLite's INTEGER holds
# the larger range; the smaller bound is the one both databases keep.
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1

Id = Annotated[int, Ge(1), Le(INT4_MAX)]
"""The id of a record whose key is an `integer` column: elders, staff, incidents, shifts..."""

LongId = Annotated[int, Ge(1), Le(INT8_MAX)]
"""The id of a record whose key is a `bigint` column (kernel.models.base.BigId)."""

Offset = Annotated[int, Ge(0), Le(INT4_MAX)]
"""How many rows a listing skips: beyond INT4_MAX no table here has anything left to show."""


_Dated = TypeVar("_Dated", dt.date, dt.datetime)

# Moments and days: what Python's calendar can carry to UTC and a few days on (a year-9999
# moment west of UTC cannot be converted, a year-1 one east of it neither), and more than any
# record of this service needs.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def _within_calendar(value: _Dated) -> _Dated:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year must be from {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value


Moment = Annotated[dt.datetime, AfterValidator(_within_calendar)]
"""A date and time (a naive one is taken as the route says), years EARLIEST_YEAR..LATEST_YEAR."""

AwareMoment = Annotated[AwareDatetime, AfterValidator(_within_calendar)]
"""A date and time with its UTC offset, years EARLIEST_YEAR..LATEST_YEAR."""

Day = Annotated[dt.date, AfterValidator(_within_calendar)]
"""A calendar day, years EARLIEST_YEAR..LATEST_YEAR."""
