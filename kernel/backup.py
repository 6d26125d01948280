"""A consistent copy of a live SQLite database, made owner-only, with SQLite's online backup.

A plain copy of the file while the system runs is not a backup: the newest transactions sit
in the -wal file beside it, and a copy taken while a checkpoint writes pages back can hold
half of one. SQLite's backup API copies the database as one read transaction sees it (the
WAL's committed pages included); in WAL mode that reader blocks no writer, so alarms keep
being recorded while it runs. The copy is checked (`PRAGMA integrity_check`) before it takes
the target's name. PostgreSQL is backed up with pg_dump (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from kernel.settings import PRIVATE_FILE_MODE


class BackupError(Exception):
    """The copy could not be made, or did not check out."""


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy the SQLite database `source` (live or not) to the new file `target`, owner-only
    (0600); returns its size in bytes. Restoring is the same copy, from the backup into the
    place of a database no process has open."""
    if not source.is_file():
        raise BackupError(f"{source} is not a database file")
    if target.exists():
        raise BackupError(f"{target} exists already: name a new file")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as live,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            # All pages in one step: one read transaction, hence one consistent state. (In
            # steps, each write by another connection would start the copy over.)
            live.backup(copy)
            # A copy for keeping: one file, no -wal beside it (it opens in WAL mode again when
            # the system next writes to it).
            copy.execute("PRAGMA journal_mode=DELETE")
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"the copy of {source} does not check out: {verdict}")
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size
