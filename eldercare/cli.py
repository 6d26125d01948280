"""The `eldercare` command: one entry point that wires the system together for a process."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import gc
import json
import os
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
import uvicorn
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.accounts.service import give_demo_passwords
from callcenter.register.reader import NotARegisterError
from callcenter.register.schemas import ImportReport
from callcenter.register.service import ProgressCallback
from callcenter.register.synthetic import write_synthetic_register
from eldercare import jobs, running
from eldercare.alarm_receivers_cli import alarm_receivers_app, show_settings_line
from eldercare.app import create_app
from eldercare.devices_cli import broker_config, devices_app
from eldercare.family_demo import run_family_demo, simulated_family
from eldercare.privacy_cli import backup, elders_app
from eldercare.simulate_cli import run_street_demo, simulate_app
from kernel import migrate
from kernel.database import create_engine, session_factory
from kernel.settings import (
    PRIVATE_UMASK,
    EventLoop,
    Role,
    Settings,
    get_settings,
    make_data_dir_private,
)

app = typer.Typer(
    help="Pinghu smart elderly-care call centre and terminal gateway.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(devices_app, name="devices")
app.command("broker-config")(broker_config)
app.add_typer(elders_app, name="elders")
app.command("backup")(backup)
app.add_typer(simulate_app, name="simulate")
app.add_typer(alarm_receivers_app, name="alarm-receivers")
console = Console()
errors = Console(stderr=True)

FULL_REGISTER = 16_884


def main() -> None:
    """Entry point of the `eldercare` console script."""
    # Whatever this process writes (the SQLite file and its -wal/-shm, the start-up lock, a
    # register file, an import report) may hold personal data: owner-only from the start.
    os.umask(PRIVATE_UMASK)
    app()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _ticker(progress: Progress) -> ProgressCallback:
    """A progress callback that shows one bar per phase of an import."""
    tasks: dict[str, TaskID] = {}

    def tick(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done, total=total)

    return tick


async def _seed(
    settings: Settings, count: int, seed: int, *, past_readings: bool = False
) -> ImportReport:
    engine = create_engine(settings.effective_database_url)
    try:
        with _progress() as progress:
            tick = _ticker(progress)
            writing = progress.add_task("writing register", total=1)
            report = await jobs.seed_demo(
                session_factory(engine),
                settings,
                count=count,
                seed=seed,
                past_readings=past_readings,
                progress=tick,
                on_written=lambda _path: progress.update(writing, completed=1),
            )
        return report
    finally:
        await engine.dispose()


def _print_summary(report: ImportReport) -> None:
    s = report.summary
    table = Table(title=f"Register import: {report.file}", show_header=False)
    table.add_row("rows read", f"{s.rows:,}")
    table.add_row("[green]imported[/green]", f"{s.imported:,}")
    table.add_row("  new", f"{s.created:,}")
    table.add_row("  updated", f"{s.updated:,}")
    table.add_row("  unchanged", f"{s.unchanged:,}")
    table.add_row("[red]rejected[/red] (not imported)", f"{s.rejected:,}")
    table.add_row("[yellow]warned[/yellow] (imported, a detail left out)", f"{s.warned:,}")
    console.print(table)
    if report.by_reason:
        reasons = Table(title="Issues by reason", show_header=True)
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for code, number in report.by_reason.items():
            reasons.add_row(code, str(number))
        console.print(reasons)
    if report.ignored_columns:
        console.print(f"Columns not used: {', '.join(report.ignored_columns)}")
    if report.dry_run:
        console.print("[bold]Dry run: nothing was saved.[/bold]")


def _refuse(message: str, code: int = 1) -> NoReturn:
    """Say on one line of stderr why `up` does not start, and exit with `code`."""
    errors.print(message, soft_wrap=True)
    raise typer.Exit(code)


def _hold(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, so that nothing takes the port while start-up runs.

    Listening, not only bound: another process's bind to a port only bound here (both with
    SO_REUSEADDR) would succeed, and the two would learn of it when the second listens.
    """
    return socket.create_server((host, port), family=_family(host))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _cannot_listen(what: str, host: str, port: int, error: OSError, how: str) -> str:
    """One line saying why a port cannot be listened on, and what to do about it."""
    if error.errno == errno.EADDRINUSE:
        return f"[red]{what} port {port} on {host} is in use.[/red] Stop what uses it, or {how}."
    # A name that does not resolve comes as a negative errno (getaddrinfo's), no strerror.
    code = error.errno or 0
    reason = os.strerror(code) if code > 0 else "no such address"
    return f"[red]Cannot listen on {what} port {port} on {host}: {reason}.[/red] {how[0].upper()}{how[1:]}."


