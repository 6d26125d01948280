"""`eldercare devices …` and `eldercare broker-config`: registered devices and their MQTT logins."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devices.ids import DeviceKind
from gateway.credentials import repository
from gateway.credentials.schemas import DeviceCredentials, DeviceRow
from gateway.credentials.service import (
    BridgeLogin,
    BrokerNotReloadedError,
    UnknownDeviceError,
    credentials_of,
    mosquitto_files,
    reload_mosquitto,
    replace_mosquitto_password,
    rotate_device_secret,
    write_mosquitto_config,
)
from kernel import migrate
from kernel.database import create_engine, session_factory, unit_of_work
from kernel.settings import Settings, get_settings

devices_app = typer.Typer(
    help="Registered home devices: their state and MQTT credentials.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)

GATEWAY_PASSWORD_ENV = "ELDERCARE_MQTT_GATEWAY_PASSWORD"
DEFAULT_MOSQUITTO_DIR = Path("data/mosquitto")
BRIDGE_PASSWORD_ENV = "ELDERCARE_MQTT_BRIDGE_PASSWORD"
ROTATION_ACTOR = "devices-credentials"
# Below this a battery is shown in red (unless --low-battery sets another bar).
LOW_BATTERY_PERCENT = 20
# Short, so that the table fits an 80-column terminal without cutting elders' names.
KIND_LABELS = {
    DeviceKind.SOS_TERMINAL: "SOS",
    DeviceKind.HEALTH_MONITOR: "health",
    DeviceKind.DOOR_SENSOR: "door",
}


async def _list(
    settings: Settings,
    *,
    offline_only: bool,
    battery_below: int | None,
    community_code: str | None,
    limit: int,
) -> tuple[list[DeviceRow], int]:
    engine = create_engine(settings.effective_database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            return await repository.list_devices(
                session,
                offline_only=offline_only,
                battery_below=battery_below,
                community_code=community_code,
                limit=limit,
            )
    finally:
        await engine.dispose()


def _last_seen(at: dt.datetime | None, settings: Settings) -> str:
    if at is None:
        return "never"
    if at.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        at = at.replace(tzinfo=dt.UTC)
    local = at.astimezone(settings.tz)
    # The year only when it is not this one: keeps the column narrow enough not to be cut.
    if local.year == dt.datetime.now(settings.tz).year:
        return f"{local:%m-%d %H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def _battery(level: int | None, warn_below: int) -> str:
    if level is None:
        return "-"
    return f"[red]{level}%[/red]" if level < warn_below else f"{level}%"


@devices_app.command("list")
def list_devices(
    offline: Annotated[bool, typer.Option("--offline", help="Only devices now offline.")] = False,
    low_battery: Annotated[
        int | None,
        typer.Option(min=1, max=100, help="Only devices whose battery is below this percentage."),
    ] = None,
    community: Annotated[
        str | None, typer.Option(help="Only devices of elders of this community, e.g. PH03.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
) -> None:
    """List registered devices with their elder, community, state, last contact and battery."""
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    rows, total = asyncio.run(
        _list(
            settings,
            offline_only=offline,
            battery_below=low_battery,
            community_code=community.upper() if community else None,
            limit=limit,
        )
    )
    shown = f"{total:,} devices" if len(rows) == total else f"{len(rows):,} of {total:,} devices"
    table = Table(title=shown)
    # Ids are copied into other tools and names read aloud: neither is ever cut; on a narrow
    # terminal the date and time of the last contact wrap instead.
    table.add_column("id", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("elder", min_width=8)  # four characters, the longest common Chinese name
    table.add_column("community")
    table.add_column("state", no_wrap=True)
    table.add_column("last seen")
    table.add_column("battery", justify="right")
    for row in rows:
        table.add_row(
            row.id,
            KIND_LABELS[row.kind],
            escape(row.elder_name) if row.elder_name else "[dim]unbound[/dim]",
            row.community_code or "-",
            "[green]online[/green]" if row.online else "[yellow]offline[/yellow]",
            _last_seen(row.last_seen_at, settings),
            _battery(row.battery, low_battery or LOW_BATTERY_PERCENT),
        )
    console.print(table)
    console.print(f"Total: {total:,}")


async def _credentials(settings: Settings, device_id: str, rotate: bool) -> DeviceCredentials:
    engine = create_engine(settings.effective_database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            if rotate:
                return await rotate_device_secret(session, device_id, actor=ROTATION_ACTOR)
            return await credentials_of(session, device_id)
    finally:
        await engine.dispose()


@devices_app.command("credentials")
def credentials(
    device_id: Annotated[str, typer.Argument(help="IMEI, BP… or MC… id of the device.")],
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Issue a new secret in place of the old one.")
    ] = False,
    mosquitto: Annotated[
        Path | None,
        typer.Option(
            help="With --rotate: the folder `broker-config` wrote for a Mosquitto on this host "
            "(default data/mosquitto, if there); its password file gets the new secret and the "
            "broker is reloaded, which throws off the device's connection at once."
        ),
    ] = None,
) -> None:
    """Show a device's MQTT login and topics; with --rotate, issue it a new secret first."""
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    try:
        login = asyncio.run(_credentials(settings, device_id.strip(), rotate))
    except UnknownDeviceError as error:
        errors.print(f"[red]{escape(error.message)}[/red] See `eldercare devices list`.")
        raise typer.Exit(2) from None
    table = Table(title=f"MQTT login of {login.device_id}", show_header=False)
    table.add_row("username", login.username)
    table.add_row("password", login.password)
    table.add_row("client id", login.client_id)
    table.add_row("publish to", login.uplink_topic)
    table.add_row("alarms to", login.alarm_topic)
    table.add_row("subscribe to", login.downlink_topic)
    console.print(table)
    if rotate:
        console.print(
            "[bold]New secret issued.[/bold] Write it into the terminal. The gateway refuses "
            "the old one at once and closes the device's WebSocket and embedded-broker "
            "connections within a second."
        )
        _rotate_on_mosquitto(mosquitto, login)


