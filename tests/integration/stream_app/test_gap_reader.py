"""The plays agent's own reader of skipped offsets, against a real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from faust.types import TP
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from cluster.settings import ClusterSettings
from stream_app.offsets import GapReader

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(cluster: ClusterSettings) -> str:
    name = f"gaps-test-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    try:
        admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers)
    for i in range(20):
        producer.send(name, value=b"play %d" % i, partition=1)
    producer.flush()
    producer.close()
    return name


def test_reads_exactly_the_range_asked_and_refuses_once_stopped(cluster: ClusterSettings, topic: str) -> None:
    reader = GapReader(bootstrap_servers=cluster.bootstrap_servers, max_message_bytes=1 << 20)

    async def scenario() -> tuple[list[tuple[int, bytes | None]], list[int]]:
        try:
            got = await reader.read(TP(topic, 1), 5, 12)
            # Past the end of what was read before, and back again: each read is its own.
            again = await reader.read(TP(topic, 1), 0, 3)
            return [(m.offset, m.value) for m in got], [m.offset for m in again]
        finally:
            await reader.stop()

    got, again = asyncio.run(scenario())
    assert got == [(i, b"play %d" % i) for i in range(5, 12)]
    assert again == [0, 1, 2]
    with pytest.raises(RuntimeError, match="stopped"):
        asyncio.run(reader.read(TP(topic, 1), 0, 1))
