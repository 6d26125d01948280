"""`eldercare simulate …`: scenarios, the fleet and an interactive terminal, wired to the register.

The simulators know nothing of the database: this composition root reads each bound device's
login and its elder's conditions into plain `DeviceProfile` records and hands them over.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eldercare import running
from kernel import migrate
from kernel.database import create_engine, session_factory
from kernel.models import Device, Elder
from kernel.models.enums import LivingSituation
from kernel.settings import Settings, get_settings
from simulators import fleet as fleet_runner
from simulators.demo import DEMO_DEVICES, demo_cast, run_demo
from simulators.devices import Broker, Connector
from simulators.messages import DeviceProfile
from simulators.scenarios import SCENARIOS, NoCastError, Stage, check_cast, pick_cast, play
from simulators.terminal import run_terminal

simulate_app = typer.Typer(
    help="Devices in software: scenarios, the whole fleet, a terminal to press.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


async def read_profiles(
    sessions: async_sessionmaker[AsyncSession], device_ids: list[str] | None = None
) -> list[DeviceProfile]:
    """Every bound device (or the ones named) with its login and its elder's circumstances."""
    query = (
        select(Device.id, Device.kind, Device.secret, Elder.conditions, Elder.community_code,
               Elder.living_situation)
        .join(Elder, Elder.id == Device.elder_id)
        .order_by(Device.id)
    )  # fmt: skip
    if device_ids:
        query = query.where(Device.id.in_(device_ids))
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [
        DeviceProfile(
            device_id=device_id,
            kind=kind,
            secret=secret,
            conditions=tuple(conditions or ()),
            community_code=community,
            living_alone=living is LivingSituation.ALONE,
        )
        for device_id, kind, secret, conditions, community, living in rows
    ]


async def _load(settings: Settings, device_ids: list[str] | None = None) -> list[DeviceProfile]:
    engine = create_engine(settings.effective_database_url)
    try:
        return await read_profiles(session_factory(engine), device_ids)
    finally:
        await engine.dispose()


def default_broker(settings: Settings) -> Broker:
    """The broker the system reads: the running `eldercare up`'s (it may have taken another port
    than 1883), else ELDERCARE_MQTT_URL's, else the embedded one's configured port."""
    up = running.read(settings)
    if up is not None:
        return Broker(up.mqtt_host, up.mqtt_port)
    login = settings.mqtt_login
    if login is not None:
        return Broker(login[0], login[1])
    return Broker("127.0.0.1", settings.mqtt_port)


def default_http(settings: Settings) -> str:
    """The system's HTTP address: the running `eldercare up`'s, else the configured one."""
    up = running.read(settings)
    return up.http if up is not None else f"http://{settings.http_host}:{settings.http_port}"


def _brokers(settings: Settings, given: list[str] | None) -> list[Broker]:
    return [Broker.parse(text) for text in given] if given else [default_broker(settings)]


