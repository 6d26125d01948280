"""The broker socket as paho reads it: many packets a receive, one receive a readable event."""

from __future__ import annotations

import socket

import pytest

from gateway.mqtt import BufferedSocket


def test_the_buffered_socket_serves_small_reads_from_one_receive_in_order() -> None:
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    buffered = BufferedSocket(ours)
    with ours, broker:
        with pytest.raises(BlockingIOError):
            buffered.recv(1)  # nothing yet: paho is told to wait for the next readable event
        broker.sendall(b"\x30\x05hello\x30\x02")
        assert buffered.recv(1) == b"\x30"
        assert buffered.pending() == 8  # the rest came in the same receive
        assert [buffered.recv(1), buffered.recv(5), buffered.recv(1)] == [
            b"\x05",
            b"hello",
            b"\x30",
        ]
        assert buffered.recv(10) == b"\x02"  # never more than is buffered, never past it
        broker.sendall(b"ok")
        with pytest.raises(BlockingIOError):
            buffered.recv(2)  # one read a readable event, though the socket holds more
        assert buffered.pending() == 0  # aiomqtt's reader stops here; the next event reads on
        assert buffered.recv(2) == b"ok"
        assert buffered.fileno() == ours.fileno()  # everything else is the socket's own
        broker.close()
        assert buffered.pending() == 0
        assert buffered.recv(1) == b""  # the broker closed the connection
