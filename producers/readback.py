"""Read back what a producer wrote: the plays between two offset marks of a topic.

Used by `encore demo` and the tests to prove that what went in came back out, same
count, same event ids.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition

from cluster.settings import ClusterSettings

Offsets = dict[int, int]


def end_offsets(settings: ClusterSettings, topic: str) -> Offsets:
    """Current end offset of every partition of ``topic``."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


@dataclass(kw_only=True)
class Readback:
    """Messages read between two offset marks."""

    messages: int = 0
    seconds: float = 0.0
    event_ids: list[str] = field(default_factory=list, repr=False)
    undecodable: int = 0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def read_between(
    settings: ClusterSettings,
    topic: str,
    start: Offsets,
    stop: Offsets,
    *,
    timeout_s: float = 120.0,
    on_read: Callable[[int], object] | None = None,
) -> Readback:
    """Consume ``topic`` from ``start`` up to ``stop`` (exclusive) on every partition."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    result = Readback()
    began = time.monotonic()
    try:
        pending = {p: end for p, end in stop.items() if end > start.get(p, 0)}
        tps = {p: TopicPartition(topic, p) for p in pending}
        consumer.assign(list(tps.values()))
        for p, tp in tps.items():
            consumer.seek(tp, start.get(p, 0))
        deadline = began + timeout_s
        while pending:
            if time.monotonic() > deadline:
                missing = {p: stop[p] for p in pending}
                raise TimeoutError(f"read back of {topic} stalled before offsets {missing}")
            batches = consumer.poll(timeout_ms=500, max_records=50_000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= stop[tp.partition]:
                        continue
                    result.messages += 1
                    try:
                        result.event_ids.append(json.loads(record.value)["event_id"])
                    except (ValueError, KeyError, TypeError):
                        result.undecodable += 1
                if consumer.position(tp) >= stop[tp.partition]:
                    pending.pop(tp.partition, None)
            if on_read is not None:
                on_read(result.messages)
    finally:
        consumer.close()
    result.seconds = time.monotonic() - began
    return result
