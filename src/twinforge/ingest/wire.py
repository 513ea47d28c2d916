"""A lean MQTT client (3.1.1 and 5) for the ingest path.

paho-mqtt spends about 90 µs of Python per received message (three socket reads, a
message object, MQTT 5 property objects, a lock per callback): that alone took most of a
core at 11,000 messages/s, in the process that also writes the store and feeds `/stream`.
This client reads what the socket has in one call (up to 256 KiB), cuts every whole
packet out of it in one loop, and hands them on as one list; acknowledgements for a
stored batch go out in one write. It does what the ingest connector needs and no more:

- CONNECT with a persistent session (MQTT 5: session expiry, receive maximum; 3.1.1: clean
  session off), user name and password, a will (QoS 1), TLS through an `ssl.SSLContext`;
- SUBSCRIBE at QoS 1; PUBLISH received at QoS 0, 1 or 2, acknowledged when the caller says;
- PUBLISH sent at QoS 0 or 1 (QoS 1 ones not yet acknowledged are sent again, flagged DUP,
  after a reconnect); keep-alive pings; reconnection with a doubling delay (1 s to 30 s).

One thread per connection does all the socket I/O (reads, and writes queued by other
threads): a TLS connection is never read and written at once. An acknowledgement is only
sent on the connection the message came on: after a reconnect the broker numbers its
messages anew, and an old number could acknowledge a different message. The broker sends
those again instead (they were stored already: a redelivery is the same history point when
it carries a source time).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

log = logging.getLogger("twinforge.mqtt.wire")

READ_SIZE = 262_144


class Message(NamedTuple):
    topic: str
    payload: bytes
    mid: int  # packet id (0 at QoS 0)
    qos: int
    generation: int  # which connection it came on: acknowledgements go only to that one


class Refused(ConnectionError):
    """The broker answered CONNECT with a failure reason."""


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer (a packet's remaining length, a properties length)."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8_string(text: str | bytes) -> bytes:
    """A length-prefixed string (or binary data) as MQTT encodes it."""
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + remaining_length(len(body)) + body


def connect_packet(client_id: str, *, mqtt5: bool, keepalive: int, username: str | None, password: str | None,
                   will: tuple[str, bytes] | None, session_expiry: int, receive_maximum: int) -> bytes:
    flags = 0  # MQTT 5: clean start off; 3.1.1: clean session off (a persistent session)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    if will is not None:
        flags |= 0x04 | (1 << 3)  # a will at QoS 1, not retained
    body = utf8_string("MQTT") + bytes([5 if mqtt5 else 4, flags]) + keepalive.to_bytes(2, "big")
    if mqtt5:
        props = b"\x11" + session_expiry.to_bytes(4, "big") + b"\x21" + receive_maximum.to_bytes(2, "big")
        body += remaining_length(len(props)) + props
    body += utf8_string(client_id)
    if will is not None:
        body += (b"\x00" if mqtt5 else b"") + utf8_string(will[0]) + utf8_string(will[1])
    if username is not None:
        body += utf8_string(username)
    if password is not None:
        body += utf8_string(password)
    return _packet(0x10, body)


CONNACK_REASONS = {1: "unacceptable protocol version", 2: "client identifier rejected", 3: "server unavailable",
                   4: "bad user name or password", 5: "not authorized", 0x80: "unspecified error",
                   0x81: "malformed packet", 0x84: "unsupported protocol version", 0x85: "client identifier not valid",
                   0x86: "bad user name or password", 0x87: "not authorized", 0x88: "server unavailable",
                   0x89: "server busy", 0x8A: "banned", 0x8C: "bad authentication method"}


class WireClient:
    """One MQTT connection, kept up by a thread of its own. Callbacks run on that thread:
    ``on_connect()`` after each accepted CONNECT (subscribe there), ``on_messages(list)`` for
    every read's worth of PUBLISH packets, ``on_disconnect(reason)`` and ``on_connect_fail(reason)``."""

    def __init__(self, host: str, port: int, client_id: str, *, mqtt5: bool = True,
                 tls: ssl.SSLContext | None = None, username: str | None = None, password: str | None = None,
                 keepalive: int = 30, session_expiry: int = 7 * 24 * 3600, receive_maximum: int = 1000,
                 will: tuple[str, bytes] | None = None, reconnect: bool = True,
                 min_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self.host, self.port, self.client_id, self.mqtt5 = host, port, client_id, mqtt5
        self.tls, self.username, self.password = tls, username, password
        self.keepalive, self.session_expiry, self.receive_maximum = keepalive, session_expiry, receive_maximum
        self.will, self.reconnect = will, reconnect
        self.min_delay, self.max_delay = min_delay, max_delay
        self.on_connect: Callable[[], None] = lambda: None
        self.on_messages: Callable[[list[Message]], None] = lambda messages: None
        self.on_disconnect: Callable[[str], None] = lambda reason: None
        self.on_connect_fail: Callable[[str], None] = lambda reason: None
        self.connected = threading.Event()
        # Set once the broker has acknowledged the subscriptions on_connect made: before that,
        # a message published to a new session is acknowledged to its publisher and dropped.
        self.subscribed = threading.Event()
        self.generation = 0
        self.subscribe_failures: list[str] = []
        self._sock: socket.socket | None = None
        self._out: list[bytes] = []  # packets waiting for the I/O thread
        self._out_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_mid = 0
        self._unacked: dict[int, bytes] = {}  # our QoS 1 publishes awaiting PUBACK
        self._acked: dict[int, threading.Event] = {}
        self._subscriptions: dict[int, list[str]] = {}

    # -- the caller's side --------------------------------------------------------

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name=f"twinforge-mqtt-{self.client_id}", daemon=True)
        thread.start()  # shown once started: a close() from elsewhere never joins an unstarted thread
        self._thread = thread

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (the broker keeps the session, and drops the will)."""
        self._stop.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._wake_r.close()
        self._wake_w.close()

    def subscribe(self, topics: Sequence[str]) -> None:
        mid = self._mid()
        self._subscriptions[mid] = list(topics)
        body = mid.to_bytes(2, "big") + (b"\x00" if self.mqtt5 else b"")
        body += b"".join(utf8_string(topic) + b"\x01" for topic in topics)
        self._send([_packet(0x82, body)])

    def ack(self, messages: Iterable[Message]) -> None:
        """Acknowledge messages received on the current connection (QoS 1: PUBACK; QoS 2: PUBREC)."""
        generation = self.generation
        packets = [(b"\x40\x02" if m.qos == 1 else b"\x50\x02") + m.mid.to_bytes(2, "big")
                   for m in messages if m.qos and m.generation == generation]
        if packets:
            self._send([b"".join(packets)])

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> threading.Event:
        """Queue a PUBLISH; the returned event is set once the broker has it (at QoS 0: once queued)."""
        if not self.connected.is_set():
            raise ConnectionError(f"not connected to the MQTT broker {self.host}:{self.port}")
        done = threading.Event()
        props = b"\x00" if self.mqtt5 else b""
        if qos == 0:
            self._send([_packet(0x30, utf8_string(topic) + props + payload)])
            done.set()
            return done
        mid = self._mid()
        packet = _packet(0x32, utf8_string(topic) + mid.to_bytes(2, "big") + props + payload)
        with self._out_lock:
            self._unacked[mid] = packet
            self._acked[mid] = done
        self._send([packet])
        return done

    # -- internals ---------------------------------------------------------------

    def _mid(self) -> int:
        with self._out_lock:
            for _ in range(65535):
                self._next_mid = self._next_mid % 65535 + 1
                if self._next_mid not in self._unacked and self._next_mid not in self._subscriptions:
                    return self._next_mid
        raise ConnectionError("no free MQTT packet id: 65,535 publishes await their acknowledgement")

    def _send(self, packets: list[bytes]) -> None:
        with self._out_lock:
            wake = not self._out
            self._out.extend(packets)
        if wake:
            self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # already awake (a full pipe), or closed
            self._wake_w.send(b"x")

    def _run(self) -> None:
        delay = self.min_delay
        while not self._stop.is_set():
            try:
                sock, rest = self._connect()
            except (OSError, ConnectionError) as exc:
                self.on_connect_fail(str(exc) or type(exc).__name__)
                if not self.reconnect:
                    return
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            delay = self.min_delay
            reason = "stopped"
            try:
                self._serve(sock, rest)
            except (OSError, ConnectionError, ValueError, IndexError) as exc:
                reason = str(exc) or type(exc).__name__
            finally:
                self.connected.clear()
                self.subscribed.clear()
                self._sock = None
                with contextlib.suppress(OSError):
                    sock.close()
            if self._stop.is_set():
                return
            self.on_disconnect(reason)
            if not self.reconnect:
                return
            self._stop.wait(self.min_delay)

    def _connect(self) -> tuple[socket.socket, bytes]:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            sock.sendall(connect_packet(self.client_id, mqtt5=self.mqtt5, keepalive=self.keepalive,
                                        username=self.username, password=self.password, will=self.will,
                                        session_expiry=self.session_expiry, receive_maximum=self.receive_maximum))
            data = b""
            while True:
                chunk = sock.recv(READ_SIZE)
                if not chunk:
                    raise ConnectionError("the broker closed the connection before CONNACK")
                data += chunk
                parsed = _split(data, 0)
                if parsed is not None:
                    break
            first, start, end = parsed
            if first >> 4 != 2:
                raise ConnectionError(f"expected CONNACK, got packet type {first >> 4}")
            code = data[start + 1]
            if code:
                raise Refused(f"connection refused by the broker: {CONNACK_REASONS.get(code, f'reason {code}')}")
            return sock, data[end:]
        except BaseException:
            sock.close()
            raise

    def _serve(self, sock: socket.socket, rest: bytes) -> None:
        self._sock = sock
        self.generation += 1
        with self._out_lock:  # packets queued for the last connection are void, except our publishes
            self._out = [bytes([p[0] | 0x08]) + p[1:] for _, p in sorted(self._unacked.items())]
        self.subscribed.clear()
        self._subscriptions.clear()  # SUBACKs the last connection still owed will not come
        self.connected.set()
        self.on_connect()
        if not self._subscriptions:
            self.subscribed.set()
        buffer, last_out = rest, time.monotonic()
        ping_sent = 0.0
        if buffer:
            buffer = self._parse(buffer)
        while not self._stop.is_set():
            with self._out_lock:
                out, self._out = self._out, []
            if out:
                sock.sendall(b"".join(out))
                last_out = time.monotonic()
            pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
            if pending:
                readable = [sock]
            else:
                readable, _, _ = select.select([sock, self._wake_r], [], [], 1.0)
            if self._wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            now = time.monotonic()
            if sock in readable:
                try:
                    data = sock.recv(READ_SIZE)
                except ssl.SSLWantReadError:
                    data = None
                if data is not None:
                    if not data:
                        raise ConnectionError("the broker closed the connection")
                    ping_sent = 0.0
                    buffer = self._parse(buffer + data if buffer else data)
            if ping_sent and now - ping_sent > self.keepalive:
                raise ConnectionError(f"no answer from the broker for {self.keepalive} s")
            if not ping_sent and now - last_out >= self.keepalive / 2:
                sock.sendall(b"\xc0\x00")
                last_out = ping_sent = now
        with self._out_lock:
            out, self._out = self._out, []
        with contextlib.suppress(OSError):  # last acknowledgements, then a clean DISCONNECT (the broker
            sock.sendall(b"".join(out) + b"\xe0\x00")  # keeps the session and drops the will)

    def _parse(self, data: bytes) -> bytes:
        """Handle every whole packet in ``data``; returns what is left (a packet's beginning)."""
        messages: list[Message] = []
        replies: list[bytes] = []
        pos, size, generation, mqtt5 = 0, len(data), self.generation, self.mqtt5
        while pos < size:
            parsed = _split(data, pos)
            if parsed is None:
                break
            first, start, end = parsed
            kind = first >> 4
            if kind == 3:  # PUBLISH
                qos = (first >> 1) & 3
                length = (data[start] << 8) | data[start + 1]
                at = start + 2 + length
                topic = data[start + 2:at].decode("utf-8", "replace")
                mid = 0
                if qos:
                    mid = (data[at] << 8) | data[at + 1]
                    at += 2
                if mqtt5:  # skip the properties (we allow no topic aliases, so none matter here)
                    if data[at] < 128:
                        at += 1 + data[at]
                    else:
                        props, at = _varint_at(data, at)
                        at += props
                messages.append(Message(topic, data[at:end], mid, qos, generation))
            elif kind == 4:  # PUBACK of one of our publishes
                mid = (data[start] << 8) | data[start + 1]
                with self._out_lock:
                    self._unacked.pop(mid, None)
                    done = self._acked.pop(mid, None)
                if done is not None:
                    done.set()
            elif kind == 6:  # PUBREL (QoS 2): complete it
                replies.append(b"\x70\x02" + data[start:start + 2])
            elif kind == 9:  # SUBACK
                mid = (data[start] << 8) | data[start + 1]
                topics = self._subscriptions.pop(mid, [])
                if not self._subscriptions:
                    self.subscribed.set()
                at = start + 2
                if mqtt5:
                    props, at = _varint_at(data, at)
                    at += props
                for topic, code in zip(topics, data[at:end], strict=False):
                    if code >= 0x80:
                        self.subscribe_failures.append(f"{topic}: refused (reason {code})")
                        log.warning("MQTT subscription to %s refused by the broker (reason %d)", topic, code)
            elif kind == 14:  # DISCONNECT from the broker (MQTT 5)
                code = data[start] if end > start else 0
                raise ConnectionError(f"the broker disconnected us (reason {code})")
            pos = end
        if replies:
            self._send(replies)
        if messages:
            self.on_messages(messages)
        return data[pos:]


def _varint_at(data: bytes, at: int) -> tuple[int, int]:
    value, mult = 0, 1
    while True:
        byte = data[at]
        at += 1
        value += (byte & 127) * mult
        mult *= 128
        if not byte & 128:
            return value, at


def _split(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(first byte, where the packet's body starts, where it ends), or None while incomplete."""
    size = len(data)
    if pos + 2 > size:
        return None
    length, mult, at = 0, 1, pos + 1
    while True:
        if at >= size:
            return None
        byte = data[at]
        at += 1
        length += (byte & 127) * mult
        mult *= 128
        if not byte & 128:
            break
        if mult > 128 ** 4:
            raise ValueError("malformed MQTT packet length")
    if at + length > size:
        return None
    return data[pos], at, at + length


__all__ = ["Message", "Refused", "WireClient", "connect_packet", "remaining_length", "utf8_string"]