@app.command()
def up(
    host: Annotated[
        str | None, typer.Option(help="Address to serve on [ELDERCARE_HTTP_HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port [ELDERCARE_HTTP_PORT].")] = None,
    mqtt_port: Annotated[
        int | None, typer.Option(help="Port of the embedded MQTT broker [ELDERCARE_MQTT_PORT].")
    ] = None,
    seed_count: Annotated[
        int, typer.Option(help="Elders to seed on first start, when the register is empty.")
    ] = FULL_REGISTER,
    seed: Annotated[bool, typer.Option(help="Seed the demo register on first start.")] = True,
    demo: Annotated[
        bool,
        typer.Option(help="Simulate a few hundred devices and the odd alarm (a living street)."),
    ] = True,
    role: Annotated[
        Role | None,
        typer.Option(
            help="all: the whole system; gateway: only the device ingest; callcenter: only the "
            "alarm engine, API, console and SMS (several of each over one database, broker and "
            "Redis) [ELDERCARE_ROLE]."
        ),
    ] = None,
) -> None:
    """Run the whole system in one process on the embedded defaults (or the servers configured)."""
    # Ctrl-C and SIGTERM stop it from here on, also where it was started with SIGINT ignored (a
    # background job of a script, nohup): Python then leaves it ignored, and Ctrl-C during
    # start-up went unheard while the process went on to serve.
    stops = _Stops.install()
    settings = get_settings()
    # A data folder from before, or copied in, may be readable by others: not from now on.
    make_data_dir_private(settings.data_dir)
    # Set in the environment or .env counts as asked for, like the option: then it must be free.
    mqtt_asked = mqtt_port is not None or "mqtt_port" in settings.model_fields_set
    settings = settings.model_copy(
        update={
            "http_host": host or settings.http_host,
            "http_port": port or settings.http_port,
            "mqtt_port": settings.mqtt_port if mqtt_port is None else mqtt_port,
            "role": role or settings.role,
        }
    )
    if settings.role is not Role.ALL and demo:
        demo = False  # the demo's scenarios need both halves in this process
    runs_broker = settings.role is not Role.CALLCENTER and settings.mqtt_url is None
    if runs_broker and mqtt_asked and settings.mqtt_port == settings.http_port:
        _refuse(
            f"[red]HTTP and the embedded MQTT broker cannot share port {settings.http_port}.[/red] "
            "Choose another for one of them: --port or ELDERCARE_HTTP_PORT, --mqtt-port or "
            "ELDERCARE_MQTT_PORT.",
            code=2,
        )
    # The ports are held from here on, so that nothing takes them while the database is
    # migrated and seeded (a minute on a first start). A request that arrives meanwhile waits
    # in the HTTP socket's backlog and is answered once the app serves.
    try:
        http_socket = _hold(settings.http_host, settings.http_port)
    except OSError as error:
        how = (
            "choose another with --port or ELDERCARE_HTTP_PORT (the address: --host or "
            "ELDERCARE_HTTP_HOST)"
        )
        _refuse(_cannot_listen("HTTP", settings.http_host, settings.http_port, error, how))
    mqtt_socket: socket.socket | None = None
    moved = False  # the embedded broker left 1883 to whatever holds it
    try:
        if runs_broker:
            mqtt_socket = _embedded_mqtt_socket(settings, asked=mqtt_asked)
            port_chosen = mqtt_socket.getsockname()[1]
            moved = not mqtt_asked and port_chosen != settings.mqtt_port
            settings = settings.model_copy(update={"mqtt_port": port_chosen})
        console.print(f"Database: {_safe_url(settings.effective_database_url)}")
        with asyncio.Runner(loop_factory=_loop_factory(settings)) as runner:
            runner.run(
                _up(
                    settings, seed_count if seed else 0, demo, mqtt_moved=moved,
                    http_socket=http_socket, mqtt_socket=mqtt_socket, stops=stops,
                )
            )  # fmt: skip
    except (KeyboardInterrupt, asyncio.CancelledError) as stopped:
        if isinstance(stopped, asyncio.CancelledError) and not stops.asked:
            raise
        # Only reachable before serving (e.g. while seeding): the seed's transaction rolled back.
        console.print("Interrupted before start-up finished; nothing half-imported was kept.")
        raise typer.Exit(130) from None
    finally:
        stops.uninstall()
        http_socket.close()
        if mqtt_socket is not None:
            mqtt_socket.close()
    console.print("Stopped.")


