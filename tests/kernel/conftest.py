"""Fixtures of the kernel's tests: a Redis of the test's own, to restart and freeze."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers import RedisProcess


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A Redis of this test's own, running; stopped afterwards."""
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    server.stop()
