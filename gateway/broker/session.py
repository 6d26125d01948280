"""Gateway sessions on a real broker: who is alive, and taking over a dead gateway's session.

Gateways share the uplinks through `$share/<group>/…`, each on a persistent session under a fixed
client id. Mosquitto 2.0 keeps sending an offline member its share, queued in its session until
it returns, and a session that expires (MQTT 5 Session Expiry Interval) takes its queue with it:
measured, a gateway killed with a 5 s expiry lost the ~500 readings queued for it meanwhile,
PUBACKed to their devices (docs/operations.md, "Broker faults"). So sessions never expire, and a
dead gateway's session is taken over instead: each gateway leaves a last will, "offline" on its
status topic; a living gateway that reads it connects under the dead one's client id and takes
its session, with the readings queued and in flight in it, and its share of what comes next.

Status messages are not retained: brokers keep no retained message at all (devices must not be
able to leave one, and Mosquitto's `retain_available false` is broker-wide). A gateway still hears
every death after its first connection: its status subscription is QoS 1 on its persistent
session, so a will published while it was away waits in its queue. Only a gateway id the broker
has never seen learns nothing of deaths before its first connection. When the dead gateway starts again it connects under its own id, the broker
closes the taker's connection, and whatever the taker had not acknowledged is delivered to it.
Nothing the broker acknowledged is dropped; a reading may be delivered twice, which ingest
already treats as a duplicate.
"""

from __future__ import annotations

import aiomqtt

STATUS_PREFIX = "eldercare/v1/gateways/"
# The gateway's alarm lane (gateway.mqtt) logs in as the gateway's username with this after it,
# under its client id with this after it, on the gateway's password. Its own login, not only its
# own client id: where a single broker's one gateway connects on the devices' listener, the
# client id is the username (`use_username_as_clientid`), and the two lanes under one username
# would throw each other off.
ALARM_LANE_SUFFIX = "-alarms"


def alarm_lane_username(gateway_username: str) -> str:
    """The login of a gateway's alarm lane."""
    return gateway_username + ALARM_LANE_SUFFIX


STATUS_FILTER = STATUS_PREFIX + "+"
ONLINE = b"online"
OFFLINE = b"offline"


def status_topic(client_id: str) -> str:
    """Where a gateway tells its liveness: ONLINE when it connects, OFFLINE from its last will."""
    return STATUS_PREFIX + client_id


def last_will(client_id: str) -> aiomqtt.Will:
    """The will of a gateway's own connection: OFFLINE, once the broker loses it (not retained).

    A taker's connection under a dead gateway's id must not carry it: the returning gateway
    closes that connection, and its will would announce the gateway dead just as it came back.
    """
    return aiomqtt.Will(status_topic(client_id), OFFLINE, qos=1, retain=False)


class PeerSessions:
    """Which dead gateways' sessions this gateway takes, from the status messages it reads."""

    def __init__(self, own_client_id: str) -> None:
        self._own = own_client_id
        self._taken: set[str] = set()

    def status(self, topic: str, payload: bytes) -> str | None:
        """The client id whose session to take now, or None."""
        if not topic.startswith(STATUS_PREFIX):
            return None
        client_id = topic[len(STATUS_PREFIX) :]
        if client_id == self._own or not client_id:
            return None
        if payload == OFFLINE and client_id not in self._taken:
            self._taken.add(client_id)
            return client_id
        if payload == ONLINE:
            self._taken.discard(client_id)  # back: it takes its session again
        return None

    def is_down(self, client_id: str) -> bool:
        """Whether the last status read of this gateway said it is down (and it is not back)."""
        return client_id in self._taken

    def released(self, client_id: str) -> None:
        """The taken session's connection closed (its owner came back, or the broker went)."""
        self._taken.discard(client_id)
