"""The system under test as separate processes: `eldercare up --role gateway|callcenter`.

Every process is configured only by ELDERCARE_* variables, as an operator would, and is
pointed at the run's own servers; any of them can be SIGKILLed and started again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.chaos.servers import ChildServer

# `eldercare up` imports FastAPI, SQLAlchemy and the app, migrates and reads the roster first.
UP_TIMEOUT_S = 60.0


def eldercare_command() -> list[str]:
    """`eldercare`, as this interpreter runs it: the installed project, or the checkout that
    PYTHONPATH names in the system's environment (`./dev chaos --product DIR`)."""
    return [sys.executable, "-m", "eldercare"]


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300.0) -> str:
    """Run an `eldercare` command to its end; its output, or an error with it."""
    result = subprocess.run(
        [*eldercare_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"eldercare {' '.join(args)} exited with {result.returncode}:\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return result.stdout


@dataclass
class Exit:
    """A process that ended without the harness asking."""

    name: str
    returncode: int | None
    at: float


class EldercareProcess(ChildServer):
    """One `eldercare up --role ROLE --no-demo --no-seed` on its own HTTP port and data folder."""

    def __init__(self, name: str, role: str, port: int, folder: Path, env: dict[str, str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(port, folder / f"{name}.log")
        self.name, self.role, self.folder = name, role, folder
        self.env = {
            **env,
            "ELDERCARE_HTTP_PORT": str(port),
            "ELDERCARE_DATA_DIR": str(folder / "data"),
        }
        self.exits: list[Exit] = []  # the ones nobody asked for: crashes
        self.expected_down = True

    def command(self) -> list[str]:
        """The process as an operator starts it."""
        return [*eldercare_command(), "up", "--role", self.role, "--no-demo", "--no-seed"]

    def popen_options(self) -> dict[str, object]:
        """Only its own environment; its own working folder (it reads a .env there)."""
        return {"env": self.env, "cwd": self.folder}

    async def start(self) -> None:
        """Start it and wait until /healthz answers 200."""
        self.spawn()
        self.expected_down = False
        await self.wait_ready()

    async def wait_ready(self) -> None:
        """Wait until /healthz says ok (the database answers through it)."""
        deadline = time.monotonic() + UP_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                self.notice_exit()
                if self.process is None:
                    raise RuntimeError(f"{self.name} exited while starting: {self.tail()}")
                try:
                    answer = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    if answer.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(
            f"{self.name} was not healthy within {UP_TIMEOUT_S:.0f} s: {self.tail()}"
        )

    def notice_exit(self) -> None:
        """Note the process's end if it ended by itself (a crash the run must report)."""
        if self.process is not None and self.process.poll() is not None:
            if not self.expected_down:
                self.exits.append(Exit(self.name, self.process.returncode, time.monotonic()))
            self.process = None

    async def stop(self, sig: signal.Signals = signal.SIGTERM, grace_s: float = 30.0) -> None:
        """Stop it on purpose (not counted as a crash)."""
        self.notice_exit()
        self.expected_down = True
        await super().stop(sig, grace_s)


def system_env(
    *,
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    mqtt_url: str,
    product: Path | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment every process of the system shares (plus PATH and the like).

    `product`: a checkout of the project to run instead of the installed one (its packages
    come first on the path), e.g. an older commit, to see the suite catch what a fix mends.
    """
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ELDERCARE_", "TWILIO_")) and k != "PYTHONPATH"
    }
    if product is not None:
        keep["PYTHONPATH"] = str(product.resolve())
    return {
        **keep,
        "ELDERCARE_DATABASE_URL": database_url,
        "ELDERCARE_REDIS_URL": redis_url,
        "ELDERCARE_REDIS_PREFIX": redis_prefix,
        "ELDERCARE_MQTT_URL": mqtt_url,
        "ELDERCARE_LOG_LEVEL": "INFO",
        **(extra or {}),
    }
