"""Revisions: a number on a row that every change raises in commit order, so that of two
snapshots of it the live feed sent, a page can tell the newer.

A transaction may have read a row before another changed it and committed (a background step
beside an operator's click); its own copy is then stale in the columns it did not write, and it
commits last. Just before each commit, one statement per model raises the revision of the rows
the transaction changed and reads them back (`UPDATE ... RETURNING`): the row lock that UPDATE
takes orders the revisions as the transactions commit, and the snapshot published after the
commit is the row as committed, not the transaction's copy.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Column, event, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

# The rows each transaction changed, by model then id (in session.info).
_CHANGED = "eldercare.revised"


def revise(session: Any, row: Any) -> None:
    """Raise this row's `revision` and read it back as committed, just before the session's
    transaction commits (an AsyncSession or a Session; the row must have its id)."""
    session.info.setdefault(_CHANGED, {}).setdefault(type(row), {})[row.id] = row


@functools.cache
def _derived(model: Any) -> tuple[str, ...]:
    """The model's attributes read by a query of their own (a name from another table); the
    same for every commit, worked out once."""
    mapper = inspect(model)
    return tuple(
        prop.key
        for prop in mapper.column_attrs
        if not all(
            isinstance(column, Column) and column.table is mapper.local_table
            for column in prop.columns
        )
    )


async def read_back(session: AsyncSession) -> None:
    """Raise and read back now the rows changed so far, for an answer built before the commit
    (an API's answer to a change then shows the revision the live feed will send). The row
    locks this takes are held to the commit, so the order of revisions stays the commit order."""
    await session.flush()
    if session.info.get(_CHANGED):  # a plain read (GET) changed nothing: no round trip
        await session.run_sync(_read_back)


@event.listens_for(Session, "before_commit")
def _read_back(session: Session) -> None:
    changed: dict[Any, dict[Any, Any]] | None = session.info.pop(_CHANGED, None)
    if not changed:
        return
    session.flush()
    for model, rows in changed.items():
        derived = _derived(model)
        statement = (
            update(model)
            .where(model.id.in_(rows))
            .values(revision=model.revision + 1)
            .returning(model, *(getattr(model, key) for key in derived))
            .execution_options(populate_existing=True, synchronize_session=False)
        )
        for row, *values in session.execute(statement):
            for key, value in zip(derived, values, strict=True):
                set_committed_value(row, key, value)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CHANGED, None)
