"""NATS JetStream for ingest and events (`twinforge serve --events nats://...`).

PostgreSQL (or SQLite) stays the source of the twins' state; JetStream carries the device
messages as a replicated work queue (`NatsIngest`) and the committed events as a replicated
log (`EventRelay` publishes them from the store, `EventFeed` feeds each server's `/stream`).
`NatsCluster` starts ``nats-server`` nodes on loopback for tests and benchmarks.
"""

from twinforge.nats.attach import attach_nats
from twinforge.nats.cluster import NatsCluster, NatsNode, nats_server_binary
from twinforge.nats.link import (
    EVENTS_STREAM,
    INGEST_CONSUMER,
    INGEST_STREAM,
    NatsLink,
    parse_servers,
    subject_to_topic,
    topic_to_subject,
)

__all__ = ["EVENTS_STREAM", "INGEST_CONSUMER", "INGEST_STREAM", "NatsCluster", "NatsLink", "NatsNode",
           "attach_nats", "nats_server_binary", "parse_servers", "subject_to_topic", "topic_to_subject"]
