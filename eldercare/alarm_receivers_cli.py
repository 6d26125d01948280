"""`eldercare alarm-receivers …`: SIA DC-09 accounts of alarm panels, their self-tests, and the
receiver run on its own (docs/dc09.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from eldercare.app import create_app
from gateway.dc09 import accounts, repository
from gateway.dc09.schemas import SelfTestRow
from kernel import migrate
from kernel.database import create_engine, session_factory, unit_of_work
from kernel.errors import DomainError
from kernel.models import AlarmReceiverAccount, utcnow
from kernel.settings import Role, Settings, get_settings, make_data_dir_private

alarm_receivers_app = typer.Typer(
    help="SIA DC-09 alarm panels: their accounts and keys, self-tests, the receiver alone.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)
ACTOR = "alarm-receivers-cli"
T = TypeVar("T")


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one unit of work on the configured database (migrated first)."""
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)

    async def run() -> T:
        engine = create_engine(settings.effective_database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except DomainError as error:
        errors.print(f"[red]{escape(error.message)}[/red]")
        raise typer.Exit(2) from None


def _show(row: AlarmReceiverAccount, title: str) -> None:
    table = Table(title=title, show_header=False)
    table.add_row("account", f"#{row.account}")
    table.add_row("device", row.device_id)
    table.add_row("key (AES, hex)", row.key or "[yellow]none: plain frames only[/yellow]")
    table.add_row("general alarm (140) is a fall", "yes" if row.falls_as_general_alarm else "no")
    table.add_row("link test every", _seconds(row.supervision_s))
    table.add_row("periodic test every", _seconds(row.test_every_s))
    console.print(table)


def _seconds(value: int | None) -> str:
    return "-" if value is None else f"{value} s"


@alarm_receivers_app.command("add")
def add(
    account: Annotated[str, typer.Argument(help="The panel's account number, 3-16 hex digits.")],
    device_id: Annotated[str, typer.Argument(help="IMEI of the SOS terminal it reports as.")],
    key: Annotated[
        str | None,
        typer.Option(help="The panel's AES key, 32/48/64 hex digits (default: a new one)."),
    ] = None,
    plain: Annotated[
        bool, typer.Option("--plain", help="No encryption: frames without a key only.")
    ] = False,
    falls_as_general_alarm: Annotated[
        bool,
        typer.Option(
            "--falls-as-general-alarm",
            help="The panel reports its fall detector as Contact ID 140 / SIA UA.",
        ),
    ] = False,
    supervision: Annotated[
        int | None,
        typer.Option(help="Its link test (NULL) period in seconds: silent longer, offline."),
    ] = None,
    test_every: Annotated[
        int | None, typer.Option(help="Its periodic test (1602 / RP) period in seconds.")
    ] = None,
) -> None:
    """Bind a panel's account to an SOS terminal of the register; shows the key to program."""

    async def work(session: AsyncSession) -> AlarmReceiverAccount:
        return await accounts.register_account(
            session, account, device_id.strip(), key=key, plain=plain,
            falls_as_general_alarm=falls_as_general_alarm, supervision_s=supervision,
            test_every_s=test_every, actor=ACTOR,
        )  # fmt: skip

    row = _run(work)
    _show(row, f"DC-09 account #{row.account}")
    if supervision is not None and supervision > get_settings().device_offline_after_s:
        console.print(
            "[yellow]Its link test period is longer than the gateway's offline limit "
            "(ELDERCARE_DEVICE_OFFLINE_AFTER_S): the gateway takes it offline first.[/yellow]"
        )


@alarm_receivers_app.command("list")
def list_accounts() -> None:
    """Every DC-09 account: its device, encryption, periods and what its panel reports."""
    rows = _run(repository.list_accounts)
    table = Table(title=f"{len(rows)} DC-09 accounts")
    for column in ("account", "device", "encrypted", "link test", "test every", "last test"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            f"#{row.account}", row.device_id, "yes" if row.key else "[yellow]no[/yellow]",
            _seconds(row.supervision_s), _seconds(row.test_every_s), _when(row.last_test_at),
        )  # fmt: skip
    console.print(table)


@alarm_receivers_app.command("key")
def key(
    account: Annotated[str, typer.Argument(help="The panel's account number.")],
    rotate: Annotated[bool, typer.Option("--rotate", help="Issue a new key first.")] = False,
    new_key: Annotated[
        str | None, typer.Option("--set", help="With --rotate: this key instead of a new one.")
    ] = None,
) -> None:
    """Show an account's key for the installer; --rotate issues a new one (audited)."""

    async def work(session: AsyncSession) -> AlarmReceiverAccount:
        if rotate:
            return await accounts.rotate_key(session, account, key=new_key, actor=ACTOR)
        found = await repository.get_account(session, accounts.account_number(account))
        if found is None:
            raise accounts.AccountRefusedError(f"account {account} is not registered")
        return found

    row = _run(work)
    _show(row, f"DC-09 account #{row.account}")
    if rotate:
        console.print(
            "[bold]New key issued.[/bold] Program it into the panel: the receiver takes it at "
            "the panel's next frame and refuses the old one from then on."
        )


@alarm_receivers_app.command("remove")
def remove(account: Annotated[str, typer.Argument(help="The panel's account number.")]) -> None:
    """Unbind an account: its panel's frames are refused (DUH) from then on."""
    device_id = _run(lambda session: accounts.remove_account(session, account, actor=ACTOR))
    console.print(f"Account #{accounts.account_number(account)} of {device_id} removed.")


@alarm_receivers_app.command("self-tests")
def self_tests(
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only panels whose test is overdue or failed.")
    ] = False,
) -> None:
    """The panels' periodic self-tests (last, next due, failed) and mains and battery troubles."""
    rows: list[SelfTestRow] = _run(
        lambda session: repository.self_tests(session, utcnow(), overdue_only=overdue)
    )
    table = Table(title=f"{len(rows)} panels")
    for column in ("device", "community", "last test", "due", "state", "mains lost", "battery low"):
        table.add_column(column)
    for row in rows:
        state = "[green]ok[/green]"
        if row.test_failed_at is not None:
            state = f"[red]failed: {escape(row.test_failure or '')}[/red]"
        elif row.test_overdue:
            state = "[red]overdue[/red]"
        table.add_row(
            row.device_id, row.community_code or "-", _when(row.last_test_at),
            _when(row.test_due_at), state, _when(row.mains_lost_since),
            _when(row.battery_low_since),
        )  # fmt: skip
    console.print(table)


