"""Kafka producer for plays and dead letters (kafka-python).

Key = listener id, so every play of one listener lands on one partition and the
stream app keeps that listener's state in one place.
"""

from __future__ import annotations

from types import TracebackType

from kafka import KafkaProducer

from cluster.settings import ClusterSettings
from models.dead_letter import DeadLetter
from models.events import PlayEvent


class PlayProducer:
    """Sends plays to `plays` and refusals to `plays-dlq`; use as a context manager."""

    def __init__(
        self, settings: ClusterSettings, *, topic: str | None = None, dlq_topic: str | None = None
    ) -> None:
        self.topic = topic or settings.plays_topic
        self.dlq_topic = dlq_topic or settings.dlq_topic
        self._producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            linger_ms=20,
            batch_size=512 * 1024,
            max_request_size=4 * 1024 * 1024,
            retries=2**31 - 1,
            reconnect_backoff_max_ms=2000,
        )
        self.sent = 0
        self.dead = 0

    def send(self, play: PlayEvent) -> None:
        self._producer.send(self.topic, key=play.user_id.encode("utf-8"), value=play.to_json())
        self.sent += 1

    def send_raw(self, key: bytes | None, value: bytes) -> None:
        """Send bytes as they are (benchmarks, hostile-input tests)."""
        self._producer.send(self.topic, key=key, value=value)
        self.sent += 1

    def dead_letter(self, letter: DeadLetter) -> None:
        self._producer.send(self.dlq_topic, value=letter.to_json())
        self.dead += 1

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()

    def __enter__(self) -> PlayProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
