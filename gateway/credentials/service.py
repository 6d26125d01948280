"""Rules of device credentials: issuing secrets, and the files a Mosquitto broker checks them with.

A device logs in with username = client id = its id and password = its secret (docs/protocol.md)
and may publish only to its uplink and alarm topics and read only its downlink. A real
Mosquitto enforces that
from three files written here: `passwords` (Mosquitto 2.x PBKDF2-SHA512 hashes, as
`mosquitto_passwd` writes them), `acl` and `mosquitto.conf`; the embedded broker
(gateway.broker.embedded) enforces the same rules in code (docs/gateway.md, "Broker rules").

Where devices connect, a listener sets `use_username_as_clientid`: the client id is the login,
whatever the CONNECT said, so no device can take another's session or a gateway's. Gateways need
ids of their own and take over dead peers' sessions (gateway.broker.session), so they connect
where devices do not: a core broker's listener (edges carry the devices), or on a single broker
a second listener (`gateway_port`), on a host devices cannot reach.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from devices.protocol import (
    ALARM_PREFIX,
    DOWNLINK_PREFIX,
    MAX_PACKET_BYTES,
    UPLINK_PREFIX,
    alarm_topic,
    downlink_topic,
    uplink_topic,
)
from gateway.broker.session import STATUS_PREFIX, alarm_lane_username
from gateway.credentials import repository
from gateway.credentials.schemas import DeviceCredentials
from kernel import audit
from kernel.errors import NotFoundError

# mosquitto_passwd's defaults: the broker refuses an entry whose salt is not exactly 12 bytes or
# whose hash is not exactly 64 (one SHA-512 output), and reads the iteration count from the entry.
MOSQUITTO_SALT_BYTES = 12
MOSQUITTO_HASH_BYTES = 64
# 101 is mosquitto_passwd's own count. The secrets are 144 random bits, so a stolen password
# file cannot be brute-forced whatever the count; a low count keeps 25,585 logins after a
# broker restart cheap (the broker hashes on every CONNECT) and the file fast to write.
MOSQUITTO_ITERATIONS = 101

# Mosquitto holds at most 1,000 QoS 1 messages per session beyond those in flight by default,
# and drops the rest, after having acknowledged them to their sender. The session that queues in
# bulk is the gateway's, while no gateway is connected (a restart, an upgrade, a crash): it
# collects the QoS 1 uplinks of the whole fleet, and an SOS must not be among those dropped.
# Measured on Mosquitto 2.0.11 with 100,000 readings sent while the gateway was away: a cap of
# 20,000 delivered 20,000 of them; this one delivered all, the broker growing from 11 to 40 MB
# (~0.3 KB a message). A million is about 39 minutes of the fleet's normal traffic (430 a
# second), ~300 MB at most; devices queue only their rare downlinks.
MAX_QUEUED_MESSAGES = 1_000_000

# The gateway acknowledges a QoS 1 uplink only once it has stored it (gateway.mqtt
# .with_acks_when_recorded), up to a 50 ms batch later. Mosquitto sends a client at most 20
# unacknowledged messages by default, which would hold the gateway to ~400 a second, under the
# fleet's normal traffic. At ten times that traffic ~300 are in flight; the gateway's own
# ceiling, ~9,000 a second, needs ~600.
MAX_INFLIGHT_MESSAGES = 2_000

# With persistence on, a restart (SIGTERM, an upgrade) keeps every session, its plain
# subscriptions and the QoS 1 messages queued or in flight to it; measured with persistence off,
# a restart lost every reading the broker had acknowledged and not yet delivered (~85 of 1,000 in
# a 6 s run at 170 a second). A crash (SIGKILL, power) keeps only the last save: Mosquitto writes
# its whole database at each autosave and has no log between them. 30 s bounds that loss, and a
# save stays cheap while the gateways keep up (sessions and subscriptions; kilobytes to a few MB).
AUTOSAVE_INTERVAL_S = 30


class UnknownDeviceError(NotFoundError):
    """No device with this id is registered."""

    code = "unknown_device"

    def __init__(self, device_id: str) -> None:
        super().__init__(f"No device {device_id!r} is registered.")
        self.device_id = device_id


@dataclass(frozen=True, slots=True)
class MosquittoFiles:
    """Where write_mosquitto_config put the broker's files."""

    config: Path
    passwords: Path
    acl: Path
    pid: Path  # written by Mosquitto while it runs (`pid_file`)


