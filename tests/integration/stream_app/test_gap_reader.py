"""The plays agent's own reader of skipped offsets, against a real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from faust.types import TP
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

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


def test_reads_exactly_the_range_asked_and_the_groups_committed_offsets(
    cluster: ClusterSettings, topic: str
) -> None:
    group = f"gaps-group-{uuid.uuid4().hex[:8]}"
    reader = GapReader(bootstrap_servers=cluster.bootstrap_servers, group_id=group, max_message_bytes=1 << 20)

    async def scenario() -> tuple[list[tuple[int, bytes | None]], dict[TP, int], dict[TP, int]]:
        try:
            got = await reader.read(TP(topic, 1), 5, 12)
            fresh = await reader.committed([TP(topic, 0), TP(topic, 1)])
            # Another member of the group commits: the reader sees it, and never moves it.
            member = KafkaConsumer(bootstrap_servers=cluster.bootstrap_servers, group_id=group,
                                   enable_auto_commit=False)  # fmt: skip
            member.commit({TopicPartition(topic, 1): OffsetAndMetadata(7, "", -1)})
            member.close()
            later = await reader.committed([TP(topic, 1)])
            return [(m.offset, m.value) for m in got], fresh, later
        finally:
            await reader.stop()

    got, fresh, later = asyncio.run(scenario())
    assert got == [(i, b"play %d" % i) for i in range(5, 12)]
    assert fresh == {TP(topic, 0): 0, TP(topic, 1): 0}
    assert later == {TP(topic, 1): 7}
