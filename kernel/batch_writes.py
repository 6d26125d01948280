"""Batch writes for a hot path: many rows in one statement, the same on SQLite and PostgreSQL.

On SQLite a batch is one multi-row statement run by the driver: each value goes through its
column's own bind processor, or for UTC timestamps a cheaper one that gives the same text (so
it is stored exactly as SQLAlchemy would store it), the SQL is made once per table, columns and
row count. SQLAlchemy's generic executemany cost the gateway's writer thread 26-28 µs of CPU a
reading; this about 19 in 256-row chunks, 11-13 with the timestamps formatted here, payloads
serialized beforehand (kernel.database.JsonText) and 1,024-row chunks (docs/gateway.md).
Column defaults are not applied: each row gives every column it sets.

On PostgreSQL the same batches go through SQLAlchemy (insertmanyvalues, RETURNING the keys).
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Callable
from typing import Any

import sqlalchemy
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Table

from kernel.database import insert_ignoring_duplicates_in
from kernel.models.base import UTCDateTime

Rows = list[dict[str, Any]]
# What SQLite before 3.32 takes a statement; the connection's own limit is used where it is higher
# (32,766 since 3.32), so that a chunk of 1,024 readings is one statement, not nine.
MAX_PARAMETERS = 999
# UPDATE … FROM (VALUES …) is SQLite 3.33's; before it, one UPDATE a row.
_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)


def insert_many_ignoring_duplicates(session: Session, table: Table, rows: Rows) -> int:
    """Insert rows alike (the same keys), skipping those whose unique key is already there;
    returns how many were new."""
    if not rows:
        return 0
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        key = next(iter(table.primary_key.columns))
        return len(insert_ignoring_duplicates_in(session, table, rows, returning=key))
    columns = tuple(rows[0])
    new = 0
    for part in _parts(connection, rows, len(columns)):
        sql = _insert_sql(connection.dialect, table, columns, len(part))
        cursor = connection.exec_driver_sql(sql, _flat(connection, table, columns, part))
        new += cursor.rowcount
    return new


def update_many_by_key(session: Session, table: Table, rows: Rows) -> None:
    """UPDATE rows by primary key; each dict holds the key and the columns it changes (rows may
    change different columns)."""
    key = next(iter(table.primary_key.columns)).key
    by_columns: dict[tuple[str, ...], Rows] = {}
    for row in rows:
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    connection = session.connection()
    for names, group in by_columns.items():
        columns = (key, *(name for name in names if name != key))
        if connection.dialect.name == "sqlite" and _UPDATE_FROM:
            for part in _parts(connection, group, len(columns)):
                sql = _update_sql(connection.dialect, table, columns, len(part))
                connection.exec_driver_sql(sql, _flat(connection, table, columns, part))
        else:
            by_key = table.c[key] == sqlalchemy.bindparam("_key", type_=table.c[key].type)
            connection.execute(
                sqlalchemy.update(table).where(by_key),
                [{**{name: row[name] for name in columns[1:]}, "_key": row[key]} for row in group],
            )


def _parts(connection: Connection, rows: Rows, width: int) -> list[Rows]:
    driver = connection.connection.driver_connection
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if driver is not None else 0
    per_statement = max(1, max(MAX_PARAMETERS, limit) // width)
    return [rows[start : start + per_statement] for start in range(0, len(rows), per_statement)]


def _flat(
    connection: Connection, table: Table, columns: tuple[str, ...], rows: Rows
) -> tuple[Any, ...]:
    processors = _processors(connection.dialect, table, columns)
    return tuple(
        row[name] if process is None else process(row[name])
        for row in rows
        for name, process in zip(columns, processors, strict=True)
    )


@functools.cache
def _processors(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[Callable[[Any], Any] | None, ...]:
    """Each column's bind processor on this dialect: what SQLAlchemy itself applies, or a
    cheaper one that gives the same values."""
    return tuple(_processor(dialect, table.c[name].type) for name in columns)


def _processor(dialect: Dialect, column_type: Any) -> Callable[[Any], Any] | None:
    own = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column_type, UTCDateTime) and own is not None and _agree(own, _utc_text):
        # SQLAlchemy's (UTCDateTime's conversion, then SQLite's `%`-formatting from a dict of
        # the fields) cost the writer's thread ~1.9 µs a timestamp; the same text, checked here.
        return _utc_text
    return own


def _utc_text(value: dt.datetime | None) -> str | None:
    """An aware timestamp as SQLAlchemy's SQLite DATETIME keeps it: UTC, microseconds, no offset."""
    if value is None:
        return None
    if value.tzinfo is not dt.UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
    return value.isoformat(" ", "microseconds")[:26]


# Stored text the fast path must reproduce exactly, or SQLAlchemy's own processor is kept.
_PROBES = (
    dt.datetime(2026, 11, 24, 3, 15, 42, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    dt.datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    None,
)


def _agree(own: Callable[[Any], Any], fast: Callable[[Any], Any]) -> bool:
    return all(own(probe) == fast(probe) for probe in _PROBES)


@functools.lru_cache(maxsize=1024)
def _insert_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], count: int) -> str:
    quote = dialect.identifier_preparer.quote
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in columns)}) "
        f"VALUES {', '.join([row] * count)} ON CONFLICT DO NOTHING"
    )


@functools.lru_cache(maxsize=1024)
def _update_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], count: int) -> str:
    """UPDATE … FROM (VALUES …): the key is the first value of each row (SQLite's `column1`)."""
    quote = dialect.identifier_preparer.quote
    name = quote(table.name)
    row = "(" + ", ".join("?" * len(columns)) + ")"
    assignments = ", ".join(
        f"{quote(column)} = batch.column{n}" for n, column in enumerate(columns[1:], start=2)
    )
    return (
        f"UPDATE {name} SET {assignments} FROM (VALUES {', '.join([row] * count)}) AS batch "
        f"WHERE {name}.{quote(columns[0])} = batch.column1"
    )
