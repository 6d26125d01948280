"""Under a flood of readings, alarms are taken first."""

from __future__ import annotations

import aiomqtt

from gateway.mqtt import AlarmsFirstQueue
from tests.gateway.conftest import message


def incoming(payload: bytes) -> aiomqtt.Message:
    return aiomqtt.Message(
        "eldercare/v1/up/x", payload, qos=1, retain=False, mid=1, properties=None
    )


def test_alarms_jump_the_queue_and_everything_else_keeps_its_order() -> None:
    queue = AlarmsFirstQueue()
    arrivals = [
        message("vitals", "r1", hr=70),
        message("heartbeat", "r2", battery=80),
        message("sos", "a1", button="main"),
        b'{"v":1, "id":"a2", "type" : "fall", "confidence":0.9}',
        message("door", "r3", state="open"),
        b"not json",
    ]
    for payload in arrivals:
        queue.put_nowait(incoming(payload))
    assert queue.qsize() == len(arrivals) and not queue.empty()
    taken = [queue.get_nowait().payload for _ in arrivals]
    assert taken == [arrivals[2], arrivals[3], arrivals[0], arrivals[1], arrivals[4], arrivals[5]]
    assert queue.qsize() == 0 and queue.empty()
