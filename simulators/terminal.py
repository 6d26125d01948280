"""An SOS terminal in the shell: press keys, see what the terminal sends and what it hears back."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import termios
import tty
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape

from simulators import messages as m
from simulators.devices import Connector, NoAckError, SimulatedDevice
from simulators.messages import DeviceProfile, Message

KEYS = "s = SOS   g = green service key   c = cancel the last SOS/fall   f = fall   q = quit"
HEARTBEAT_S = 60.0


@contextlib.contextmanager
def _keys_without_enter() -> Iterator[None]:
    """cbreak mode on a terminal (a key arrives when pressed); lines otherwise."""
    if not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def describe(message: Message) -> str:
    """A downlink in words a person at the console reads."""
    if message.get("type") == "ack" and message.get("status") == "received":
        return f"[green]ack[/green] {message.get('ref')}: 呼叫已收到 (call received)"
    if message.get("type") == "ack":
        return f"[red]rejected[/red] {message.get('ref')}: {message.get('reason')} {message.get('detail', '')}"
    if message.get("type") == "notice":
        eta = f", ETA {message['eta_min']} min" if "eta_min" in message else ""
        return f"[bold yellow]notice[/bold yellow] incident {message.get('ref')}: {message.get('text')}{eta}"
    return f"heard {message}"


async def _press(device: SimulatedDevice, message: Message, console: Console) -> None:
    console.print(f"[cyan]→ {message['type']}[/cyan] {escape(str(message))}")
    try:
        await device.press(message)
    except NoAckError as error:
        console.print(f"[red]{escape(str(error))}[/red]: the terminal gives up, as real ones do")


async def _heartbeats(device: SimulatedDevice) -> None:
    battery = 90
    while True:
        await device.send(m.heartbeat(battery=battery))
        battery = max(5, battery - 1)
        await asyncio.sleep(HEARTBEAT_S)


async def run_terminal(connector: Connector, profile: DeviceProfile, console: Console) -> None:
    """Connect the terminal and act on keys until q (or end of input)."""
    device = await connector.device(profile, lambda heard: console.print(escape_free(heard)))
    console.print(f"Terminal [bold]{profile.device_id}[/bold] online via {connector.broker}.")
    console.print(KEYS)
    keys: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def read_key() -> None:
        key = sys.stdin.read(1)
        keys.put_nowait(key or "q")

    alive = asyncio.create_task(_heartbeats(device))
    pressing: set[asyncio.Task[None]] = set()
    last_alarm: str | None = None
    with _keys_without_enter():
        loop.add_reader(sys.stdin.fileno(), read_key)
        try:
            while (key := (await keys.get()).lower()) != "q":
                message: Message | None = None
                if key == "s":
                    message = m.sos("main")
                elif key == "f":
                    message = m.fall(0.9)
                elif key == "g":
                    message = m.service("other")
                elif key == "c":
                    if last_alarm is None:
                        console.print("Nothing to cancel yet.")
                        continue
                    message = m.cancel(last_alarm)
                if message is None:
                    continue
                if message["type"] in ("sos", "fall"):
                    last_alarm = message["id"]
                task = asyncio.create_task(_press(device, message, console))
                pressing.add(task)
                task.add_done_callback(pressing.discard)
        finally:
            loop.remove_reader(sys.stdin.fileno())
            alive.cancel()
            for task in (alive, *pressing):
                task.cancel()
            await asyncio.gather(alive, *pressing, return_exceptions=True)
            await device.close()
    console.print("Terminal off.")


def escape_free(message: Message) -> str:
    """The rich-markup line for a downlink (its own text escaped)."""
    return "[magenta]←[/magenta] " + describe(
        {k: escape(v) if isinstance(v, str) else v for k, v in message.items()}
    )
