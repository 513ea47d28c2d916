"""One NATS connection per server, and the two JetStream streams twinforge keeps there.

- ``TWINFORGE_INGEST``: the device messages, on the subjects the mapping's MQTT topics
  become. Every server pulls from one durable consumer (``twinforge-ingest``), a work queue:
  each message goes to one server; a message that server does not acknowledge (it died, its
  store failed) is delivered again, to whichever server pulls next. The stream keeps messages
  for a day (limits retention, not work-queue retention): JetStream rebuilds its duplicate
  window from the messages it holds when a new leader takes over, so a publisher's retry
  with the same ``Nats-Msg-Id`` is dropped even across a leader change (with work-queue
  retention the acknowledged messages are gone, and the retry was stored twice).
- ``TWINFORGE_EVENTS`` (limits retention, a duplicate window): the committed events, relayed
  in order from the store's event log; every server's ``/stream`` is fed from it.

Both are replicated on up to three nodes of the cluster (``--events-replicas``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from twinforge.errors import InvalidArgument, MissingDependency

log = logging.getLogger("twinforge.nats")
INGEST_STREAM = "TWINFORGE_INGEST"
INGEST_CONSUMER = "twinforge-ingest"
EVENTS_STREAM = "TWINFORGE_EVENTS"
EVENTS_SUBJECT = "twinforge.events"  # + ".<type>", e.g. twinforge.events.Twin.Update


def _nats() -> Any:
    try:
        import nats
    except ImportError:  # pragma: no cover - nats-py is in the [nats] extra
        raise MissingDependency("--events nats:// needs nats-py: pip install 'twinforge[nats]'") from None
    return nats


def parse_servers(url: str) -> list[str]:
    """``nats://a:4222,b:4222`` or ``nats://a:4222,nats://b:4222`` as a list of server URLs."""
    out: list[str] = []
    for part in url.split(","):
        part = part.strip()
        if not part:
            continue
        if "://" not in part:
            part = "nats://" + part
        parts = urlsplit(part)
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise InvalidArgument(f"'{part}' is not a NATS URL like nats://host:4222 (several: comma-separated)",
                                  code="InvalidArgument")
        try:
            port = parts.port or 4222
        except ValueError:
            raise InvalidArgument(f"'{part}' has a bad port", code="InvalidArgument") from None
        out.append(f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1].split(':')[0]}:{port}"
                   if not parts.username else f"{parts.scheme}://{parts.netloc}")
    if not out:
        raise InvalidArgument("--events needs at least one NATS server URL", code="InvalidArgument")
    return out


def topic_to_subject(topic: str) -> str:
    """An MQTT topic (or filter) as NATS's MQTT listener names it: ``/`` becomes ``.``, a ``.``
    in a level becomes ``//``, ``+`` becomes ``*`` and ``#`` becomes ``>``."""
    levels = topic.split("/")
    return ".".join({"+": "*", "#": ">"}.get(level, level.replace(".", "//")) for level in levels)


def subject_to_topic(subject: str) -> str:
    """The MQTT topic a NATS subject stands for (the inverse of `topic_to_subject`)."""
    return "/".join(token.replace("//", ".") for token in subject.replace("//", "\0").split(".")).replace("\0", ".")


def _covers(wide: str, narrow: str) -> bool:
    """Whether NATS subject filter ``wide`` matches every subject ``narrow`` matches."""
    a, b = wide.split("."), narrow.split(".")
    for i, token in enumerate(a):
        if token == ">":
            return len(b) > i
        if i >= len(b) or (token != "*" and token != b[i]) or (token == "*" and b[i] == ">"):
            return False
    return len(a) == len(b)


def stream_subjects(filters: list[str]) -> list[str]:
    """The NATS subjects for these MQTT topic filters, none covered by another (a stream refuses
    overlapping subjects)."""
    subjects = sorted({topic_to_subject(f) for f in filters})
    kept = [s for s in subjects if not any(o != s and _covers(o, s) for o in subjects)]
    for s in kept:
        if _covers(s, EVENTS_SUBJECT + ".x"):
            raise InvalidArgument(f"the MQTT topic filter that becomes '{s}' would also take the event stream's "
                                  f"subjects ({EVENTS_SUBJECT}.>); use a narrower topic", code="InvalidArgument")
    return kept


class NatsLink:
    """The server's connection to NATS; `connect()` on the event loop, then `ensure_streams()`."""

    def __init__(self, url: str, *, replicas: int | None = None, events_max_age: float = 7 * 24 * 3600.0,
                 ingest_max_age: float = 24 * 3600.0) -> None:
        self.servers = parse_servers(url)
        self.replicas = replicas
        self.events_max_age = events_max_age
        self.ingest_max_age = ingest_max_age
        self.nc: Any = None
        self.js: Any = None
        self.connected = False
        self.last_error = ""
        self.reconnects = 0

    async def connect(self, connect_timeout: float = 5.0) -> None:
        nats = _nats()

        async def disconnected() -> None:
            self.connected = False
            self.last_error = "disconnected from NATS; reconnecting"

        async def reconnected() -> None:
            self.connected = True
            self.reconnects += 1
            self.last_error = ""

        async def error(exc: Exception) -> None:
            self.last_error = f"{type(exc).__name__}: {exc}"

        try:
            # (the client retries for ever once it has been connected; the first connect is bounded)
            self.nc = await asyncio.wait_for(
                nats.connect(servers=self.servers, connect_timeout=2, max_reconnect_attempts=-1,
                             reconnect_time_wait=0.5, allow_reconnect=True, disconnected_cb=disconnected,
                             reconnected_cb=reconnected, error_cb=error, name="twinforge"), connect_timeout)
        except Exception as exc:
            raise InvalidArgument(f"cannot reach NATS at {', '.join(self.servers)}: {type(exc).__name__}: {exc}",
                                  code="InvalidArgument") from exc
        self.js = self.nc.jetstream(timeout=10)
        self.connected = True

    def replica_count(self) -> int:
        if self.replicas is not None:
            return self.replicas
        known = len(getattr(self.nc, "servers", []) or []) or len(self.servers)
        return max(1, min(3, known))

    async def _stream(self, config: Any) -> None:
        from nats.js.errors import BadRequestError, NotFoundError

        try:
            info = await self.js.stream_info(config.name)
        except NotFoundError:
            try:
                await self.js.add_stream(config)
            except BadRequestError as exc:
                raise InvalidArgument(f"NATS refused stream {config.name}: {exc.description}",
                                      code="InvalidArgument") from exc
            return
        if sorted(info.config.subjects or []) != sorted(config.subjects or []):
            # The mapping changed: the stream takes the new subjects (kept messages stay).
            config.num_replicas = info.config.num_replicas
            await self.js.update_stream(config)

    async def ensure_streams(self, ingest_subjects: list[str]) -> None:
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig

        replicas = self.replica_count()
        await self._stream(StreamConfig(name=INGEST_STREAM, subjects=ingest_subjects,
                                        retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
                                        num_replicas=replicas, max_age=self.ingest_max_age,
                                        duplicate_window=120.0))
        await self._stream(StreamConfig(name=EVENTS_STREAM, subjects=[EVENTS_SUBJECT + ".>"],
                                        retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
                                        num_replicas=replicas, max_age=self.events_max_age,
                                        duplicate_window=120.0))

    async def close(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()
            with contextlib.suppress(Exception):
                await self.nc.close()
        self.connected = False
