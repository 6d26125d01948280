"""`eldercare alarm-receivers`: an installer binds a panel's account, reads and rotates its key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from callcenter.register import columns
from eldercare import alarm_receivers_cli
from eldercare.cli import app
from eldercare.jobs import import_register_file
from kernel import migrate
from kernel.database import create_engine, session_factory
from kernel.models import AlarmReceiverAccount, AuditEntry
from kernel.settings import get_settings
from tests.factories import AS_OF, create_register_csv, create_row


@pytest.fixture
def terminal(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An elder's SOS terminal in the process's database."""
    monkeypatch.chdir(tmp_path)  # no developer's .env
    monkeypatch.setenv("ELDERCARE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ELDERCARE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    monkeypatch.setattr(alarm_receivers_cli, "console", Console(width=200))
    row = create_row()
    migrate.upgrade(database_url)

    async def load() -> None:
        engine = create_engine(database_url)
        try:
            path = create_register_csv(tmp_path / "r.csv", [row])
            await import_register_file(session_factory(engine), path, as_of=AS_OF, actor="test")
        finally:
            await engine.dispose()

    asyncio.run(load())
    yield row[columns.SOS_TERMINAL]
    get_settings.cache_clear()


def _stored(url: str) -> tuple[list[AlarmReceiverAccount], list[AuditEntry]]:
    async def read() -> tuple[list[AlarmReceiverAccount], list[AuditEntry]]:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                rows = list(await session.scalars(select(AlarmReceiverAccount)))
                audit = list(
                    await session.scalars(
                        select(AuditEntry)
                        .where(AuditEntry.action.like("dc09_%"))
                        .order_by(AuditEntry.id)
                    )
                )
                return rows, audit
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_an_account_is_bound_with_a_new_key_shown_rotated_and_removed(
    terminal: str, database_url: str
) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["alarm-receivers", "add", "001234", terminal, "--supervision", "90"]
    )
    assert added.exit_code == 0, added.output
    ((row,), _) = _stored(database_url)
    assert (row.account, row.device_id, row.supervision_s) == ("1234", terminal, 90)
    assert row.key is not None and len(row.key) == 32 and row.key in added.output

    again = runner.invoke(app, ["alarm-receivers", "add", "1234", terminal, "--plain"])
    assert again.exit_code == 2
    assert "registered already" in again.output

    rotated = runner.invoke(app, ["alarm-receivers", "key", "1234", "--rotate"])
    assert rotated.exit_code == 0, rotated.output
    ((after,), audit) = _stored(database_url)
    assert after.key is not None and after.key != row.key and after.key in rotated.output
    assert [a.action for a in audit] == ["dc09_account_registered", "dc09_key_rotated"]
    assert all(row.key not in repr(a.detail) and after.key not in repr(a.detail) for a in audit)

    listed = runner.invoke(app, ["alarm-receivers", "list"])
    assert "#1234" in listed.output and terminal in listed.output

    removed = runner.invoke(app, ["alarm-receivers", "remove", "1234"])
    assert removed.exit_code == 0, removed.output
    assert _stored(database_url)[0] == []


def test_a_key_must_be_aes_sized_hex_and_a_plain_account_has_none(terminal: str) -> None:
    runner = CliRunner()
    short = runner.invoke(app, ["alarm-receivers", "add", "1234", terminal, "--key", "ABCD"])
    assert short.exit_code == 2 and "32, 48 or 64 hexadecimal digits" in short.output
    both = runner.invoke(
        app, ["alarm-receivers", "add", "1234", terminal, "--plain", "--key", "00" * 16]
    )
    assert both.exit_code == 2 and "a plain account has no key" in both.output
