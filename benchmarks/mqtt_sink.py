"""A plain paho subscriber that does nothing with messages: the raw ceiling for `bench ingest`."""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def arguments() -> argparse.Namespace:
    """The options every sink takes (wire_sink.py too)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--ready", required=True, help="a file created once subscribed")
    return parser.parse_args()


class Tally:
    """Messages counted from the first to the last; ``done`` once ``expect`` came."""

    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.count = 0
        self.first = self.last = 0.0
        self.done = threading.Event()

    def add(self, n: int = 1) -> None:
        if self.count == 0:
            self.first = time.perf_counter()
        self.count += n
        self.last = time.perf_counter()
        if self.count >= self.expect:
            self.done.set()

    def follow(self, start: Callable[[], None], stop: Callable[[], None]) -> None:
        """Start a sink's client, count until ``expect`` messages came (ten minutes at most),
        stop it and print the report."""
        start()
        self.done.wait(600)
        stop()
        self.report()

    def report(self) -> None:
        """One JSON line: messages, seconds, rate."""
        elapsed = max(self.last - self.first, 1e-9)
        print(json.dumps({"messages": self.count, "seconds": elapsed, "rate": self.count / elapsed}))


def main() -> None:
    args = arguments()
    tally = Tally(args.expect)

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        tally.add()

    def on_connect(client: mqtt.Client, *rest: object) -> None:
        client.subscribe("twinforge/twins/+/properties", qos=1)

    def on_subscribe(*rest: object) -> None:
        open(args.ready, "w").close()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-sink", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.connect("127.0.0.1", args.port)
    tally.follow(client.loop_start, client.loop_stop)


if __name__ == "__main__":
    main()