def _when(at: dt.datetime | None) -> str:
    if at is None:
        return "-"
    return f"{at.astimezone(get_settings().tz):%Y-%m-%d %H:%M}"


@alarm_receivers_app.command("serve")
def serve(
    port: Annotated[
        int | None, typer.Option(help="TCP and UDP port of the receiver [ELDERCARE_DC09_PORT].")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [ELDERCARE_DC09_HOST].")
    ] = None,
    http_port: Annotated[
        int | None, typer.Option(help="Port of /healthz and /metrics [ELDERCARE_HTTP_PORT].")
    ] = None,
) -> None:
    """Run the DC-09 receiver alone, as a gateway process of a scaled-out deployment: it takes
    panels' frames into the shared database; /healthz and /metrics on the HTTP port."""
    settings = get_settings()
    chosen = port or settings.dc09_port
    if chosen is None:
        errors.print("[red]No port:[/red] give --port or set ELDERCARE_DC09_PORT.")
        raise typer.Exit(2)
    settings = settings.model_copy(
        update={
            "role": Role.GATEWAY,
            "dc09_port": chosen,
            "dc09_host": host or settings.dc09_host,
            "http_port": http_port or settings.http_port,
        }
    )
    make_data_dir_private(settings.data_dir)
    migrate.upgrade(settings.effective_database_url)
    console.print(
        f"DC-09 receiver on {settings.dc09_host}:{chosen} (TCP and UDP); health: "
        f"http://{settings.http_host}:{settings.http_port}/healthz. Ctrl-C stops it."
    )
    uvicorn.run(
        create_app(settings, mqtt=False),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
    )


def show_settings_line(settings: Settings) -> str | None:
    """The `eldercare up` banner's line for the receiver, when it runs."""
    if settings.dc09_port is None:
        return None
    return f"  DC-09:    {settings.dc09_host}:{settings.dc09_port} TCP and UDP (alarm receiver)"
