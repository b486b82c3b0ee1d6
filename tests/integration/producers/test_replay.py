"""The whole bundled Last.fm file through real Kafka: what goes in comes back out."""

from __future__ import annotations

import uuid

import pytest

from cluster.settings import ClusterSettings
from cluster.topics import ensure_topics
from producers.publish import LASTFM, publish
from producers.readback import end_offsets, read_between

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_topic(cluster: ClusterSettings) -> ClusterSettings:
    """Cluster settings whose plays/DLQ topics are new and empty, 8 partitions."""
    run = uuid.uuid4().hex[:8]
    settings = cluster.model_copy(update={"plays_topic": f"plays-test-{run}", "dlq_topic": f"dlq-test-{run}"})
    ensure_topics(settings)
    return settings


def test_lastfm_replayed_at_max_speed_comes_back_whole(fresh_topic: ClusterSettings) -> None:
    before = end_offsets(fresh_topic, fresh_topic.plays_topic)
    assert len(before) == 8 and sum(before.values()) == 0

    stats, dead = publish(
        [LASTFM], settings=fresh_topic, speed=None, topic=fresh_topic.plays_topic, quiet=True
    )
    after = end_offsets(fresh_topic, fresh_topic.plays_topic)
    back = read_between(fresh_topic, fresh_topic.plays_topic, before, after)

    assert stats.sent == 129_310 and dead == 0
    assert back.messages == 129_310 and back.undecodable == 0
    assert sorted(back.event_ids) == sorted(stats.event_ids)
    assert len(set(stats.event_ids)) == 129_310
    # Keyed by listener: all 8 partitions carry plays.
    assert all(after[p] > 0 for p in range(8))


def test_rejected_rows_go_to_the_dead_letter_topic(fresh_topic: ClusterSettings, tmp_path) -> None:
    data = tmp_path / "plays.csv"
    data.write_text(
        "user_id,track_id,played_at,ms_played,track_name,artist_name\n"
        "ana,t1,2024-01-01T10:00:00Z,200000,One,A\n"
        "ana,t2,not-a-time,200000,Two,A\n"
        ",t3,2024-01-01T11:00:00Z,200000,Three,A\n"
        "bob,t1,2024-01-02T10:00:00Z,190000,One,A\n"
    )
    before = end_offsets(fresh_topic, fresh_topic.dlq_topic)
    stats, dead = publish([data], settings=fresh_topic, speed=None, topic=fresh_topic.plays_topic, quiet=True)
    assert (stats.sent, dead) == (2, 2)
    after = end_offsets(fresh_topic, fresh_topic.dlq_topic)
    assert sum(after.values()) - sum(before.values()) == 2


def test_a_delivery_kafka_refuses_fails_the_producer_naming_the_count(fresh_topic: ClusterSettings) -> None:
    """The broker refuses a message over the topic's size limit: the producer must say so
    when flushed, not report it among the sent."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    from producers.kafka_io import DeliveryError, PlayProducer

    admin = KafkaAdminClient(bootstrap_servers=fresh_topic.bootstrap_servers)
    try:
        limit = ConfigResource(
            ConfigResourceType.TOPIC, fresh_topic.plays_topic, configs={"max.message.bytes": "10000"}
        )
        admin.alter_configs([limit])
    finally:
        admin.close()
    before = end_offsets(fresh_topic, fresh_topic.plays_topic)
    producer = PlayProducer(fresh_topic, topic=fresh_topic.plays_topic)
    producer.send_raw(b"ana", b'{"fits": true}')
    producer.flush()  # one batch each (kafka-python splits a refused batch of two, racing its own flush)
    producer.send_raw(b"ana", b"x" * 50_000)
    with pytest.raises(DeliveryError, match="1 of 2 messages were not delivered") as refused:
        producer.close()
    assert refused.value.failed == 1
    after = end_offsets(fresh_topic, fresh_topic.plays_topic)
    assert sum(after.values()) - sum(before.values()) == 1
