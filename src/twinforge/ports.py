"""Free loopback ports for servers started by tests, benchmarks and the private PostgreSQL cluster."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` now.

    It is drawn below the kernel's ephemeral range: a port the kernel hands out (``bind`` to
    port 0) can be handed out again, between our check and the server's bind, to any outgoing
    connection opened meanwhile, and a busy test run opens thousands.
    """
    low, _ = _ephemeral_range()
    if low > 11_000:
        for _ in range(200):
            port = random.randint(10_000, low - 1)
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind((host, 0))
        found: int = s.getsockname()[1]
        return found


__all__ = ["free_port"]