def _rotate_on_mosquitto(folder: Path | None, login: DeviceCredentials) -> None:
    """Put a rotated secret into a local Mosquitto's password file and reload the broker."""
    files = mosquitto_files(folder or DEFAULT_MOSQUITTO_DIR)
    if folder is None and not files.passwords.exists():
        console.print(
            "No Mosquitto files in data/mosquitto: for an external Mosquitto, pass --mosquitto "
            "DIR (its `broker-config` folder); until its broker is reloaded it takes the old one."
        )
        return
    try:
        replace_mosquitto_password(files, login.username, login.password)
    except (OSError, KeyError) as error:
        errors.print(
            f"[red]Mosquitto's password file not updated:[/red] {escape(str(error))}. Run "
            "`eldercare broker-config` again and reload the broker (kill -HUP <its pid>); until "
            "then it still accepts the old secret."
        )
        raise typer.Exit(1) from None
    try:
        pid = reload_mosquitto(files)
    except BrokerNotReloadedError as error:
        errors.print(
            f"[yellow]Password file updated, broker not reloaded:[/yellow] {escape(str(error))}."
            " Reload it (kill -HUP <its pid>); until then it still accepts the old secret."
        )
        raise typer.Exit(1) from None
    console.print(
        f"Mosquitto {pid} reloaded: the old secret is refused, the device's connection closed."
    )


