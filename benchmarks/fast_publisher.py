"""A fast MQTT publisher for `bench ingest`, run in its own process.

Writes pre-encoded MQTT 3.1.1 PUBLISH packets (QoS 1) straight to a socket and counts the
broker's PUBACKs in a second thread: no client library in the way, so one process
publishes well past what a Python subscriber can take. Same messages as
mqtt_publisher.py: ``{"lastValue": <wall-clock send time>}`` per twin, or arrays of
``--batch`` records on twinforge/updates; ``--rate`` paces updates per second. Prints one
JSON line: messages, updates, seconds, rate (updates/s), acknowledged.
"""

from __future__ import annotations

import json
import socket
import threading
import time

from mqtt_publisher import arguments, pace  # this script's folder is on sys.path
from twinforge.ingest.wire import remaining_length, utf8_string

WINDOW = 30_000  # messages awaiting their PUBACK at most (packet ids wrap at 65,535)


def connect_packet(client_id: str) -> bytes:
    body = utf8_string("MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big") + utf8_string(client_id)
    return b"\x10" + remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = utf8_string(topic) + packet_id.to_bytes(2, "big") + payload
    return b"\x32" + remaining_length(len(body)) + body


def main() -> None:
    args = arguments().parse_args()  # the same options as mqtt_publisher.py

    sock = socket.create_connection(("127.0.0.1", args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(f"bench-fast-{time.time_ns()}"))
    connack = sock.recv(4)
    if len(connack) < 4 or connack[0] != 0x20 or connack[3] != 0:
        raise SystemExit(f"the broker refused the connection: {connack!r}")
    acked = 0
    done = threading.Event()

    def read_acks() -> None:
        nonlocal acked
        pending = b""
        while not done.is_set():
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            pending += data
            whole = len(pending) // 4  # PUBACKs are 4 bytes each
            acked += whole
            pending = pending[whole * 4:]

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    start = time.perf_counter()
    sent_updates = messages = 0
    i = 0
    chunk = max(1, min(500, int(args.rate * 0.002) if args.rate else 500))  # messages per write
    while sent_updates < args.updates:
        while messages - acked > WINDOW:
            time.sleep(0.0005)
        pace(start, sent_updates, args.rate)
        now = time.time()
        packets = []
        for _ in range(chunk):
            if sent_updates >= args.updates:
                break
            messages += 1
            packet_id = (messages - 1) % 65535 + 1
            if args.batch == 1:
                payload = b'{"lastValue":%r}' % now
                packets.append(publish_packet(f"twinforge/twins/t{i % args.twins}/properties", payload, packet_id))
                i += 1
                sent_updates += 1
            else:
                records = [{"twin": f"t{(i + k) % args.twins}", "properties": {"lastValue": now}}
                           for k in range(args.batch)]
                packets.append(publish_packet("twinforge/updates", json.dumps(records).encode(), packet_id))
                i += args.batch
                sent_updates += args.batch
        sock.sendall(b"".join(packets))
    sent_at = time.perf_counter()
    while acked < messages and time.perf_counter() - start < 600:
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    done.set()
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    print(json.dumps({"messages": messages, "updates": sent_updates, "seconds": elapsed,
                      "send_seconds": sent_at - start, "rate": sent_updates / elapsed, "acked": acked}))


if __name__ == "__main__":
    main()
