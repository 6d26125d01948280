"""Numbers the API accepts, bounded to what the database holds.

A record's id in a path, a query or a body is checked against its column's range before any
query runs: an id beyond it names no record, and handed to the database it fails inside the
driver (SQLite cannot bind an integer past 2**63 - 1, PostgreSQL refuses one past its column's
type), which would be the client's mistake answered as a server fault. Out of range, FastAPI
answers 422 like any other invalid field. Use these types in routes' parameters and in the
request schemas, never a bare `int`, for anything that becomes a query's parameter.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

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
