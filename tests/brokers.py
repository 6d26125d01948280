"""Real servers for tests (Mosquitto, Redis): each its own process, files and free port; stopped,
restarted or frozen at will."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port, server_unavailable

__all__ = ["MosquittoProcess", "RedisProcess", "free_port", "mosquitto_binary"]


def mosquitto_binary() -> str:
    """ELDERCARE_TEST_MOSQUITTO_BIN, else mosquitto on PATH or in /usr/sbin; skip or fail if none."""
    binary = (
        os.environ.get("ELDERCARE_TEST_MOSQUITTO_BIN")
        or shutil.which("mosquitto")
        # Debian installs it in /usr/sbin, outside an ordinary user's PATH.
        or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    )
    if binary is None or not os.access(binary, os.X_OK):
        server_unavailable(
            "Mosquitto",
            f"no mosquitto binary at {binary or 'PATH'} (set ELDERCARE_TEST_MOSQUITTO_BIN)",
        )
    assert binary is not None
    return binary


class MosquittoProcess:
    """`mosquitto -c config` as a child process, waited on until it listens."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.config, self.port, self.log = config, port, log
        self._binary = mosquitto_binary()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until the port answers."""
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(self.config)], stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(
                    f"mosquitto exited with {self._process.returncode}:\n{self.log.read_text()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"mosquitto did not listen on {self.port}:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Terminate it (kill if it does not go within 10 s)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


class RedisProcess:
    """`redis-server` as a child process on a free port, without persistence: a restart loses
    everything, as a Redis restarted without its data does."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server") or shutil.which(
            "redis-server", path="/usr/sbin:/usr/local/bin"
        )
        if binary is None:
            server_unavailable("redis-server", "no redis-server binary on PATH")
        assert binary is not None
        self._binary, self._directory = binary, directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        with (self._directory / "redis.log").open("ab") as output:
            self._process = subprocess.Popen(
                [
                    *(self._binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--dir", str(self._directory)),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        pytest.fail(f"redis-server did not answer on {self.port}")

    def stop(self) -> None:
        """Terminate it (its data goes with it)."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGCONT)  # a stopped process would not hear SIGTERM
        self._process.terminate()
        self._process.wait(timeout=10)
        self._process = None

    def restart(self) -> None:
        """Stop it and start it again, empty, on the same port."""
        self.stop()
        self.start()

    def hang(self) -> None:
        """Freeze it (SIGSTOP): connections are accepted by the kernel, nothing is answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def wake(self) -> None:
        """Let a frozen Redis run again (SIGCONT)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)
