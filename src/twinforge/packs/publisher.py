"""The device side of the demos: a thread that publishes over MQTT as real devices would."""

from __future__ import annotations

import threading
from typing import Any


class DevicePublisher:
    """Runs `publish(client)` on a thread of its own with a connected paho client (reconnecting
    with back-off); `stop()` sets ``self._stop`` and waits for the thread."""

    client_id = "twinforge-demo"
    join_seconds = 5.0

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name=self.client_id, daemon=True)
        thread.start()  # shown once started: a close() from elsewhere never joins an unstarted thread
        self._thread = thread

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.join_seconds)

    def publish(self, client: Any) -> None:
        """Publish until ``self._stop`` is set."""
        raise NotImplementedError

    def _run(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from twinforge.ingest.mqtt import BrokerAddress

        address = BrokerAddress.parse(self.url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        client.reconnect_delay_set(1, 10)
        client.connect_async(address.host, address.port)
        client.loop_start()
        try:
            self.publish(client)
        finally:
            client.loop_stop()
            client.disconnect()


__all__ = ["DevicePublisher"]
