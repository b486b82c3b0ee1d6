"""Where the poller puts plays (Kafka) and where it remembers how far it got (Redis).

The order is the whole point: plays are produced and *acknowledged* by Kafka before
the cursor moves. A crash in between repeats at most one batch (same event ids, so
consumers can count it once); it never skips one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import redis
from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata

from cluster.settings import ClusterSettings
from models.events import PlayEvent


class PlaySink(Protocol):
    def publish(self, plays: Sequence[PlayEvent]) -> None:
        """Send and wait until every play is acknowledged; raise if any is not."""
        ...

    def close(self) -> None: ...


class CursorStore(Protocol):
    def get(self, listener: str) -> int | None: ...

    def set(self, listener: str, after_ms: int) -> None: ...


class KafkaPlaySink:
    """kafka-python producer: key = user_id, value = ``PlayEvent.to_json()``, acks=all."""

    def __init__(
        self,
        cluster: ClusterSettings,
        *,
        topic: str | None = None,
        timeout_s: float = 30.0,
        producer: KafkaProducer | None = None,
    ) -> None:
        self.topic = topic or cluster.plays_topic
        self.timeout_s = timeout_s
        self._producer = producer or KafkaProducer(
            bootstrap_servers=cluster.bootstrap_servers,
            acks="all",
            linger_ms=5,
            retries=5,
            request_timeout_ms=int(timeout_s * 1000),
        )
        self.sent = 0

    def publish(self, plays: Sequence[PlayEvent]) -> None:
        futures: list[FutureRecordMetadata] = [
            self._producer.send(self.topic, key=p.user_id.encode("utf-8"), value=p.to_json())
            for p in plays
        ]
        self._producer.flush(timeout=self.timeout_s)
        for future in futures:
            future.get(timeout=self.timeout_s)  # raises the send's error, if any
        self.sent += len(futures)

    def close(self) -> None:
        self._producer.close(timeout=self.timeout_s)


class RedisCursorStore:
    """``{prefix}poll-cursor:{listener}`` = milliseconds of the newest produced play."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, listener: str) -> str:
        return f"{self.prefix}poll-cursor:{listener}"

    def get(self, listener: str) -> int | None:
        raw = self.client.get(self.key(listener))
        return None if raw is None else int(raw)

    def set(self, listener: str, after_ms: int) -> None:
        self.client.set(self.key(listener), str(after_ms))


def redis_client(cluster: ClusterSettings) -> redis.Redis:
    return redis.Redis.from_url(
        cluster.redis_url,
        password=cluster.redis_password_value(),
        socket_timeout=10,
        socket_connect_timeout=5,
    )
