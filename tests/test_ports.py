"""free_port: a bindable loopback port outside the kernel's ephemeral range."""

from __future__ import annotations

import socket

from twinforge.ports import _ephemeral_range, free_port


def test_free_port_is_bindable_and_not_ephemeral() -> None:
    low, high = _ephemeral_range()
    ports = {free_port() for _ in range(50)}
    for port in ports:
        assert not low <= port <= high
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    assert len(ports) > 40  # drawn at random, so two servers started together rarely collide


def test_a_port_in_use_is_not_returned() -> None:
    taken = []
    for _ in range(20):
        s = socket.socket()
        port = free_port()
        s.bind(("127.0.0.1", port))
        s.listen()
        taken.append(s)
    try:
        in_use = {s.getsockname()[1] for s in taken}
        assert all(free_port() not in in_use for _ in range(500))
    finally:
        for s in taken:
            s.close()
