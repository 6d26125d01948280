"""`eldercare up` runs on uvloop unless told to run on asyncio's own loop."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from eldercare.cli import _loop_factory
from kernel.settings import EventLoop, Settings


def loop_of(settings: Settings) -> type[asyncio.AbstractEventLoop]:
    with asyncio.Runner(loop_factory=_loop_factory(settings)) as runner:
        return type(runner.get_loop())


def test_uvloop_by_default_and_asyncio_when_asked(settings: Settings) -> None:
    assert issubclass(loop_of(settings), uvloop.Loop)
    plain = settings.model_copy(update={"event_loop": EventLoop.ASYNCIO})
    assert not issubclass(loop_of(plain), uvloop.Loop)


def test_the_environment_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELDERCARE_EVENT_LOOP", "asyncio")
    assert Settings(_env_file=None).event_loop is EventLoop.ASYNCIO  # type: ignore[call-arg]