async def _up(
    settings: Settings,
    seed_count: int,
    demo: bool = False,
    *,
    mqtt_moved: bool = False,
    http_socket: socket.socket,
    mqtt_socket: socket.socket | None = None,
    stops: _Stops,
) -> None:
    stops.attach()
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    demo_password = await _start_up(settings, sessions, seed_count, past_readings=demo)
    elders = await jobs.elder_count(sessions)
    base = f"http://{settings.http_host}:{settings.http_port}"
    family_webhook = None
    if demo:
        # The demo's family answers its SMS over the signed webhook (eldercare/family_demo.py).
        settings, family_webhook = simulated_family(settings, base)
    if settings.mqtt_url is None:
        mqtt_where = f"mqtt://127.0.0.1:{settings.mqtt_port} (embedded broker)"
        if mqtt_moved:
            mqtt_where += " - 1883 is taken on this machine"
    else:
        host, mqtt_port, _user, _password = settings.mqtt_login or ("?", 0, "", "")
        mqtt_where = f"mqtt://{host}:{mqtt_port} (shared subscription)"
    what = {
        Role.ALL: "call centre",
        Role.GATEWAY: "gateway",
        Role.CALLCENTER: "call centre (no gateway)",
    }
    lines = [f"[bold green]Pinghu {what[settings.role]} is up[/bold green] with {elders:,} elders."]
    if settings.role is not Role.CALLCENTER:
        lines += [
            f"  MQTT:     {mqtt_where}",
            f"  devices:  ws://{settings.http_host}:{settings.http_port}/ws/device",
        ]
        receiver_line = show_settings_line(settings)
        if receiver_line is not None:
            lines.append(receiver_line)
    lines += [f"  health:   {base}/healthz", f"  metrics:  {base}/metrics"]
    if settings.role is not Role.GATEWAY:
        lines += [f"  API docs: {base}/docs", f"  SMS:      {settings.sms_mode}"]
        if family_webhook is not None:
            lines.append("  family:   simulated phones answer the outbox (signed with a demo key)")
        lines += [f"  console:  {base}/", _demo_accounts_lines(demo_password, settings).rstrip()]
    console.print(
        "\n".join([*lines, "Press Ctrl-C to stop."]),
        soft_wrap=True,  # whole lines, also in a log file or a narrow terminal (addresses intact)
    )
    config = uvicorn.Config(
        create_app(settings, engine),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        lifespan="on",
    )
    server = _Server(config)
    server.mqtt_socket = mqtt_socket
    server.stops = stops
    if demo:
        # The demo: simulated devices over the wire (simulate_cli), stopped before the broker is.
        stop_demo = asyncio.Event()
        street = asyncio.create_task(
            run_street_demo(
                settings, sessions, ready=server.serving, stop=stop_demo, say=console.print
            )
        )

        tasks = [street]
        if family_webhook is not None:
            family = run_family_demo(
                sessions,
                family_webhook,
                ready=server.serving,
                stop=stop_demo,
                say=lambda line: console.print(line, markup=False, soft_wrap=True),
            )
            tasks.append(asyncio.create_task(family))

        async def stop_street() -> None:
            stop_demo.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        server.before_shutdown = stop_street
    mqtt_host, mqtt_port = _mqtt_address(settings)
    # `eldercare simulate` beside it looks for the devices' side: the broker and /ws/device.
    here = running.Running(os.getpid(), base, mqtt_host, mqtt_port)
    try:
        stops.raise_if_asked()  # a stop asked during start-up that its cancel did not end
        with (
            running.announced(settings, here)
            if settings.role is not Role.CALLCENTER
            else contextlib.nullcontext()
        ):
            await server.serve(sockets=[http_socket])
    finally:
        await engine.dispose()


