"""twinforge's own MQTT client (ingest/wire.py) doing nothing with messages: what a subscriber
built on it takes here, beside the plain paho subscriber (mqtt_sink.py). Same options."""

from __future__ import annotations

import argparse
import json
import threading
import time

from twinforge.ingest.wire import Message, WireClient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--ready", required=True, help="a file created once subscribed")
    args = parser.parse_args()
    done = threading.Event()
    count = 0
    first = last = 0.0
    client = WireClient("127.0.0.1", args.port, "bench-wire-sink")

    def on_messages(messages: list[Message]) -> None:
        nonlocal count, first, last
        if count == 0:
            first = time.perf_counter()
        count += len(messages)
        last = time.perf_counter()
        client.ack(messages)  # as paho does on its own
        if count >= args.expect:
            done.set()

    def on_connect() -> None:
        client.subscribe(["twinforge/twins/+/properties"])
        time.sleep(0.2)  # the SUBACK is on its way
        open(args.ready, "w").close()

    client.on_messages = on_messages
    client.on_connect = on_connect
    client.start()
    done.wait(600)
    client.stop()
    elapsed = max(last - first, 1e-9)
    print(json.dumps({"messages": count, "seconds": elapsed, "rate": count / elapsed}))


if __name__ == "__main__":
    main()
