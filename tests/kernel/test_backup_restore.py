"""Backup and restore, as docs/operations.md tells them: `eldercare backup` copies a live SQLite
database while alarms are being written (SQLite's online backup, WAL included), owner-only;
restored into a fresh place it checks out, is at the newest migration, holds a consistent
state, and the system starts on it. PostgreSQL: pg_dump --format=custom and pg_restore into a
new database give the same rows."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import asyncpg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel import migrate
from kernel.backup import BackupError, backup_sqlite
from kernel.database import create_engine, session_factory
from kernel.settings import Settings
from tests.conftest import _admin, _admin_dsn, server_unavailable
from tests.factories import AS_OF, create_register_csv, create_row

TABLES = (
    "elders",
    "emergency_contacts",
    "devices",
    "staff",
    "shifts",
    "audit_log",
    "device_events",
)


def _street(url: str, settings: Settings, tmp_path: Path) -> str:
    """Migrate, import three elders, plan staff and roster; returns a terminal's id."""
    migrate.upgrade(url)
    rows = [create_row(**{columns.NAME: name}) for name in ("王秀英", "李建国", "张桂兰")]

    async def run() -> None:
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            await import_register_file(
                sessions, create_register_csv(tmp_path / "r.csv", rows), as_of=AS_OF, actor="test"
            )
            await ensure_staff_and_roster(sessions, settings)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return rows[0][columns.SOS_TERMINAL]


class AlarmWriter(threading.Thread):
    """Records SOS events into the live database, one transaction each, until stopped."""

    def __init__(self, database: Path, terminal: str) -> None:
        super().__init__(daemon=True)
        self.database, self.terminal = database, terminal
        self.stop = threading.Event()
        self.written = 0

    def run(self) -> None:
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            # Its alarms stay in the -wal file until the copy is made, as the newest writes of
            # a running system do: a copy of the main file alone would not have them.
            db.execute("PRAGMA wal_autocheckpoint=0")
            while not self.stop.is_set():
                now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
                with db:
                    db.execute(
                        "INSERT INTO device_events (device_id, message_id, type, device_ts, "
                        "received_at, transport, payload) VALUES (?, ?, 'sos', ?, ?, 'mqtt', ?)",
                        (self.terminal, f"b{self.written}", now, now, '{"type": "sos"}'),
                    )
                self.written += 1


