"""Kafka producer for plays and dead letters (kafka-python).

Key = listener id, so every play of one listener lands on one partition and the
stream app keeps that listener's state in one place.

A send is asynchronous: ``sent`` counts the messages handed to the producer, and a
delivery Kafka refuses for good (retries spent, message too large) is counted as it
fails. ``flush`` and ``close`` raise :class:`DeliveryError` when any was lost, so a
replay that lost plays never reports them as sent.
"""

from __future__ import annotations

from types import TracebackType

from kafka import KafkaProducer

from cluster.settings import ClusterSettings
from models.dead_letter import DeadLetter
from models.events import PlayEvent


def bulk_producer(settings: ClusterSettings) -> KafkaProducer:
    """A kafka-python producer tuned for replaying plays in bulk: 20 ms linger, 512 KiB
    batches, retried until Kafka takes them (kafka-python 3 defaults: acks=all,
    idempotence). The ingest benchmark's ceiling uses the same one."""
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        retries=2**31 - 1,
        reconnect_backoff_max_ms=2000,
    )


class DeliveryError(RuntimeError):
    """Kafka did not take some messages; ``failed`` of them, ``first`` the first reason."""

    def __init__(self, failed: int, sent: int, first: BaseException) -> None:
        super().__init__(f"{failed} of {sent} messages were not delivered to Kafka; first error: {first!r}")
        self.failed = failed
        self.first = first


class PlayProducer:
    """Sends plays to `plays` and refusals to `plays-dlq`; use as a context manager."""

    def __init__(
        self, settings: ClusterSettings, *, topic: str | None = None, dlq_topic: str | None = None
    ) -> None:
        self.topic = topic or settings.plays_topic
        self.dlq_topic = dlq_topic or settings.dlq_topic
        self._producer = bulk_producer(settings)
        self.sent = 0
        self.dead = 0
        self.failed = 0
        self._first_error: BaseException | None = None

    def _lost(self, exc: BaseException) -> None:
        self.failed += 1
        if self._first_error is None:
            self._first_error = exc

    def _send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self._producer.send(topic, key=key, value=value).add_errback(self._lost)

    def send(self, play: PlayEvent) -> None:
        self._send(self.topic, play.user_id.encode("utf-8"), play.to_json())
        self.sent += 1

    def send_raw(self, key: bytes | None, value: bytes) -> None:
        """Send bytes as they are (benchmarks, hostile-input tests)."""
        self._send(self.topic, key, value)
        self.sent += 1

    def dead_letter(self, letter: DeadLetter) -> None:
        self._send(self.dlq_topic, None, letter.to_json())
        self.dead += 1

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every send; raise :class:`DeliveryError` if any was lost."""
        self._producer.flush(timeout=timeout)
        if self._first_error is not None:
            raise DeliveryError(self.failed, self.sent + self.dead, self._first_error)

    def close(self) -> None:
        try:
            self.flush()
        finally:
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