def issue_secret() -> str:
    """A new device secret: 144 random bits, URL-safe, easy to type into a terminal's config."""
    return secrets.token_urlsafe(18)


def device_credentials(device_id: str, secret: str) -> DeviceCredentials:
    """What an installer writes into the terminal: the MQTT login and its topics."""
    return DeviceCredentials(
        device_id=device_id,
        username=device_id,
        password=secret,
        client_id=device_id,
        uplink_topic=uplink_topic(device_id),
        alarm_topic=alarm_topic(device_id),
        downlink_topic=downlink_topic(device_id),
    )


async def credentials_of(session: AsyncSession, device_id: str) -> DeviceCredentials:
    """The current MQTT login of a registered device."""
    device = await repository.get_device(session, device_id)
    if device is None:
        raise UnknownDeviceError(device_id)
    return device_credentials(device.id, device.secret)


async def rotate_device_secret(
    session: AsyncSession, device_id: str, *, actor: str
) -> DeviceCredentials:
    """Issue a new secret to a device and audit it, in the caller's unit of work."""
    device = await repository.get_device(session, device_id)
    if device is None:
        raise UnknownDeviceError(device_id)
    secret = issue_secret()
    await repository.rotate_secret(session, device.id, secret)
    # The audit log must never hold the secret, old or new: who, which device, what kind.
    await audit.record(
        session,
        actor=actor,
        action="device.secret_rotated",
        subject_type="device",
        subject_id=device.id,
        detail={"kind": device.kind.value, "elder_id": device.elder_id},
    )
    return device_credentials(device.id, secret)


def mosquitto_password_hash(
    password: str, *, salt: bytes | None = None, iterations: int = MOSQUITTO_ITERATIONS
) -> str:
    """`$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512, standard base64, as mosquitto_passwd writes."""
    if salt is None:
        salt = os.urandom(MOSQUITTO_SALT_BYTES)
    if len(salt) != MOSQUITTO_SALT_BYTES:
        raise ValueError(f"Mosquitto accepts only {MOSQUITTO_SALT_BYTES}-byte salts")
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    digest = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), salt, iterations, MOSQUITTO_HASH_BYTES
    )
    encoded_salt = base64.b64encode(salt).decode("ascii")
    encoded_hash = base64.b64encode(digest).decode("ascii")
    return f"$7${iterations}${encoded_salt}${encoded_hash}"


def _check_username(username: str) -> None:
    # A ':' would split the password line in the wrong place, whitespace would end an ACL line,
    # and Mosquitto denies every pattern ACL to a username holding a wildcard.
    if not username or any(c in username for c in ":+#/") or any(c.isspace() for c in username):
        raise ValueError(f"{username!r} cannot be a Mosquitto username")


def mosquitto_password_file(logins: Iterable[tuple[str, str]]) -> str:
    """The password file text: one `username:hash` line per (username, password)."""
    lines = []
    for username, password in logins:
        _check_username(username)
        lines.append(f"{username}:{mosquitto_password_hash(password)}\n")
    return "".join(lines)


@dataclass(frozen=True, slots=True)
class BridgeLogin:
    """Where an edge broker forwards its devices' traffic: the core broker and the bridge account."""

    host: str
    port: int
    username: str
    password: str


class BrokerRole(enum.StrEnum):
    """What one Mosquitto of the deployment serves, from the flags `broker-config` was given."""

    SINGLE = "single"  # devices and gateways on one broker
    CORE = "core"  # the gateways and the edges' bridges; no device logs in here
    EDGE = "edge"  # devices, forwarded to the core by a bridge; no gateway logs in here


