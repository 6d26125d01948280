"""The chaos harness: the run's own servers, a seeded register, and the system as processes.

    devices (devices.py) -> edge Mosquitto == bridge ==> core Mosquitto <- gateway-1, gateway-2
    PostgreSQL (initdb, own port), Redis (--save ''), callcenter-1 [, callcenter-2]

The deployment's topology (FACTS.md: one Mosquitto cannot hold the fleet here): devices on an
edge broker (`eldercare broker-config --bridge-to`) that bridges uplinks out to, and downlinks
in from, a core broker (`--bridge-username`) that the gateways read (`eldercare up --role
gateway`, one shared subscription). The `single` topology puts devices and gateways on one
broker instead, to measure what that loses. Every piece can be stopped, SIGKILLed and started
again. Experiments (experiments.py) use disjoint devices and elders of one register, so one set
of servers serves a whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg

from tests.chaos.devices import Login
from tests.chaos.servers import MosquittoServer, PostgresServer, RedisServer
from tests.chaos.system import EldercareProcess, run_cli, system_env

DATABASE = "eldercare_chaos"
GATEWAY_USER = "eldercare-gateway"
BRIDGE_USER = "eldercare-bridge"

# A gateway connects within seconds; a bridge retries on its restart_timeout (broker-config's).
BRIDGE_OR_GATEWAY_WAIT_S = 60.0

Topology = Literal["edge-core", "single"]
EDGE_CORE: Topology = "edge-core"
SINGLE: Topology = "single"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RegisteredDevice:
    """A device of the seeded register, with the elder it is bound to."""

    device_id: str
    secret: str
    kind: str
    elder_id: int | None


@dataclass(frozen=True)
class Tuning:
    """How the system is configured for a run (every value an ELDERCARE_* variable)."""

    gateways: int = 2
    callcenters: int = 1
    # Small, so that incidents left unacknowledged escalate while the run is still going.
    ack_escalate_after_s: int = 3
    supervisor_escalate_after_s: int = 8


class ChaosHarness:
    """Servers, register and system processes of one chaos run, all of them this run's own."""

    def __init__(
        self,
        seed_count: int,
        tuning: Tuning | None = None,
        folder: Path | None = None,
        product: Path | None = None,
        topology: Topology = EDGE_CORE,
    ) -> None:
        self.tuning = tuning or Tuning()
        self.topology = topology
        self.seed_count = seed_count
        self.folder = folder or Path(tempfile.mkdtemp(prefix="eldercare-chaos-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.postgres = PostgresServer(free_port(), self.folder / "postgresql.log")
        self.redis = RedisServer(free_port(), self.folder / "redis.log", self.folder / "redis")
        # The core is the broker the gateways read, the edge the one devices connect to (one and
        # the same broker in the single topology).
        self.core = self._broker("core" if topology == EDGE_CORE else "broker")
        self.edge = self._broker("edge") if topology == EDGE_CORE else self.core
        self.gateway_password = secrets.token_urlsafe(18)
        self.bridge_password = secrets.token_urlsafe(18)
        self.database_url = self.postgres.url(DATABASE)
        self.env = system_env(
            database_url=self.database_url,
            redis_url=f"redis://127.0.0.1:{self.redis.port}/0",
            redis_prefix="chaos:",
            mqtt_url=f"mqtt://{GATEWAY_USER}:{self.gateway_password}@127.0.0.1:{self.core.port}",
            product=product,
            extra={
                "ELDERCARE_MQTT_GATEWAY_PASSWORD": self.gateway_password,
                "ELDERCARE_ACK_ESCALATE_AFTER_S": str(self.tuning.ack_escalate_after_s),
                "ELDERCARE_SUPERVISOR_ESCALATE_AFTER_S": str(
                    self.tuning.supervisor_escalate_after_s
                ),
            },
        )
        self.gateways = [
            self._process(f"gateway-{n}", "gateway", {"ELDERCARE_GATEWAY_ID": f"chaos-gateway-{n}"})
            for n in range(1, self.tuning.gateways + 1)
        ]
        self.callcenters = [
            self._process(f"callcenter-{n}", "callcenter", {})
            for n in range(1, self.tuning.callcenters + 1)
        ]
        self.register: list[RegisteredDevice] = []
        # After a failed experiment the system may be wedged (alive, taking nothing): the next
        # experiment starts it afresh, so that one failure does not show up as the next one's.
        self.restart_before_next = False
        self._used_elders: set[int] = set()
        self._used_devices: set[str] = set()

    def _broker(self, name: str) -> MosquittoServer:
        return MosquittoServer(
            free_port(),
            self.folder / f"mosquitto-{name}.log",
            self.folder / name / "mosquitto.conf",
        )

    @property
    def brokers(self) -> list[MosquittoServer]:
        """The run's Mosquitto processes, the core first."""
        return [self.core] if self.edge is self.core else [self.core, self.edge]

    def _process(self, name: str, role: str, env: dict[str, str]) -> EldercareProcess:
        return EldercareProcess(name, role, free_port(), self.folder / name, {**self.env, **env})

    @property
    def processes(self) -> list[EldercareProcess]:
        """Every system process."""
        return [*self.gateways, *self.callcenters]

    async def start(self) -> None:
        """Servers up, register seeded, broker configured for it, the system started."""
        started = time.monotonic()
        await asyncio.to_thread(self.postgres.initdb)
        await self.postgres.start()
        await self.postgres.create_database(DATABASE)
        await self.redis.start()
        await asyncio.to_thread(
            run_cli, ["seed", "--count", str(self.seed_count)], self.env, self.folder
        )
        self.register = await self._read_register()
        await self._write_broker_configs()
        await self.core.start()
        if self.edge is not self.core:
            await self.start_edge()
        for process in self.processes:  # one at a time: each migrates and writes the roster
            await self._start(process)
        self.startup_s = time.monotonic() - started

    async def _write_broker_configs(self) -> None:
        """`eldercare broker-config` as an operator runs it: one broker, or a core admitting the
        edge's bridge and an edge bridged to it."""
        core = ["broker-config", "--out", str(self.core.config.parent),
                "--port", str(self.core.port), "--gateway-username", GATEWAY_USER]  # fmt: skip
        if self.edge is self.core:
            await asyncio.to_thread(run_cli, core, self.env, self.folder)
            return
        env = {**self.env, "ELDERCARE_MQTT_BRIDGE_PASSWORD": self.bridge_password}
        edge = ["broker-config", "--out", str(self.edge.config.parent),
                "--port", str(self.edge.port), "--gateway-username", GATEWAY_USER,
                "--bridge-username", BRIDGE_USER,
                "--bridge-to", f"127.0.0.1:{self.core.port}"]  # fmt: skip
        await asyncio.to_thread(
            run_cli, [*core, "--bridge-username", BRIDGE_USER], env, self.folder
        )
        await asyncio.to_thread(run_cli, edge, env, self.folder)

    async def start_core(self) -> None:
        """Start the core and wait until the edge's bridge has connected to it again (after
        the bridge's restart_timeout)."""
        offset = _size(self.core.log)
        await self.core.start()
        if self.edge is not self.core:
            await self._wait_in_core_log(offset, " as eldercare-edge-", "the edge's bridge")

    async def start_edge(self) -> None:
        """Start the edge and wait until its bridge has connected to the core."""
        offset = _size(self.core.log)
        await self.edge.start()
        await self._wait_in_core_log(offset, " as eldercare-edge-", "the edge's bridge")

    @property
    def dsn(self) -> str:
        """The system's database, for asyncpg (the counting side)."""
        return f"postgresql://postgres@127.0.0.1:{self.postgres.port}/{DATABASE}"

    async def _read_register(self) -> list[RegisteredDevice]:
        connection = await asyncpg.connect(self.dsn)
        try:
            rows = await connection.fetch(
                "SELECT id, secret, kind, elder_id FROM devices ORDER BY id"
            )
        finally:
            await connection.close()
        return [RegisteredDevice(r["id"], r["secret"], r["kind"], r["elder_id"]) for r in rows]

    def take(self, kind: str, count: int) -> list[Login]:
        """`count` devices of a kind no experiment has used yet, of elders none has used yet.

        Disjoint elders keep experiments apart: an SOS joins its elder's open incident, so an
        earlier experiment's incident would swallow this one's.
        """
        taken: list[Login] = []
        for device in self.register:
            if len(taken) == count:
                break
            if device.kind != kind or device.device_id in self._used_devices:
                continue
            if device.elder_id is None or device.elder_id in self._used_elders:
                continue
            self._used_devices.add(device.device_id)
            self._used_elders.add(device.elder_id)
            taken.append(Login(self.edge.port, device.device_id, device.secret))
        if len(taken) < count:
            raise RuntimeError(
                f"the register has only {len(taken)} unused {kind} devices left, {count} asked: "
                "seed more elders"
            )
        return taken

    def unexpected_exits(self) -> int:
        """How many times a system process ended without being asked to."""
        for process in self.processes:
            process.notice_exit()
        return sum(len(p.exits) for p in self.processes)

    async def ensure_up(self) -> None:
        """Start whatever is down: servers first, then the system's processes (all of them
        afresh after a failed experiment)."""
        if self.restart_before_next:
            for process in self.processes:
                process.notice_exit()
                await process.stop()
            self.restart_before_next = False
        if not self.postgres.running:
            await self.postgres.start()
        if not self.redis.running:
            await self.redis.start()
        if not self.core.running:
            await self.start_core()
        if not self.edge.running:
            await self.start_edge()
        for process in self.processes:
            process.notice_exit()
            if not process.running:
                await self._start(process)

    async def _start(self, process: EldercareProcess) -> None:
        if process in self.gateways:
            await self.start_gateway(process)
        else:
            await process.start()

    async def start_gateway(self, gateway: EldercareProcess) -> None:
        """Start a gateway and wait until the broker says it connected (it subscribes then)."""
        offset = _size(self.core.log)
        await gateway.start()
        client_id = gateway.env["ELDERCARE_GATEWAY_ID"]
        await self._wait_in_core_log(offset, f" as {client_id} ", gateway.name)
        await asyncio.sleep(0.5)  # its SUBSCRIBE follows the CONNACK

    async def _wait_in_core_log(self, offset: int, text: str, who: str) -> None:
        deadline = time.monotonic() + BRIDGE_OR_GATEWAY_WAIT_S
        while time.monotonic() < deadline:
            with self.core.log.open("rb") as log:
                log.seek(offset)
                if text.encode() in log.read():
                    return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{who} did not connect to the core broker: {self.core.tail()}")

    async def close(self, *, keep_folder: bool = False) -> None:
        """Stop everything this run started; delete its files unless asked to keep them."""
        for process in self.processes:
            with contextlib.suppress(Exception):
                await process.stop()
        for server in (*reversed(self.brokers), self.redis, self.postgres):
            with contextlib.suppress(Exception):
                await server.stop()
        self.postgres.remove()
        if not keep_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
