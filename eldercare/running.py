"""Where a running `eldercare up` listens, kept in the data folder for the other commands.

The embedded broker takes the next free port when 1883 is taken, and `--port` moves the HTTP
service; `eldercare simulate …` run beside it reads this file, so a terminal pressed in another
shell reaches the system that is actually running, not whatever else listens on 1883.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from kernel.settings import Settings

FILE = "running.json"


@dataclass(frozen=True)
class Running:
    """A live `eldercare up`: its process, HTTP base address and MQTT broker."""

    pid: int
    http: str
    mqtt_host: str
    mqtt_port: int


def _path(settings: Settings) -> Path:
    return settings.data_dir / FILE


@contextlib.contextmanager
def announced(settings: Settings, running: Running) -> Iterator[None]:
    """Keep the file while the body runs (this process serving); remove it after."""
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(running)), encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            if read(settings) in (running, None):
                path.unlink()


def read(settings: Settings) -> Running | None:
    """The running system of this data folder, if its process is still alive."""
    try:
        found = Running(**json.loads(_path(settings).read_text(encoding="utf-8")))
        os.kill(found.pid, 0)
    except (OSError, ValueError, TypeError):
        return None
    return found
