"""Helpers shared by the poller's integration and fault tests (real Kafka + Redis)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaTimeoutError

from cluster.settings import ClusterSettings
from models.events import PlayEvent, make_event_id, track_key
from producers.spotify.sinks import redis_client
from tests.fakes.spotify_server import ScriptedPlay

PARTITIONS = 4


class MemorySink:
    """Records published batches; can be told to fail the next publishes like Kafka would."""

    def __init__(self) -> None:
        self.batches: list[list[PlayEvent]] = []
        self.fail_next = 0
        self.closed = False

    def publish(self, plays: Sequence[PlayEvent]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise KafkaTimeoutError("scripted: broker did not acknowledge")
        self.batches.append(list(plays))

    def close(self) -> None:
        self.closed = True

    @property
    def plays(self) -> list[PlayEvent]:
        return [p for batch in self.batches for p in batch]


def expected_ids(user: str, plays: list[ScriptedPlay]) -> list[str]:
    """Event ids computed from the script alone, not through the poller's mapping."""
    return [make_event_id(user, track_key(p.artist, p.name), p.played_at) for p in plays]


@contextmanager
def isolated_cluster(cluster: ClusterSettings, label: str) -> Iterator[ClusterSettings]:
    """The running cluster with a topic and a Redis prefix of the caller's own, removed after."""
    run = f"{label}-{uuid.uuid4().hex[:10]}"
    settings = cluster.model_copy(update={"plays_topic": run, "redis_prefix": f"{run}:"})
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    admin.create_topics([NewTopic(settings.plays_topic, PARTITIONS, 1)])
    client = redis_client(settings)
    try:
        yield settings
    finally:
        admin.delete_topics([settings.plays_topic])
        admin.close()
        keys = list(client.scan_iter(match=settings.redis_prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def read_topic(settings: ClusterSettings, deadline_s: float = 60.0) -> list[tuple[bytes, PlayEvent]]:
    """Every message of the topic up to its end offsets (call after all producers flushed)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
    )
    try:
        parts = [TopicPartition(settings.plays_topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: list[tuple[bytes, PlayEvent]] = []
        deadline = time.monotonic() + deadline_s
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(out)} messages; topic end not reached in time")
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend((m.key, PlayEvent.from_json(m.value)) for m in batch)
        return out
    finally:
        consumer.close()


def wait_for(condition: Callable[[], bool], deadline_s: float, what: str) -> float:
    """Poll ``condition`` until true; return the seconds it took, or fail saying ``what``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > deadline_s:
            raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