def mosquitto_acl(
    gateway_username: str | None, bridge_username: str | None = None, *, devices: bool = True
) -> str:
    """The ACL file text: each device its own uplink and alarm topics (write) and downlink (read);
    the gateway (its alarm lane a login of its own) all of them."""
    lines = ["# Written by `eldercare broker-config`; regenerate rather than edit."]
    if devices:
        # Pattern lines rather than a `user <id>` block per device. They grant exactly the same:
        # %u is the username the broker authenticated against the password file, which lists only
        # registered devices (and the gateway), so no one else can log in to use them, and a
        # device cannot reach another's topics. The per-device form is not safer, only slower and
        # able to drift: Mosquitto 2.0 parses user blocks in quadratic time (25,585 devices: 3.6 s
        # of a broker that serves no one meanwhile, at start and at every SIGHUP reload after a
        # rotation; patterns: 0.06 s), looks the user up linearly on every CONNECT, and a stale
        # ACL would lock out a newly registered device.
        lines += [
            "# Every registered device: username = client id = device id (docs/protocol.md).",
            f"pattern write {UPLINK_PREFIX}%u",
            f"pattern write {ALARM_PREFIX}%u",
            f"pattern read {DOWNLINK_PREFIX}%u",
        ]
    if gateway_username is not None:
        _check_username(gateway_username)
        # Read is checked when a message is delivered, against the message's own topic, so the
        # gateway's `$share/<group>/eldercare/v1/up/#` subscriptions are covered by the plain topic.
        lines += [
            "",
            "# The gateway reads every uplink (also through $share/...) and writes every downlink.",
            "# Gateways keep their liveness on their status topics (gateway.broker.session).",
            f"user {gateway_username}",
            f"topic read {UPLINK_PREFIX}#",
            f"topic write {DOWNLINK_PREFIX}#",
            f"topic readwrite {STATUS_PREFIX}#",
            "",
            "# Its alarm lane (gateway.mqtt): the alarms, and their acks.",
            f"user {alarm_lane_username(gateway_username)}",
            f"topic read {ALARM_PREFIX}#",
            f"topic write {DOWNLINK_PREFIX}#",
        ]
    if bridge_username is not None:
        _check_username(bridge_username)
        # Edge brokers carry devices' uplinks in and take the downlinks out: the gateway's mirror.
        lines += [
            "",
            "# Edge brokers' bridges: they publish their devices' uplinks and alarms, read the",
            "# downlinks.",
            f"user {bridge_username}",
            f"topic write {UPLINK_PREFIX}#",
            f"topic write {ALARM_PREFIX}#",
            f"topic read {DOWNLINK_PREFIX}#",
        ]
    return "\n".join(lines) + "\n"