def _counts(database: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def test_a_live_sqlite_database_backed_up_while_alarms_are_written_restores_whole(
    settings: Settings, tmp_path: Path
) -> None:
    live = settings.data_dir / "eldercare.db"
    terminal = _street(settings.effective_database_url, settings, tmp_path)
    writer = AlarmWriter(live, terminal)
    writer.start()
    while writer.written < 200:  # the alarms are flowing (and the WAL holds them)
        writer.stop.wait(0.01)
    backup = tmp_path / "backups" / "eldercare-backup.db"
    backup.parent.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELDERCARE_", "TWILIO_"))}
    env["ELDERCARE_DATA_DIR"] = str(settings.data_dir)

    done = subprocess.run(
        [sys.executable, "-m", "eldercare", "backup", str(backup)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    written_during = writer.written
    while writer.written < written_during + 200:  # and go on after it
        writer.stop.wait(0.01)
    writer.stop.set()
    writer.join()
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert not Path(f"{backup}-wal").exists()  # one file to keep
    source = _counts(live)

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir(mode=0o700)
    restored = restored_dir / "eldercare.db"
    backup_sqlite(backup, restored)  # restoring: the same copy, into a place nobody has open

    with contextlib.closing(sqlite3.connect(restored)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        last = db.execute("SELECT max(id) FROM device_events").fetchone()[0]
    with contextlib.closing(sqlite3.connect(live)) as db:
        before_copy = db.execute("SELECT count(*) FROM device_events WHERE id <= ?", (last,))
        prefix = before_copy.fetchone()[0]
    copied = _counts(restored)
    # A consistent moment of the live database: everything up to its last event, nothing torn.
    assert copied["device_events"] == prefix
    assert 200 <= copied["device_events"] < source["device_events"]
    assert {t: copied[t] for t in TABLES if t != "device_events" and t != "audit_log"} == {
        t: source[t] for t in TABLES if t != "device_events" and t != "audit_log"
    }
    restored_url = f"sqlite+aiosqlite:///{restored}"
    assert asyncio.run(migrate.current_revision(restored_url)) == migrate.head_revision()

    on_restored = settings.model_copy(update={"data_dir": restored_dir})
    with TestClient(create_app(on_restored, mqtt=False)) as client:
        health = client.get("/healthz").json()
    assert (health["database"], health["elders"]) == ("ok", 3)


def test_a_backup_never_overwrites_and_never_copies_nothing(tmp_path: Path) -> None:
    existing = tmp_path / "kept.db"
    existing.write_bytes(b"an older backup")
    with sqlite3.connect(tmp_path / "live.db") as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(BackupError, match="exists already"):
        backup_sqlite(tmp_path / "live.db", existing)
    assert existing.read_bytes() == b"an older backup"
    with pytest.raises(BackupError, match="not a database file"):
        backup_sqlite(tmp_path / "missing.db", tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()


def _server_major() -> int:
    async def ask() -> int:
        connection = await asyncpg.connect(_admin_dsn(), timeout=5)
        try:
            return int(await connection.fetchval("SHOW server_version_num")) // 10_000
        finally:
            await connection.close()

    return asyncio.run(ask())


def _client_tools(major: int) -> tuple[str, str] | None:
    """pg_dump and pg_restore of the server's major version (Debian keeps each version's in
    /usr/lib/postgresql/<major>/bin), else those on PATH if they are that version."""
    folder = Path(f"/usr/lib/postgresql/{major}/bin")
    if (folder / "pg_dump").exists() and (folder / "pg_restore").exists():
        return str(folder / "pg_dump"), str(folder / "pg_restore")
    dump, restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if dump and restore:
        version = subprocess.run([dump, "--version"], capture_output=True, text=True).stdout
        found = re.search(r"(\d+)\.", version)
        if found and int(found.group(1)) == major:
            return dump, restore
    return None


@pytest.mark.postgres
def test_pg_dump_and_pg_restore_give_the_same_database(
    postgres_url: str, settings: Settings, tmp_path: Path
) -> None:
    major = _server_major()
    tools = _client_tools(major)
    if tools is None:
        pytest.skip(f"no pg_dump/pg_restore of PostgreSQL {major} on this machine")
    pg_dump, pg_restore = tools
    _street(postgres_url, settings.model_copy(update={"database_url": postgres_url}), tmp_path)
    source = make_url(postgres_url).set(drivername="postgresql")
    dump = tmp_path / "eldercare.dump"

    subprocess.run(
        [pg_dump, "--format=custom", f"--file={dump}", "--no-owner",
         source.render_as_string(hide_password=False)],
        check=True, timeout=120, umask=0o077,
    )  # fmt: skip
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    target_name = f"{source.database}_restored"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{target_name}"'))
    except (OSError, asyncpg.PostgresError) as error:
        server_unavailable("PostgreSQL", str(error))
    try:
        target = source.set(database=target_name)
        subprocess.run(
            [pg_restore, "--no-owner", "--exit-on-error",
             f"--dbname={target.render_as_string(hide_password=False)}", str(dump)],
            check=True, timeout=120,
        )  # fmt: skip
        restored_url = target.set(drivername="postgresql+asyncpg").render_as_string(
            hide_password=False
        )
        assert asyncio.run(_pg_counts(postgres_url)) == asyncio.run(_pg_counts(restored_url))
        assert asyncio.run(migrate.current_revision(restored_url)) == migrate.head_revision()
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)'))


async def _pg_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                t: (await connection.exec_driver_sql(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in TABLES
            }
    finally:
        await engine.dispose()
