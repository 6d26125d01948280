"""Shared fixtures: settings on a temporary data folder, databases (SQLite and real PostgreSQL).

Real-server tests use ELDERCARE_TEST_POSTGRES_URL (a maintenance database on a server where
the test role may CREATE DATABASE; each test makes its own database and drops it). They skip
when the server is not reachable, unless ELDERCARE_REQUIRE_SERVERS=1 (as in CI), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import hypothesis
import pytest
import redis
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kernel.database import create_engine, session_factory
from kernel.settings import Settings
from tests.databases import migrate_fresh

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Property tests check answers, not speed: no per-example deadline and no "too slow" health check,
# which on a loaded machine failed examples whose answers were right (speed is for bench/).
hypothesis.settings.register_profile(
    "eldercare", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("eldercare")
REQUIRE_SERVERS = os.environ.get("ELDERCARE_REQUIRE_SERVERS") == "1"


def server_unavailable(what: str, why: str) -> None:
    """Skip the test, or fail it where the servers are required (CI)."""
    message = f"{what} is not available: {why}"
    if REQUIRE_SERVERS:
        pytest.fail(message + " (ELDERCARE_REQUIRE_SERVERS=1)")
    pytest.skip(message)


class PortAllocator:
    """Ports for one test run's servers: each free when handed out, none handed out twice.

    Binding port 0 and closing the socket lets the system hand the same port out again (four
    equal pairs in 20,000 back-to-back calls), so two servers of one test could be told to
    share a port. Here every port is handed out at most once, in a random order (another test
    run on this machine draws its own), and only after binding it on every address has shown
    that nothing holds it.
    """

    def __init__(self, ports: range) -> None:
        self._untried = random.sample(ports, len(ports))
        self._lock = threading.Lock()  # tests may start servers from threads

    def take(self) -> int:
        """A port never handed out before by this allocator, and free right now."""
        with self._lock:
            while self._untried:
                port = self._untried.pop()
                if _nothing_holds(port):
                    return port
        raise RuntimeError("every port this test run may use has been handed out")


def _nothing_holds(port: int) -> bool:
    # No SO_REUSEADDR: a port still in TIME_WAIT from an earlier server counts as held too.
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _ports_below_the_ephemeral_range() -> range:
    """Ports the system never picks by itself: just below those it gives outgoing connections.

    A port from the ephemeral range could be taken, between being handed out and being bound,
    by any connection a test opens (to PostgreSQL, Redis, a broker).
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32_768  # Linux's default
    if low - 10_000 < 1_024:
        return range(20_000, 30_000)  # an unusual range: ports that are only rarely in it
    return range(low - 10_000, low)


def this_workers_ports(ports: range) -> range:
    """The ports this process may hand out, so that test runs side by side never hand out the
    same one: ELDERCARE_TEST_PORT_SHARE="k/n" keeps the run to every n-th port from the k-th
    (`./dev test` runs tests/api beside the rest), and under pytest-xdist each worker takes
    its own slice of that (gw0 every m-th from the first, gw1 every m-th from the second...)."""
    if share := os.environ.get("ELDERCARE_TEST_PORT_SHARE"):
        index, count = (int(part) for part in share.split("/"))
        ports = ports[index::count]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker.startswith("gw") and workers > 1:
        ports = ports[int(worker.removeprefix("gw")) :: workers]
    return ports


_ports = PortAllocator(this_workers_ports(_ports_below_the_ephemeral_range()))


def free_port() -> int:
    """A loopback port nobody listens on, never handed out before in this test run."""
    return _ports.take()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook, called on its controller
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    """Refuse tests that share an id under pytest-xdist, which schedules tests by id: all but
    one of them would silently not run (schemathesis' per-operation tests in tests/api have one
    id per test function; `./dev test` runs them in a process of their own)."""
    repeated = sorted(nodeid for nodeid, n in Counter(ids).items() if n > 1)
    if repeated:
        pytest.exit(
            f"{len(repeated)} test ids are each shared by several tests, which pytest-xdist "
            f"would run once: run them without -n ({', '.join(repeated[:3])})",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded defaults on a data folder of this test's own."""
    return Settings(_env_file=None, data_dir=tmp_path / "data", mqtt_port=free_port())  # type: ignore[call-arg]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of this test's own (not migrated)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


def _admin_dsn() -> str:
    return os.environ.get("ELDERCARE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_admin_dsn(), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own (not migrated), dropped afterwards."""
    name = f"eldercare_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        server_unavailable("PostgreSQL", f"{type(error).__name__}: {error}")
    url = make_url(_admin_dsn()).set(drivername="postgresql+asyncpg", database=name)
    yield url.render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on real PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """The database, migrated to the newest revision (a copy of this run's template)."""
    migrate_fresh(database_url)
    return database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated database."""
    db = create_engine(migrated_url)
    yield db
    await db.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the migrated database."""
    return session_factory(engine)


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class RedisTarget:
    """A real Redis and a key prefix of this test's own (its keys are deleted afterwards)."""

    url: str
    prefix: str


async def _redis_cleanup(url: str, prefix: str) -> None:
    client = aioredis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    """Real Redis (ELDERCARE_TEST_REDIS_URL), with keys and channels under a fresh prefix."""
    url = os.environ.get("ELDERCARE_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
        client.close()
    except redis.RedisError as error:
        server_unavailable("Redis", f"{type(error).__name__}: {error}")
    prefix = f"eldercare-test-{uuid.uuid4().hex[:12]}:"
    yield RedisTarget(url, prefix)
    asyncio.run(_redis_cleanup(url, prefix))