async def _start_up(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    seed_count: int,
    *,
    past_readings: bool = False,
) -> str | None:
    """Migrate, seed a first start, add the demo staff and roster; returns the demo password.

    One process at a time on a database (kernel.migrate.start_up_lock): processes started
    together (a gateway and a call centre, two call centres) would otherwise migrate at once,
    each seed an empty register, and each give the demo staff a password of its own.
    """
    url = settings.effective_database_url

    def waiting() -> None:
        console.print("Another process is starting on this database; waiting for it.")

    async with migrate.start_up_lock(url, waiting=waiting):
        await migrate.upgrade_holding_lock(url)
        if seed_count and await jobs.elder_count(sessions) == 0:
            console.print(f"First start: seeding a demo street of {seed_count:,} elders.")
            report = await _seed(
                settings, seed_count, jobs.DEMO_REGISTER_SEED, past_readings=past_readings
            )
            console.print(f"Seeded {report.summary.imported:,} elders.")
        await jobs.ensure_staff_and_roster(sessions, settings)
        if settings.role is Role.GATEWAY:
            return None  # no console here: a process that shows the password gives it
        return await _demo_accounts(sessions, settings)


def _mqtt_address(settings: Settings) -> tuple[str, int]:
    """The broker devices reach: the external one's, else the embedded one's (on this host)."""
    login = settings.mqtt_login
    return (login[0], login[1]) if login is not None else ("127.0.0.1", settings.mqtt_port)


DEMO_ACCOUNTS_FILE = "demo-accounts.txt"


async def _demo_accounts(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> str | None:
    """The demo staff's shared password, or None if this process cannot know it.

    The first process to start on a database makes it, gives it to every account without a
    password and keeps it in its data folder (0600). A later one reads it back from there; one
    with a data folder of its own finds every account given a password already and says where
    to look. Called under the start-up lock, so no two processes give passwords at once.
    """
    path = settings.data_dir / DEMO_ACCOUNTS_FILE
    kept = path.exists()
    password = (
        path.read_text(encoding="utf-8").splitlines()[0].strip()
        if kept
        else f"pinghu-{secrets.token_hex(3)}"
    )
    async with sessions() as session, session.begin():
        if await give_demo_passwords(session, password) and not kept:
            # Written before the commit: an account is never left with a password nobody kept.
            _write_private(path, f"{password}\nThe password of every demo staff account.\n")
            kept = True
    return password if kept else None


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text)
    partial.replace(path)


def _demo_accounts_lines(password: str | None, settings: Settings) -> str:
    """What the banner says about signing in."""
    if password is None:
        return (
            f"  sign in:  with the password in {DEMO_ACCOUNTS_FILE} in the data folder of the "
            "first process started on this database, or as your admin set up\n"
        )
    return (
        f"  sign in:  op1 (operator), sup1 (supervisor), admin, ph03-w1 (禾花 worker; any "
        f"phNN-wN), password {password}\n"
        f"            (kept in {settings.data_dir / DEMO_ACCOUNTS_FILE})\n"
    )


