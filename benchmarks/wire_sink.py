"""twinforge's own MQTT client (ingest/wire.py) doing nothing with messages: what a subscriber
built on it takes here, beside the plain paho subscriber (mqtt_sink.py). Same options."""

from __future__ import annotations

import time

from mqtt_sink import Tally, arguments  # this script's folder is on sys.path
from twinforge.ingest.wire import Message, WireClient


def main() -> None:
    args = arguments()
    tally = Tally(args.expect)
    client = WireClient("127.0.0.1", args.port, "bench-wire-sink")

    def on_messages(messages: list[Message]) -> None:
        client.ack(messages)  # as paho does on its own
        tally.add(len(messages))

    def on_connect() -> None:
        client.subscribe(["twinforge/twins/+/properties"])
        time.sleep(0.2)  # the SUBACK is on its way
        open(args.ready, "w").close()

    client.on_messages = on_messages
    client.on_connect = on_connect
    client.start()
    tally.done.wait(600)
    client.stop()
    tally.report()


if __name__ == "__main__":
    main()