async def run_street_demo(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    ready: asyncio.Event,
    stop: asyncio.Event,
    say: Callable[[str], None],
) -> None:
    """The demo of `eldercare up`: once the app serves, a few hundred of the register's devices."""
    broker = default_broker(settings)
    started = asyncio.ensure_future(ready.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({started, stopped}, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    stopped.cancel()
    profiles = demo_cast(await read_profiles(sessions), DEMO_DEVICES, random.Random(DEMO_DEVICES))
    if profiles and not stop.is_set():
        await run_demo(profiles, broker, stop=stop, say=say)


@simulate_app.command("scenario")
def scenario(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SCENARIOS)}.")],
    device: Annotated[
        list[str] | None, typer.Option(help="Play it on this device (repeat for several).")
    ] = None,
    broker: Annotated[
        str | None, typer.Option(help="MQTT broker host:port (default: the system's).")
    ] = None,
    http: Annotated[
        str | None, typer.Option(help="The system's HTTP address, for WebSocket devices.")
    ] = None,
    websocket: Annotated[
        bool, typer.Option("--websocket", help="Connect over WebSocket instead of MQTT.")
    ] = False,
    pace: Annotated[float, typer.Option(help="Seconds between a scenario's steps.")] = 1.0,
    hold: Annotated[
        float, typer.Option(help="Seconds a waiting scenario (no-door-activity) stays online.")
    ] = 120.0,
) -> None:
    """Play a real-life scenario on suitable devices of the register, over the wire."""
    chosen = SCENARIOS.get(name)
    if chosen is None:
        errors.print(
            f"[red]No scenario {escape(name)!r}.[/red] Choose one of: {', '.join(SCENARIOS)}"
        )
        raise typer.Exit(2)
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    profiles = asyncio.run(_load(settings, device or None))
    try:
        if device:
            missing = set(device) - {p.device_id for p in profiles}
            if missing:
                raise ValueError(f"not registered or not bound: {', '.join(sorted(missing))}")
            check_cast(chosen, profiles)
            cast = profiles
        else:
            cast = pick_cast(chosen, profiles, random.Random())
    except (ValueError, NoCastError) as error:
        errors.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(2) from None
    base = http or default_http(settings)
    ws_url = base.replace("http", "ws", 1) + "/ws/device"
    (mqtt,) = _brokers(settings, [broker] if broker else None)
    stage = Stage(
        Connector(mqtt, ws_url, use_websocket=websocket),
        cast,
        ws_url=ws_url,
        pace_s=pace,
        hold_s=hold,
        heartbeat_s=min(60.0, hold / 4),
        say=lambda line: console.print(escape(line)),
    )
    console.print(f"[bold]{chosen.name}[/bold]: {chosen.summary}")
    console.print(f"Devices: {', '.join(p.device_id for p in cast)} via {mqtt}")
    try:
        asyncio.run(play(chosen, stage))
    except (OSError, socket.gaierror) as error:
        errors.print(f"[red]Cannot reach the system:[/red] {escape(str(error))}")
        raise typer.Exit(1) from None
    console.print(f"Done. The alarm engine should show: [bold]{chosen.expects}[/bold]")


@simulate_app.command("fleet")
def fleet(
    count: Annotated[
        int | None, typer.Option(min=1, help="Only this many devices (default: every one).")
    ] = None,
    rate: Annotated[
        float, typer.Option(min=0.01, help="Traffic multiplier: 10 = ten times the real rates.")
    ] = 1.0,
    broker: Annotated[
        list[str] | None,
        typer.Option(help="Broker host:port; repeat to spread devices over several."),
    ] = None,
    per_worker: Annotated[
        int, typer.Option(min=1, help="Devices per worker process (20,000 open files each).")
    ] = fleet_runner.DEVICES_PER_WORKER,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
) -> None:
    """A simulated device for every registered device, each its own MQTT client, at realistic rates."""
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    profiles = asyncio.run(_load(settings))
    if count is not None:
        profiles = profiles[:count]
    if not profiles:
        errors.print("[red]No bound devices in the register.[/red] Seed it: `eldercare seed`.")
        raise typer.Exit(2)
    plan = fleet_runner.FleetPlan(
        brokers=tuple(_brokers(settings, broker)), rate=rate, per_worker=per_worker
    )
    summary = fleet_runner.run_with_progress(profiles, plan, console, duration_s=duration)
    console.print(summary.describe())


@simulate_app.command("terminal")
def terminal(
    device_id: Annotated[str, typer.Argument(help="IMEI of a registered SOS terminal.")],
    broker: Annotated[
        str | None, typer.Option(help="MQTT broker host:port (default: the system's).")
    ] = None,
) -> None:
    """An SOS terminal in this shell: s = SOS, g = green service key, c = cancel, f = fall, q = quit."""
    settings = get_settings()
    migrate.upgrade(settings.effective_database_url)
    found = asyncio.run(_load(settings, [device_id.strip()]))
    if not found:
        errors.print(f"[red]{escape(device_id)} is not a registered, bound device.[/red]")
        raise typer.Exit(2)
    (mqtt,) = _brokers(settings, [broker] if broker else None)
    asyncio.run(run_terminal(Connector(mqtt), found[0], console))
