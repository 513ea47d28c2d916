"""A plain paho subscriber that does nothing with messages: the raw ceiling for `bench ingest`."""

from __future__ import annotations

import argparse
import json
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--ready", required=True, help="a file created once subscribed")
    args = parser.parse_args()
    done = threading.Event()
    count = 0
    first = last = 0.0

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal count, first, last
        if count == 0:
            first = time.perf_counter()
        count += 1
        last = time.perf_counter()
        if count >= args.expect:
            done.set()

    def on_connect(client: mqtt.Client, *rest: object) -> None:
        client.subscribe("twinforge/twins/+/properties", qos=1)

    def on_subscribe(*rest: object) -> None:
        open(args.ready, "w").close()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-sink", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    done.wait(600)
    client.loop_stop()
    elapsed = max(last - first, 1e-9)
    print(json.dumps({"messages": count, "seconds": elapsed, "rate": count / elapsed}))


if __name__ == "__main__":
    main()