def _loop_factory(settings: Settings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where asked for and installed; else asyncio's own (None: the default)."""
    if settings.event_loop is not EventLoop.UVLOOP:
        return None
    try:
        import uvloop
    except ImportError:
        console.print("uvloop is not installed: running on asyncio's own event loop.")
        return None
    return uvloop.new_event_loop


class _Stops:
    """Ctrl-C and SIGTERM, from start-up to shutdown, through one handler that is never swapped.

    Before the event loop runs, a stop is noted and acted on as the loop's first task starts
    (raised at an arbitrary point, it broke asyncio.run half-way and printed tracebacks); during
    start-up in the loop it cancels the start-up, as asyncio.run's own handler does (a second
    one interrupts); once the server runs, it asks uvicorn to stop. A signal is handled by whichever handler is
    set when the main thread gets to it, which may be later than it arrived: with handlers
    swapped along the way (asyncio.run's, then the server's), a stop could land on one that
    had stopped caring. This one looks at where things stand when it runs, and remembers it.
    """

    def __init__(self) -> None:
        self.asked = 0
        self.server: uvicorn.Server | None = None
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._before: dict[int, object] = {}

    @classmethod
    def install(cls) -> _Stops:
        stops = cls()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            stops._before[stop_signal] = signal.signal(stop_signal, stops._handle)
        return stops

    def attach(self) -> None:
        """Called first thing in the loop's main task: stops cancel it from now on."""
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        self.raise_if_asked()

    def uninstall(self) -> None:
        for stop_signal, before in self._before.items():
            signal.signal(stop_signal, before)  # type: ignore[arg-type]
        self._before.clear()

    def _handle(self, stop_signal: int, frame: object) -> None:
        self.asked += 1
        if self.server is not None:
            self.server.handle_exit(stop_signal, None)
        elif self._task is None or self._loop is None:
            return  # not in the loop yet: `attach` acts on it
        elif self.asked == 1:
            self._task.cancel()
            self._loop.call_soon_threadsafe(lambda: None)  # wake a loop asleep in select
        else:
            raise KeyboardInterrupt

    def raise_if_asked(self) -> None:
        if self.asked:
            raise KeyboardInterrupt


class _Server(uvicorn.Server):
    """Uvicorn, minus re-raising Ctrl-C after its shutdown: here Ctrl-C is the normal way to stop."""

    before_shutdown: Callable[[], Awaitable[None]] | None = None
    # Holds the embedded broker's port until the app's start-up starts the broker on it.
    mqtt_socket: socket.socket | None = None
    stops: _Stops | None = None

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.serving = asyncio.Event()  # set once the app (and its broker) has started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then say so (the demo's devices wait for the broker)."""
        if self.mqtt_socket is not None:
            self.mqtt_socket.close()
        await super().startup(sockets)
        # What start-up built (modules, mappers, the device registry...) lives as long as the
        # process: keep it out of the collector's full passes, which otherwise walk it all and
        # stall every task for that long (171-375 ms a pass measured in bench/alarms; 25-30 ms
        # frozen). An SOS arriving during one waited for it.
        gc.collect()
        gc.freeze()
        self.serving.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Run `before_shutdown` (the demo's devices leave) before the app and its broker stop."""
        if self.before_shutdown is not None:
            await self.before_shutdown()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Stops come through `_Stops`, which from now on hands them to `handle_exit`."""
        if self.stops is None:
            yield
            return
        self.stops.server = self
        if self.stops.asked:
            self.handle_exit(signal.SIGINT, None)
        try:
            yield
        finally:
            self.stops.server = None


def _embedded_mqtt_socket(settings: Settings, *, asked: bool) -> socket.socket:
    """The embedded broker's port, held: the one asked for, else 1883 or the next free one."""
    if asked:
        try:
            return _hold("127.0.0.1", settings.mqtt_port)
        except OSError as error:
            how = (
                "choose another with --mqtt-port, or point ELDERCARE_MQTT_URL at the broker "
                "that holds it (a local Mosquitto?)"
            )
            _refuse(_cannot_listen("MQTT", "127.0.0.1", settings.mqtt_port, error, how))
    # A demo should start even where a Mosquitto already holds 1883; the banner shows the port.
    for port in range(settings.mqtt_port, settings.mqtt_port + 20):
        if port == settings.http_port:
            continue
        with contextlib.suppress(OSError):
            return _hold("127.0.0.1", port)
    _refuse(f"[red]No free MQTT port from {settings.mqtt_port}.[/red] Use --mqtt-port.")


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    url = get_settings().effective_database_url
    migrate.upgrade(url, revision)
    console.print(f"Database {_safe_url(url)} is at {migrate.current_revision_blocking(url)}.")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION ('base' empties the database)."""
    url = get_settings().effective_database_url
    migrate.downgrade(url, revision)
    console.print(f"Database {_safe_url(url)} is at {migrate.current_revision_blocking(url)}.")


@db_app.command("current")
def db_current() -> None:
    """Show the revision the database is at and the newest this code ships."""
    url = get_settings().effective_database_url
    current = migrate.current_revision_blocking(url)
    console.print(f"database: {current or 'empty'}; newest: {migrate.head_revision()}")


@app.command("import-register")
def import_register(
    file: Annotated[Path, typer.Argument(help="Register export, .csv (UTF-8) or .xlsx.")],
    report: Annotated[
        Path | None, typer.Option(help="Write a JSON report: every rejected or warned row.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Date ages are computed on, YYYY-MM-DD (default: today).")
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of a CSV file.")] = "utf-8",
    dry_run: Annotated[bool, typer.Option(help="Check the file, save nothing.")] = False,
) -> None:
    """Import a street register export: new elders created, changed ones updated, bad rows reported."""
    settings = get_settings()
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.datetime.now(settings.tz).date()
    except ValueError:
        errors.print(f"[red]--as-of {as_of!r} is not a date like 2026-11-23.[/red]")
        raise typer.Exit(2) from None
    make_data_dir_private(settings.data_dir)
    migrate.upgrade(settings.effective_database_url)
    try:
        result = asyncio.run(_import(settings, file, day, encoding, dry_run))
    except NotARegisterError as error:
        errors.print(f"[red]Not imported:[/red] {error}")
        errors.print("Nothing was changed.")
        raise typer.Exit(2) from None
    _print_summary(result)
    if report is not None:
        report.write_text(
            json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
        console.print(f"Report: {report} ({len(result.issues)} issues)")


async def _import(
    settings: Settings, file: Path, as_of: dt.date, encoding: str, dry_run: bool
) -> ImportReport:
    engine = create_engine(settings.effective_database_url)
    try:
        with _progress() as progress:
            return await jobs.import_register_file(
                session_factory(engine),
                file,
                as_of=as_of,
                actor="import-register",
                encoding=encoding,
                dry_run=dry_run,
                progress=_ticker(progress),
            )
    finally:
        await engine.dispose()


@app.command()
def seed(
    count: Annotated[int, typer.Option(min=1, help="How many elders.")] = FULL_REGISTER,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed.")
    ] = jobs.DEMO_REGISTER_SEED,
    out: Annotated[
        Path | None,
        typer.Option(help="Only write the register file (.csv or .xlsx) here; import nothing."),
    ] = None,
) -> None:
    """A deterministic synthetic register in the street office's format, imported like a real one."""
    settings = get_settings()
    if out is not None:
        write_synthetic_register(
            out, count, seed=seed_value, as_of=dt.datetime.now(settings.tz).date()
        )
        console.print(f"Wrote {count:,} elders to {out}.")
        return
    make_data_dir_private(settings.data_dir)
    migrate.upgrade(settings.effective_database_url)
    result = asyncio.run(_seed(settings, count, seed_value))
    _print_summary(result)
