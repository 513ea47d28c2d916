"""twinforge's own MQTT client (ingest/wire.py) doing nothing with messages: what a subscriber
built on it takes here, beside the plain paho subscriber (mqtt_sink.py). Same options."""

from __future__ import annotations

from mqtt_sink import Tally, arguments  # this script's folder is on sys.path
from twinforge.ingest.wire import Message, WireClient


def main() -> None:
    args = arguments()
    tally = Tally(args.expect)
    client = WireClient("127.0.0.1", args.port, "bench-wire-sink")

    def on_messages(messages: list[Message]) -> None:
        client.ack(messages)  # as paho does on its own
        tally.add(len(messages))

    def start() -> None:
        client.start()
        if not client.subscribed.wait(30):  # the broker routes to us once it has sent the SUBACK
            raise SystemExit("wire_sink: no SUBACK from the broker in 30 s")
        open(args.ready, "w").close()

    client.on_messages = on_messages
    client.on_connect = lambda: client.subscribe(["twinforge/twins/+/properties"])
    tally.follow(start, client.stop)


if __name__ == "__main__":
    main()
