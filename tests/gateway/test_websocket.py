"""WebSocket ingest at /ws/device: the hello/welcome handshake, messages, and dropped sockets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import import_register_file
from gateway.credentials.service import rotate_device_secret
from kernel.database import create_engine, session_factory
from kernel.models import Device, DeviceEvent, RejectedMessage
from kernel.settings import Settings
from tests.databases import migrate_fresh
from tests.factories import AS_OF, create_register_csv, create_row
from tests.gateway.conftest import message


@pytest.fixture
def terminal(settings: Settings, tmp_path: Path) -> tuple[str, str]:
    """An imported elder's terminal (id, secret) in the settings' database."""
    migrate_fresh(settings.effective_database_url)
    row = create_row()

    async def prepare() -> str:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        path = create_register_csv(tmp_path / "r.csv", [row])
        await import_register_file(sessions, path, as_of=AS_OF, actor="test")
        async with sessions() as session:
            secret = await session.scalar(
                select(Device.secret).where(Device.id == row[columns.SOS_TERMINAL])
            )
        await engine.dispose()
        assert secret is not None
        return secret

    return row[columns.SOS_TERMINAL], asyncio.run(prepare())


def count(settings: Settings, model: type, **where: object) -> int:
    async def read() -> int:
        engine = create_engine(settings.effective_database_url)
        async with session_factory(engine)() as session:
            query = select(func.count()).select_from(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            result = await session.scalar(query) or 0
        await engine.dispose()
        return result

    return asyncio.run(read())


def hello(device: str, secret: str) -> str:
    return json.dumps({"v": 1, "type": "hello", "device": device, "secret": secret})


def test_welcome_then_sos_is_acknowledged(settings: Settings, terminal: tuple[str, str]) -> None:
    device, secret = terminal
    with (
        TestClient(create_app(settings, mqtt=False)) as client,
        client.websocket_connect("/ws/device") as socket,
    ):
        socket.send_text(hello(device, secret))
        assert json.loads(socket.receive_text()) == {"v": 1, "type": "welcome"}
        socket.send_text(message("sos", "w1", button="main").decode())
        assert json.loads(socket.receive_text())["status"] == "received"
        socket.send_text("{broken")
        assert json.loads(socket.receive_text())["reason"] == "not_json"
        socket.close(code=1000)
    assert count(settings, DeviceEvent, device_id=device, type="sos") == 1
    assert count(settings, DeviceEvent, device_id=device, type="offline") == 0  # a clean close


@pytest.mark.parametrize("first_frame", ["wrong-secret", "not json", "unknown-device"])
def test_a_bad_hello_is_closed_with_4401_and_kept(
    settings: Settings, terminal: tuple[str, str], first_frame: str
) -> None:
    device, _secret = terminal
    frame = {
        "wrong-secret": hello(device, "guess"),
        "not json": "hello?",
        "unknown-device": hello("864000000000009", "x"),
    }[first_frame]
    with TestClient(create_app(settings, mqtt=False)) as client:
        with client.websocket_connect("/ws/device") as socket:
            socket.send_text(frame)
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_text()
        assert closed.value.code == 4401
    assert count(settings, RejectedMessage, transport="ws") == 1


def test_a_dropped_socket_counts_as_offline(settings: Settings, terminal: tuple[str, str]) -> None:
    device, secret = terminal
    with (
        TestClient(create_app(settings, mqtt=False)) as client,
        client.websocket_connect("/ws/device") as socket,
    ):
        socket.send_text(hello(device, secret))
        socket.receive_text()
        socket.send_text(message("heartbeat", "hb", battery=60).decode())
        socket.close(code=1006)
    assert count(settings, DeviceEvent, device_id=device, type="offline") == 1
    assert count(settings, Device, id=device, online=False) == 1


def rotate(settings: Settings, device: str) -> str:
    """Rotate the device's secret as `eldercare devices credentials --rotate` does; the new one."""

    async def run() -> str:
        engine = create_engine(settings.effective_database_url)
        async with session_factory(engine)() as session, session.begin():
            login = await rotate_device_secret(session, device, actor="test")
        await engine.dispose()
        return login.password

    return asyncio.run(run())


def kept_raw(settings: Settings) -> list[bytes]:
    async def read() -> list[bytes]:
        engine = create_engine(settings.effective_database_url)
        async with session_factory(engine)() as session:
            rows = list(await session.scalars(select(RejectedMessage.raw)))
        await engine.dispose()
        return rows

    return asyncio.run(read())


@pytest.mark.parametrize(
    "fault", ["version", "no type", "odd device id", "repeated key", "cut", "second hello"]
)
def test_a_refused_hello_is_kept_without_its_secret(
    settings: Settings, terminal: tuple[str, str], fault: str
) -> None:
    device, secret = terminal
    good = {"v": 1, "type": "hello", "device": device, "secret": secret}
    frame = {
        "version": json.dumps({**good, "v": 2}),
        "no type": json.dumps({k: v for k, v in good.items() if k != "type"}),
        "odd device id": json.dumps({**good, "device": "x" * 65}),
        "repeated key": json.dumps(good)[:-1] + ', "type": "hello"}',
        "cut": json.dumps(good)[:-3],
        "second hello": hello(device, secret),
    }[fault]
    with (
        TestClient(create_app(settings, mqtt=False)) as client,
        client.websocket_connect("/ws/device") as socket,
    ):
        if fault == "second hello":
            socket.send_text(hello(device, secret))
            socket.receive_text()
            socket.send_text(frame)
            assert json.loads(socket.receive_text())["status"] == "rejected"
            socket.close(code=1000)
        else:
            socket.send_text(frame)
            with pytest.raises(WebSocketDisconnect):
                socket.receive_text()
    raws = kept_raw(settings)
    assert len(raws) == 1
    assert secret.encode() not in raws[0] and b"[redacted]" in raws[0]


def test_a_rotated_secret_is_refused_at_once(settings: Settings, terminal: tuple[str, str]) -> None:
    device, old = terminal
    with TestClient(create_app(settings, mqtt=False)) as client:
        new = rotate(settings, device)
        with client.websocket_connect("/ws/device") as socket:
            socket.send_text(hello(device, old))
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_text()
        assert closed.value.code == 4401
        with client.websocket_connect("/ws/device") as socket:
            socket.send_text(hello(device, new))
            assert json.loads(socket.receive_text()) == {"v": 1, "type": "welcome"}


def test_a_rotation_closes_the_devices_live_socket(
    settings: Settings, terminal: tuple[str, str]
) -> None:
    device, secret = terminal
    with (
        TestClient(create_app(settings, mqtt=False)) as client,
        client.websocket_connect("/ws/device") as socket,
    ):
        socket.send_text(hello(device, secret))
        socket.receive_text()
        rotate(settings, device)
        # The gateway reads rotations every second (gateway.ingest.registry.ROTATION_POLL_S).
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_text()
        assert closed.value.code == 4401
