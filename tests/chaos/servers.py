"""The servers a chaos run owns: its own PostgreSQL cluster, Redis and Mosquitto, on free ports.

Each is a child process that can be stopped, killed and started again at will, and never the
machine's own servers (5432, 6379, 1883): a run breaks only what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

# How long a server may take to start listening; a busy 2-core machine needs a few seconds.
START_TIMEOUT_S = 30.0


class ServerMissing(RuntimeError):
    """A server binary this run needs is not installed here."""


def _binary(name: str, *extra_dirs: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=":".join(extra_dirs))
    if found is None:
        raise ServerMissing(
            f"no {name} on PATH or in {', '.join(extra_dirs) or 'the usual places'}"
        )
    return found


async def poll_until(done: Callable[[], bool], within_s: float, every_s: float = 0.05) -> bool:
    """Check `done` every `every_s` until it holds or `within_s` passed; whether it held."""
    deadline = time.monotonic() + within_s
    while True:
        if done():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every_s)


async def _listening(port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class ChildServer:
    """One server process: started by `start`, waited on until its port answers."""

    name = "server"

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The command line that runs the server in the foreground."""
        raise NotImplementedError

    def popen_options(self) -> dict[str, object]:
        """Extra options for Popen (another user, a working folder)."""
        return {}

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        """Start the process (not waiting for it to listen)."""
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                self.command(),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the runner's terminal is the runner's
                **self.popen_options(),  # type: ignore[call-overload]
            )

    async def start(self) -> None:
        """Start it and wait until it is ready."""
        self.spawn()
        await self.wait_ready()

    async def wait_ready(self) -> None:
        """Wait until the port answers; fail with the log's tail if the process exits first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}: {self.tail()}"
                )
            if await _listening(self.port):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on {self.port}: {self.tail()}")

    def tail(self, lines: int = 20) -> str:
        """The last lines of its log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_exit(self, within_s: float) -> bool:
        """Wait up to `within_s` for the process to end by itself; whether it did."""
        return await poll_until(lambda: not self.running, within_s)

    async def stop(self, sig: signal.Signals = signal.SIGTERM, grace_s: float = 30.0) -> None:
        """Send `sig` and wait for the process to end (SIGKILL after `grace_s`)."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            if not await poll_until(lambda: process.poll() is not None, grace_s):
                process.kill()
                await poll_until(lambda: process.poll() is not None, 30.0)
        self.process = None

    async def kill(self) -> None:
        """SIGKILL: no goodbye, no flush."""
        await self.stop(signal.SIGKILL)


def _postgres_bin(name: str) -> str:
    return _binary(name, "/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin")))


class PostgresServer(ChildServer):
    """A PostgreSQL cluster of this run's own (initdb), trust auth on loopback only.

    initdb and postgres refuse to run as root: run as root, both run as the `postgres` user in a
    folder that user owns.
    """

    name = "postgresql"

    def __init__(self, port: int, log: Path) -> None:
        super().__init__(port, log)
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="eldercare-chaos-pg-"))
        if self.user is not None:
            shutil.chown(self.root, self.user, self.user)
        self.data = self.root / "data"

    def popen_options(self) -> dict[str, object]:
        """Run as `postgres` when we are root."""
        if self.user is None:
            return {"cwd": self.root}
        return {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "cwd": self.root}

    def initdb(self) -> None:
        """Create the cluster (once)."""
        subprocess.run(
            [_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, **self.popen_options(),  # type: ignore[call-overload]
        )  # fmt: skip

    def command(self) -> list[str]:
        """postgres in the foreground: loopback TCP only, its socket in its own folder."""
        return [
            _postgres_bin("postgres"), "-D", str(self.data), "-p", str(self.port),
            "-k", str(self.root), "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=300",
            # A process stopped or killed, not a machine: the OS still writes what it was given.
            "-c", "fsync=off", "-c", "full_page_writes=off",
        ]  # fmt: skip

    @property
    def admin_dsn(self) -> str:
        """The maintenance database, as the superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of a database on this cluster."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def wait_ready(self) -> None:
        """Wait until it accepts queries (it listens before it has recovered)."""
        await super().wait_ready()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                connection = await asyncpg.connect(self.admin_dsn, timeout=2)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            await connection.close()
            return

    async def create_database(self, name: str) -> None:
        """CREATE DATABASE."""
        connection = await asyncpg.connect(self.admin_dsn, timeout=5)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    async def stop(self, sig: signal.Signals = signal.SIGINT, grace_s: float = 30.0) -> None:
        """Fast shutdown by default (SIGINT: sessions are cut, nothing is lost)."""
        await super().stop(sig, grace_s)

    def remove(self) -> None:
        """Delete the cluster's files."""
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer(ChildServer):
    """redis-server without snapshots or AOF: a restart loses every key unless saved first."""

    name = "redis"

    def __init__(self, port: int, log: Path, folder: Path) -> None:
        super().__init__(port, log)
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        """redis-server in the foreground on loopback."""
        return [
            _binary("redis-server", "/usr/bin", "/usr/local/bin"), "--port", str(self.port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.folder),
            "--dbfilename", "dump.rdb",
        ]  # fmt: skip

    def clear_snapshot(self) -> None:
        """Forget any saved data, so the next start is empty."""
        (self.folder / "dump.rdb").unlink(missing_ok=True)

    async def restart(self, *, keep_data: bool, down_s: float = 0.0) -> None:
        """Stop (with SHUTDOWN SAVE when `keep_data`, else SIGKILL), stay down `down_s`, start."""
        if keep_data:
            client = aioredis.Redis(host="127.0.0.1", port=self.port)
            try:
                await client.shutdown(save=True)
            except RedisError:
                pass  # the server closes the connection as it goes
            finally:
                await client.aclose()
            await self.wait_exit(30.0)
            await self.kill()  # only if it did not go by itself
        else:
            self.clear_snapshot()
            await self.kill()
        await asyncio.sleep(down_s)
        await self.start()


class MosquittoServer(ChildServer):
    """mosquitto -c <the config `eldercare broker-config` wrote>."""

    name = "mosquitto"

    def __init__(self, port: int, log: Path, config: Path) -> None:
        super().__init__(port, log)
        self.config = config

    def command(self) -> list[str]:
        """mosquitto in the foreground with the written config."""
        binary = os.environ.get("ELDERCARE_TEST_MOSQUITTO_BIN") or _binary(
            "mosquitto", "/usr/sbin", "/usr/local/sbin"
        )
        return [binary, "-c", str(self.config)]
