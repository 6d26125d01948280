"""WebSocket ingest at /ws/device, for terminals behind HTTP-only networks.

The first frame is the hello with the device's id and secret; the gateway answers welcome or
closes with 4401. After that each text frame is one uplink message, answered like MQTT. A
socket that closes without a clean close counts as the device going offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from devices.protocol import WELCOME, WS_CLOSE_UNAUTHORIZED, Rejection, RejectReason, decode_hello
from gateway.ingest.schemas import Inbound
from gateway.ingest.service import Ingest
from kernel.models import utcnow

log = logging.getLogger(__name__)
router = APIRouter()

# A client that opens a socket and says nothing is not a terminal; free the slot.
HELLO_TIMEOUT_S = 10.0
CLEAN_CLOSE_CODES = frozenset({1000, 1001})
# RFC 6455's "try again later": the gateway cannot check the hello now (its database is away).
WS_CLOSE_TRY_AGAIN_LATER = 1013
OFFLINE = json.dumps({"v": 1, "type": "offline"}).encode()


@router.websocket("/ws/device")
async def device_socket(websocket: WebSocket) -> None:
    """One terminal's connection: hello, welcome, then its messages and our answers."""
    ingest: Ingest = websocket.app.state.ingest
    await websocket.accept()
    try:
        hello_text = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT_S)
    except (TimeoutError, WebSocketDisconnect, KeyError):
        await _close(websocket, WS_CLOSE_UNAUTHORIZED, "hello expected")
        return
    hello = decode_hello(hello_text)
    if isinstance(hello, Rejection):
        # Kept with its secret redacted (gateway.ingest.tasks.reject_row): a hello refused for
        # its version, its type, its device id or a repeated key still carries one.
        ingest.refuse_handshake(None, _utf8(hello_text), hello)
        await _close(websocket, WS_CLOSE_UNAUTHORIZED, hello.detail)
        return
    try:
        known = await ingest.registry.check_login(hello.device, hello.secret)
    except Exception:
        # The registry's database away (or a fault nobody foresaw): not the device's doing, so
        # nothing is kept against it; it is told to come back, as a terminal does on 1013.
        log.exception("WebSocket hello of %s not checked", hello.device)
        await _close(websocket, WS_CLOSE_TRY_AGAIN_LATER, "try again later")
        return
    if not known:
        refusal = Rejection(RejectReason.UNKNOWN_DEVICE, "unknown device or wrong secret")
        ingest.refuse_handshake(hello.device, b"", refusal)
        await _close(websocket, WS_CLOSE_UNAUTHORIZED, refusal.detail)
        return
    await websocket.send_text(WELCOME.decode())

    async def send(payload: bytes) -> None:
        await websocket.send_text(payload.decode())

    async def close() -> None:
        # Its secret was rotated: it must say hello again, with the new one.
        await _close(websocket, WS_CLOSE_UNAUTHORIZED, "secret rotated")

    gateway = websocket.app.state.gateway
    sockets, closers = gateway.sockets, gateway.socket_closers
    sockets[hello.device] = send
    closers[hello.device] = close
    clean = False
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                clean = frame.get("code", 1006) in CLEAN_CLOSE_CODES
                break
            data = frame.get("text")
            payload = _utf8(data) if data is not None else frame.get("bytes") or b""
            inbound = Inbound("ws", hello.device, None, payload, utcnow())
            for downlink in await _handled(ingest, inbound):
                await websocket.send_text(downlink.decode())
    except WebSocketDisconnect as disconnect:
        clean = disconnect.code in CLEAN_CLOSE_CODES
    finally:
        if sockets.get(hello.device) is send:
            del sockets[hello.device]
        if closers.get(hello.device) is close:
            del closers[hello.device]
        if not clean:
            await _handled(ingest, Inbound("ws", hello.device, None, OFFLINE, utcnow()))


async def _handled(ingest: Ingest, inbound: Inbound) -> list[bytes]:
    """What `ingest.handle` answers; should it ever fail itself, nothing, and the connection
    goes on (handle keeps whatever a message makes fail with that message: this is the last line)."""
    try:
        return await ingest.handle(inbound)
    except Exception:
        log.exception("WebSocket message from %s not handled", inbound.device_id)
        return []


def _utf8(text: str) -> bytes:
    """A frame's text as bytes, as it came: a lone surrogate (which no UTF-8 frame can carry,
    but an ASGI server handing over a str might) stays invalid UTF-8, for the decoder to refuse."""
    return text.encode("utf-8", "surrogatepass")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):  # the client already went away
        await websocket.close(code=code, reason=reason[:120])