async def _device_logins(settings: Settings) -> list[tuple[str, str]]:
    engine = create_engine(settings.effective_database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            return await repository.device_logins(session)
    finally:
        await engine.dispose()


def broker_config(
    out: Annotated[
        Path, typer.Option(help="Folder to write the Mosquitto files into.")
    ] = DEFAULT_MOSQUITTO_DIR,
    port: Annotated[
        int,
        typer.Option(
            min=1,
            max=65535,
            help="Port the broker listens on: devices' (each client id bound to its login), or a "
            "core's gateways and bridges.",
        ),
    ] = 1883,
    gateway_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Single broker: a listener of the gateways' own (client ids of their choosing, "
            "for several gateways and their takeovers), on --gateway-host. Without it, one "
            "gateway connects on --port.",
        ),
    ] = None,
    gateway_host: Annotated[
        str,
        typer.Option(help="Address of the gateways' listener: one devices cannot reach."),
    ] = "127.0.0.1",
    gateway_username: Annotated[
        str, typer.Option(help="MQTT account the gateway reads uplinks with.")
    ] = "eldercare-gateway",
    bridge_username: Annotated[
        str | None,
        typer.Option(
            help="Core broker: admit edge brokers' bridges with this account "
            f"(password from {BRIDGE_PASSWORD_ENV})."
        ),
    ] = None,
    bridge_to: Annotated[
        str | None,
        typer.Option(
            help="Edge broker: forward to the core at HOST:PORT, as --bridge-username "
            f"with {BRIDGE_PASSWORD_ENV}."
        ),
    ] = None,
) -> None:
    """Write a Mosquitto password file, ACL and config admitting every registered device."""
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    logins = asyncio.run(_device_logins(settings))
    gateway_password = os.environ.get(GATEWAY_PASSWORD_ENV)
    generated = not gateway_password
    if not gateway_password:
        gateway_password = secrets.token_urlsafe(24)
    bridge_password = os.environ.get(BRIDGE_PASSWORD_ENV)
    if bridge_username is not None and not bridge_password:
        errors.print(f"[red]Not written:[/red] --bridge-username needs {BRIDGE_PASSWORD_ENV} set.")
        raise typer.Exit(2)
    bridge = None
    if bridge_to is not None:
        host, _, core_port = bridge_to.rpartition(":")
        if not host or not core_port.isdigit() or bridge_username is None:
            errors.print("[red]Not written:[/red] --bridge-to HOST:PORT needs --bridge-username.")
            raise typer.Exit(2)
        bridge = BridgeLogin(host, int(core_port), bridge_username, bridge_password or "")
    try:
        with console.status(f"Hashing {len(logins):,} device secrets…"):
            files = write_mosquitto_config(
                out, logins, gateway_username, gateway_password, port,
                gateway_port=gateway_port, gateway_host=gateway_host,
                bridge_username=bridge_username if bridge is None else None,
                bridge_password=bridge_password, bridge_to=bridge,
            )  # fmt: skip
    except ValueError as error:
        errors.print(f"[red]Not written:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    console.print(
        f"Wrote logins for {len(logins):,} devices and the gateway account "
        f"{escape(repr(gateway_username))} to {escape(str(files.config.parent))}/ "
        "(passwords: mode 0600)."
    )
    if generated:
        console.print(
            f"Gateway password (shown once, stored only as a hash): [bold]{gateway_password}"
            f"[/bold]\nSet {GATEWAY_PASSWORD_ENV} to keep the same one on the next run."
        )
    # A password taken from the environment is not echoed; a generated one was just shown anyway.
    password_part = quote(gateway_password, safe="") if generated else "<password>"
    gateway_at = f"{gateway_host}:{gateway_port}" if gateway_port else f"127.0.0.1:{port}"
    console.print(
        f"Run the broker:   mosquitto -c {escape(str(files.config))}\n"
        f"Point the system: ELDERCARE_MQTT_URL=mqtt://{quote(gateway_username, safe='')}:"
        f"{password_part}@{gateway_at}\n"
        "After new devices, run this again and reload: kill -HUP $(cat "
        f"{escape(str(files.pid))}).\n"
        "`eldercare devices credentials ID --rotate` updates these files and reloads by itself."
    )
