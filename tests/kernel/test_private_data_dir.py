"""The data folder and what is in it are owner-only: a new SQLite file (and its -wal and -shm),
and an existing folder tightened at start-up, each change logged."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from kernel.database import create_engine
from kernel.settings import make_data_dir_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give a user (022): new files 0644 unless the code says otherwise."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.usefixtures("usual_umask")
def test_a_new_sqlite_database_and_its_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "data" / "eldercare.db"

    async def write() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE elders (national_id TEXT)"))
            await connection.execute(text("INSERT INTO elders VALUES ('440307195001010011')"))
            files = {path.name: mode(path) for path in database.parent.iterdir()}
        await engine.dispose()
        assert files == {
            "eldercare.db": 0o600, "eldercare.db-wal": 0o600, "eldercare.db-shm": 0o600
        }  # fmt: skip

    asyncio.run(write())
    assert mode(database.parent) == 0o700


@pytest.mark.usefixtures("usual_umask")
def test_an_existing_data_folder_is_tightened_and_each_change_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    (data / "reports").mkdir(parents=True, mode=0o755)
    data.chmod(0o755)
    for name, file_mode in [("eldercare.db", 0o644), ("eldercare.db-wal", 0o664),
                            ("reports/rejected.json", 0o644), ("demo-accounts.txt", 0o600)]:  # fmt: skip
        (data / name).write_text("personal data")
        (data / name).chmod(file_mode)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not ours")
    elsewhere.chmod(0o644)
    (data / "link").symlink_to(elsewhere)

    with caplog.at_level(logging.WARNING, logger="kernel.settings"):
        tightened = make_data_dir_private(data)

    assert {path.relative_to(tmp_path).as_posix(): old for path, old in tightened} == {
        "data": 0o755, "data/eldercare.db": 0o644, "data/eldercare.db-wal": 0o664,
        "data/reports": 0o755, "data/reports/rejected.json": 0o644,
    }  # fmt: skip
    assert mode(data) == mode(data / "reports") == 0o700
    assert {
        mode(data / n) for n in ("eldercare.db", "eldercare.db-wal", "reports/rejected.json")
    } == {0o600}
    assert mode(elsewhere) == 0o644  # a link's target is left alone
    assert len([r for r in caplog.records if "readable by others" in r.getMessage()]) == 5
    assert make_data_dir_private(data) == []
