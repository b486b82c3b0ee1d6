"""The trainer's own `examples` reader against a real broker."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from cluster.settings import ClusterSettings
from cluster.topics import ensure_topics
from models.features import FEATURE_NAMES
from models.labels import Example
from stream_app.examples_wire import ExampleMessage, encode_examples
from stream_app.trainer import Trainer
from stream_app.trainer_loop import TrainingLoop, trainer_group

pytestmark = pytest.mark.integration

DAY = 86_400.0


def examples(n: int, *, start: int = 0) -> list[bytes]:
    msgs = []
    for i in range(start, start + n):
        x = {name: float((i + j) % 5) for j, name in enumerate(FEATURE_NAMES)}
        ex = Example(f"u{i % 7}", f"t{i % 11}", f"e{i}", i * 3600.0, x, i % 2 == 0, i * 3600.0 + 1)
        msgs.append(ExampleMessage(example=ex, p=None, model_version=None, watermark=i * 3600.0))
    return encode_examples(msgs)


@pytest.fixture
def topic(cluster: ClusterSettings) -> ClusterSettings:
    run = uuid.uuid4().hex[:8]
    settings = cluster.model_copy(update={"examples_topic": f"examples-test-{run}"})
    ensure_topics(settings)
    return settings


def send(settings: ClusterSettings, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, max_request_size=16 * 2**20)
    for v in values:
        producer.send(settings.examples_topic, v, partition=0)
    producer.flush()
    producer.close()


def committed(settings: ClusterSettings, group: str) -> int | None:
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=group)
    try:
        return consumer.committed(TopicPartition(settings.examples_topic, 0))
    finally:
        consumer.close()


async def read_until(settings: ClusterSettings, trainer: Trainer, group: str, taken: int) -> list[int]:
    """Run a loop until ``trainer`` has taken ``taken`` examples and the group has
    committed its offset; returns the ``taken`` seen at each snapshot published."""
    published: list[int] = []

    async def publish(t: Trainer) -> None:
        published.append(t.taken)

    loop = TrainingLoop(
        trainer, bootstrap_servers=settings.bootstrap_servers, topic=settings.examples_topic,
        group_id=group, max_message_bytes=16 * 2**20, after_take=lambda t: None,
        snapshot_due=lambda t: t.taken > (published[-1] if published else 0), publish=publish,
    )  # fmt: skip
    await loop.start()
    deadline = time.monotonic() + 60
    try:
        while trainer.taken < taken or committed(settings, group) != trainer.next_offset:
            assert loop.failed is None, loop.failed
            assert time.monotonic() < deadline, f"taken {trainer.taken} of {taken}"
            await asyncio.sleep(0.1)
        assert loop.lag == 0
    finally:
        await loop.stop()
    return published


def test_reads_every_example_commits_and_the_next_trainer_goes_on_from_there(topic: ClusterSettings) -> None:
    group = trainer_group(f"test-{uuid.uuid4().hex[:8]}")
    send(topic, examples(400))  # two messages of 200
    first = Trainer(horizon_s=30 * DAY)
    published = asyncio.run(read_until(topic, first, group, 400))
    assert (first.taken, first.next_offset, first.duplicates) == (400, 2, 0)
    assert published and published[-1] == 400
    assert committed(topic, group) == 2

    # A trainer with no resume point starts where the group committed: only the new ones.
    send(topic, examples(200, start=400))
    second = Trainer(horizon_s=30 * DAY)
    asyncio.run(read_until(topic, second, group, 200))
    assert (second.taken, second.next_offset) == (200, 3)

    # A resumed trainer reads from its snapshot's offset, whatever the group says: the
    # examples after it were learnt by a model that is gone, so they are read again.
    resumed = Trainer(horizon_s=30 * DAY)
    resumed.next_offset = 1
    asyncio.run(read_until(topic, resumed, group, 400))
    assert (resumed.taken, resumed.next_offset) == (400, 3)
