"""`eldercare elders …` and `eldercare backup`: an elder's data on request, anonymising those
whose retention period is over, and a copy of the database."""

from __future__ import annotations

import asyncio
import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from callcenter.privacy import service
from callcenter.privacy.summary import summary_text
from callcenter.privacy.tasks import anonymise_due
from kernel import migrate
from kernel.audit import record
from kernel.backup import BackupError, backup_sqlite
from kernel.database import create_engine, is_sqlite, session_factory, unit_of_work
from kernel.models import Elder, utcnow
from kernel.settings import PRIVATE_FILE_MODE, Settings, get_settings

elders_app = typer.Typer(
    help="Elders' personal data: exported on request, anonymised after the retention period.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


def _actor() -> str:
    """How the audit log names the person at the shell."""
    return f"cli:{getpass.getuser()}"


async def _export(settings: Settings, elder_id: int, text: bool) -> str | None:
    engine = create_engine(settings.effective_database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            elder = await session.get(Elder, elder_id)
            if elder is None:
                return None
            document = await service.export(session, elder, actor=_actor(), now=utcnow())
            await record(
                session, actor=_actor(), action="elder.exported", subject_type="elder",
                subject_id=elder_id,
                detail={
                    "format": "text" if text else "json", "incidents": len(document.incidents),
                    "device_events": len(document.device_events), "sms": len(document.sms),
                },
            )  # fmt: skip
        if text:
            return summary_text(document, settings.tz)
        return document.model_dump_json(indent=1)
    finally:
        await engine.dispose()


def _write_private(path: Path, content: str) -> None:
    """Write a new owner-only file (it holds an elder's personal data)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(content)


@elders_app.command("export")
def export(
    elder_id: Annotated[int, typer.Argument(min=1, help="The elder's id.")],
    text: Annotated[
        bool, typer.Option("--text", help="A printable page (Chinese and English), not JSON.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option(help="Write to this new file (owner-only), not to the screen.")
    ] = None,
) -> None:
    """Everything held about one elder (PIPL: access and portability); audited."""
    settings = get_settings()
    if output is not None and output.exists():
        errors.print(f"[red]{output} exists already: name a new file.[/red]")
        raise typer.Exit(2)
    migrate.upgrade(settings.effective_database_url)
    content = asyncio.run(_export(settings, elder_id, text))
    if content is None:
        errors.print(f"[red]No elder {elder_id}.[/red]")
        raise typer.Exit(1)
    if output is None:
        typer.echo(content, nl=False)
        return
    _write_private(output, content)
    console.print(f"Elder {elder_id} exported to {output} (owner-only).")


async def _anonymise(settings: Settings) -> list[int]:
    engine = create_engine(settings.effective_database_url)
    try:
        return await anonymise_due(session_factory(engine), settings, utcnow())
    finally:
        await engine.dispose()


@elders_app.command("anonymise-due")
def anonymise_due_now() -> None:
    """Anonymise now the elders whose retention period is over (the call centre does it hourly)."""
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    done = asyncio.run(_anonymise(settings))
    console.print(f"{len(done)} elders anonymised" + (f": {done}" if done else "."))


def backup(
    file: Annotated[Path, typer.Argument(help="The new file to write the copy to.")],
) -> None:
    """Copy the SQLite database while the system runs (SQLite's online backup), owner-only;
    for PostgreSQL use pg_dump (docs/operations.md)."""
    url = get_settings().effective_database_url
    if not is_sqlite(url):
        errors.print(
            "[red]The database is PostgreSQL:[/red] back it up with "
            "pg_dump --format=custom (docs/operations.md, Backup and restore)."
        )
        raise typer.Exit(2)
    database = make_url(url).database
    if not database:
        errors.print("[red]An in-memory database cannot be backed up.[/red]")
        raise typer.Exit(2)
    try:
        size = backup_sqlite(Path(database), file)
    except BackupError as error:
        errors.print(f"[red]No backup:[/red] {error}")
        raise typer.Exit(1) from None
    console.print(f"Backed up {database} to {file} ({size:,} bytes, owner-only, checked).")