def edge_bridge_name(listener_port: int) -> str:
    """The bridge's client id on the core: unique per edge, or two edges on one port (on two
    hosts) would throw each other off the core in turn."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:40]
    return f"eldercare-edge-{host}-{listener_port}"


def mosquitto_bridge(bridge: BridgeLogin, edge_name: str) -> str:
    """The mosquitto.conf lines of an edge broker forwarding to the core (Mosquitto's own bridge).

    One Mosquitto holds at most ~19,900 connections here (20,000 open files a process), fewer than
    the street's 25,585 devices: edges carry the devices, the core carries the gateways.

    Two bridge connections: the devices' alarms go on one of their own (`<edge>-alarms`). A
    bridge is one client of the core and forwards in order, so on one connection an SOS waited
    behind every reading the edge had queued before it (the gateway's alarm lane, gateway.mqtt).
    """
    return "".join(
        _bridge_connection(bridge, name, topics)
        for name, topics in [
            (edge_name, [f"topic {UPLINK_PREFIX}# out 1", f"topic {DOWNLINK_PREFIX}# in 1"]),
            (f"{edge_name}-alarms", [f"topic {ALARM_PREFIX}# out 1"]),
        ]
    )


def _bridge_connection(bridge: BridgeLogin, name: str, topics: list[str]) -> str:
    return (
        "\n".join(
            [
                f"connection {name}",
                f"address {bridge.host}:{bridge.port}",
                f"remote_clientid {name}",
                f"remote_username {bridge.username}",
                f"remote_password {bridge.password}",
                # A persistent session on the core: downlinks queued while the bridge reconnects.
                "cleansession false",
                "bridge_protocol_version mqttv311",
                "try_private true",
                # The bridge's state notice is a retained message with a retained will, which the
                # core, keeping no retained message (retain_available false), would refuse.
                "notifications false",
                *topics,
            ]
        )
        + "\n"
    )


def mosquitto_conf(
    *,
    password_file: Path,
    acl_file: Path,
    listener_port: int,
    listener_host: str = "127.0.0.1",
    role: BrokerRole = BrokerRole.SINGLE,
    gateway_port: int | None = None,
    gateway_host: str = "127.0.0.1",
    persistence_dir: Path | None = None,
    pid_file: Path | None = None,
    broker_user: str | None = None,
) -> str:
    """The mosquitto.conf text: the listeners, no anonymous clients, the password and ACL files.

    Devices connect on `listener_port` (unless this is a core), where the client id is the login.
    Gateways connect on the core's `listener_port`, or on a single broker on `gateway_port`.
    """
    lines = [
        "# Written by `eldercare broker-config`; run: mosquitto -c <this file>",
        # One password file and ACL for every listener: Mosquitto 2.0.11 loses every last will
        # with per-listener settings (fixed in 2.0.13), and the devices' wills mark them offline.
        "per_listener_settings false",
    ]
    if broker_user is not None:
        # Started as root, Mosquitto switches to this user (default `mosquitto`) before it reads
        # the password file, which only the file's owner may read (mode 0600).
        lines.append(f"user {broker_user}")
    if pid_file is not None:
        # Where a rotation finds the broker to reload (`eldercare devices credentials --rotate`).
        lines.append(f"pid_file {pid_file}")
    lines.append(f"listener {listener_port} {listener_host}")
    if role is not BrokerRole.CORE:
        # The client id is the username, whatever the CONNECT says: a device cannot take another
        # device's session (throwing it off, its will recorded as a forged `offline`) nor a
        # gateway's (throwing the gateway off, and with a clean session wiping its queue).
        lines.append("use_username_as_clientid true")
    if gateway_port is not None and role is BrokerRole.SINGLE:
        lines += [
            "# The gateways: their own client ids, and dead peers' (gateway.broker.session).",
            f"listener {gateway_port} {gateway_host}",
        ]
    lines += [
        "allow_anonymous false",
        f"password_file {password_file}",
        f"acl_file {acl_file}",
        # The protocol retains nothing (a will is "not retained"): a message or a will with the
        # retain flag is refused (the client is disconnected) and nothing is ever kept for later.
        "retain_available false",
        # No packet beyond devices.protocol.MAX_PACKET_BYTES: the client is disconnected before
        # the broker holds it (it took 50 MB messages whole); smaller oversized messages reach
        # the gateway, which rejects them with a reason the device reads.
        f"max_packet_size {MAX_PACKET_BYTES}",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
        # Send each packet at once: with Nagle's algorithm an ack waits ~40 ms for the peer's
        # delayed ACK, a constant on every SOS (measured in bench/ingest).
        "set_tcp_nodelay true",
    ]
    if persistence_dir is None:
        lines.append("persistence false")
    else:
        lines += [
            "persistence true",
            f"persistence_location {persistence_dir}/",
            # Seconds, not a count of changes: the loss a crash can cause is bounded in time.
            "autosave_on_changes false",
            f"autosave_interval {AUTOSAVE_INTERVAL_S}",
        ]
    return "\n".join(lines) + "\n"


def _current_user() -> str | None:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a container's uid without a passwd entry: Mosquitto cannot switch anyway
        return None


def _write_atomically(path: Path, text: str, mode: int, *, owner: str | None = None) -> None:
    # A broker reloading on SIGHUP must never read a half-written file: write aside, then rename.
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(partial, mode)  # os.open's mode is masked by the umask
    if owner is not None:
        shutil.chown(partial, user=owner)
    os.replace(partial, path)


def write_mosquitto_config(
    out_dir: Path,
    devices: Iterable[tuple[str, str]],
    gateway_username: str,
    gateway_password: str,
    listener_port: int,
    *,
    listener_host: str = "127.0.0.1",
    gateway_port: int | None = None,
    gateway_host: str = "127.0.0.1",
    persistence: bool = True,
    broker_user: str | None = None,
    bridge_username: str | None = None,
    bridge_password: str | None = None,
    bridge_to: BridgeLogin | None = None,
) -> MosquittoFiles:
    """Write `passwords` (mode 0600), `acl` and `mosquitto.conf` for (device id, secret) pairs.

    A core broker admits the edges' bridge account (`bridge_username`, `bridge_password`) and the
    gateways, and no device; an edge broker forwards to the core (`bridge_to`) and admits only
    devices. A single broker admits both; its gateways get a listener of their own on
    `gateway_port` (without it, one gateway connects on `listener_port`, where its client id is
    its username). With `persistence` (the default) the broker keeps its sessions and queued
    messages in `out_dir`/mosquitto.db across a restart.
    """
    # The broker runs as `broker_user`, by default the user writing the files. Another user (only
    # root can choose one) is given the password file and, with persistence, the folder.
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = mosquitto_files(out_dir)
    if bridge_to is not None:
        role = BrokerRole.EDGE
    elif bridge_username is not None:
        role = BrokerRole.CORE
    else:
        role = BrokerRole.SINGLE
    devices = list(devices) if role is not BrokerRole.CORE else []
    service_logins = [gateway_username, alarm_lane_username(gateway_username)]
    if role is BrokerRole.CORE and bridge_username is not None:
        service_logins.append(bridge_username)
    for device_id, _ in devices:
        if device_id in service_logins:
            # A device under the gateway's (or the bridges') name would log in with its rights.
            raise ValueError(f"device {device_id!r} has the name of the gateway or bridge account")
    logins = list(devices)
    if role is not BrokerRole.EDGE:
        logins.append((gateway_username, gateway_password))
        logins.append((alarm_lane_username(gateway_username), gateway_password))
    if role is BrokerRole.CORE and bridge_username is not None:
        if bridge_password is None:
            raise ValueError("a core broker needs the bridge account's password")
        logins.append((bridge_username, bridge_password))
    writer = _current_user()
    new_owner = broker_user if broker_user is not None and broker_user != writer else None
    _write_atomically(files.passwords, mosquitto_password_file(logins), 0o600, owner=new_owner)
    if new_owner is not None and persistence:
        shutil.chown(out_dir, user=new_owner)
    acl = mosquitto_acl(
        gateway_username if role is not BrokerRole.EDGE else None,
        bridge_username if role is BrokerRole.CORE else None,
        devices=role is not BrokerRole.CORE,
    )
    _write_atomically(files.acl, acl, 0o644)
    _write_atomically(
        files.config,
        mosquitto_conf(
            password_file=files.passwords,
            acl_file=files.acl,
            listener_port=listener_port,
            listener_host=listener_host,
            role=role,
            gateway_port=gateway_port,
            gateway_host=gateway_host,
            persistence_dir=out_dir if persistence else None,
            pid_file=files.pid,
            broker_user=broker_user or writer,
        )
        + (mosquitto_bridge(bridge_to, edge_bridge_name(listener_port)) if bridge_to else ""),
        0o600 if bridge_to else 0o644,  # an edge's config holds the bridge's password
    )
    return files


class BrokerNotReloadedError(RuntimeError):
    """The new password file is written, but no running Mosquitto was told to read it."""


def replace_mosquitto_password(files: MosquittoFiles, username: str, password: str) -> None:
    """Give one login of an existing password file a new password, every other line kept as is.

    A rotation changes one device's secret; the file also holds the gateway's and the bridges'
    logins, stored only as hashes, which a rewrite from the database could not reproduce.
    """
    _check_username(username)
    lines = files.passwords.read_text(encoding="utf-8").splitlines(keepends=True)
    prefix = f"{username}:"
    entry = f"{username}:{mosquitto_password_hash(password)}\n"
    kept = [line for line in lines if not line.startswith(prefix)]
    if len(kept) == len(lines):
        raise KeyError(f"{username!r} is not in {files.passwords}")
    stat = files.passwords.stat()
    _write_atomically(files.passwords, "".join([*kept, entry]), stat.st_mode & 0o777)
    if stat.st_uid != os.geteuid():
        os.chown(files.passwords, stat.st_uid, stat.st_gid)


def reload_mosquitto(files: MosquittoFiles) -> int:
    """SIGHUP the Mosquitto running on these files; returns its pid.

    On a reload Mosquitto 2.0 reads the password file again and checks every connected client's
    username and password against it, disconnecting those that no longer pass: a device connected
    with a rotated secret is thrown off at once, and its next CONNECT with the old one refused.
    """
    try:
        pid = int(files.pid.read_text().strip())
    except (OSError, ValueError) as error:
        raise BrokerNotReloadedError(f"no running Mosquitto found by {files.pid}") from error
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as error:
        raise BrokerNotReloadedError(
            f"Mosquitto {pid} ({files.pid}) not signalled: {error}"
        ) from error
    return pid


def mosquitto_files(out_dir: Path) -> MosquittoFiles:
    """The files `write_mosquitto_config` wrote in `out_dir`."""
    out_dir = out_dir.resolve()
    return MosquittoFiles(
        config=out_dir / "mosquitto.conf",
        passwords=out_dir / "passwords",
        acl=out_dir / "acl",
        pid=out_dir / "mosquitto.pid",
    )
