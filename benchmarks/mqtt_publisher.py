"""An MQTT publisher for `bench ingest`, run in its own process.

Publishes property updates ``{"lastValue": <wall-clock send time>}`` for twins t0..tN-1,
one per message or a JSON array of ``--batch`` records per message on twinforge/updates,
as fast as it can or at a fixed ``--rate`` of updates per second. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def arguments() -> argparse.ArgumentParser:
    """The options every bench publisher takes (fast_publisher.py uses them too)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--twins", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0, help="updates per second; 0: as fast as possible")
    return parser


def pace(start: float, sent: int, rate: float) -> None:
    """Sleep until ``sent`` updates are due at ``rate`` per second since ``start`` (0: no pacing)."""
    if rate:
        delay = start + sent / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


def main() -> None:
    parser = arguments()
    parser.add_argument("--topic-prefix", default="twinforge/twins")
    parser.add_argument("--qos", type=int, default=1)
    args = parser.parse_args()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{time.time_ns()}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client.on_publish = on_publish
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    start = time.perf_counter()
    sent_updates = 0
    messages = 0
    i = 0
    while sent_updates < args.updates:
        # paho numbers messages 1..65535: never let that many wait for their acknowledgement.
        while messages - acked > 20_000:
            time.sleep(0.001)
        pace(start, sent_updates, args.rate)
        if args.batch == 1:
            payload = json.dumps({"lastValue": time.time()})
            client.publish(f"{args.topic_prefix}/t{i % args.twins}/properties", payload, qos=args.qos)
            i += 1
            sent_updates += 1
        else:
            now = time.time()
            records = [{"twin": f"t{(i + k) % args.twins}", "properties": {"lastValue": now}}
                       for k in range(args.batch)]
            client.publish("twinforge/updates", json.dumps(records), qos=args.qos)
            i += args.batch
            sent_updates += args.batch
        messages += 1
    while acked < messages and time.perf_counter() - start < 600:
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    print(json.dumps({"messages": messages, "updates": sent_updates, "seconds": elapsed,
                      "acked": acked, "rate_messages": messages / elapsed}))


if __name__ == "__main__":
    main()
