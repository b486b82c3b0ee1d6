"""The project's topics, created with explicit partition counts through kafka-python's admin.

``TopicCommand`` is not in ``kafka_2.13`` 3.9 (it lives in ``kafka-tools``), so the
project creates its topics itself. Creating is idempotent: an existing topic is fine,
and one with fewer partitions than configured is grown (Kafka cannot shrink one).

>>> [(t.name, t.partitions) for t in topic_specs(ClusterSettings())]
[('plays', 8), ('plays-dlq', 1), ('examples', 1), ('model-snapshots', 1)]
>>> topic_specs(ClusterSettings())[-1].configs
{'cleanup.policy': 'compact', 'max.message.bytes': '16777216'}
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cluster.settings import ClusterSettings

if TYPE_CHECKING:
    from kafka.admin import KafkaAdminClient

#: Kafka error code of CreateTopics for a topic that is already there.
TOPIC_ALREADY_EXISTS = 36

#: Largest model snapshot message (the broker's default limit is 1 MB; a signed learner
#: with a month of examples waiting for their horizon is larger). Equal to the stream
#: app's producer ``max_request_size``.
SNAPSHOT_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


class TopicOutcome(StrEnum):
    CREATED = "created"
    EXISTED = "existed"
    GROWN = "grown"
    #: Exists with more partitions than configured; left alone (cannot shrink).
    MORE_PARTITIONS = "more partitions than configured"


def topic_specs(settings: ClusterSettings) -> list[TopicSpec]:
    """The topics `encore cluster up` guarantees, with their partition counts."""
    return [
        TopicSpec(settings.plays_topic, settings.plays_partitions),
        TopicSpec(settings.dlq_topic, settings.dlq_partitions),
        # One partition by default: the trainer is a single consumer that learns in one order.
        TopicSpec(settings.examples_topic, settings.examples_partitions),
        TopicSpec(
            settings.snapshots_topic,
            1,
            {"cleanup.policy": "compact", "max.message.bytes": str(SNAPSHOT_MAX_BYTES)},
        ),
    ]


@contextlib.contextmanager
def admin_client(settings: ClusterSettings, timeout: float = 10.0) -> Iterator[KafkaAdminClient]:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="encore-cluster-admin",
        bootstrap_timeout_ms=int(timeout * 1000),
        request_timeout_ms=int(timeout * 1000),
    )
    try:
        yield admin
    finally:
        admin.close()


def _partition_counts(admin: KafkaAdminClient, names: list[str] | None) -> dict[str, int]:
    described: list[dict[str, Any]] = admin.describe_topics(names)
    return {
        t["name"]: len(t.get("partitions") or [])
        for t in described
        if t.get("error_code", 0) == 0 and t.get("name")
    }


def ensure_topics(settings: ClusterSettings, timeout: float = 30.0) -> dict[str, TopicOutcome]:
    """Create the project's topics (existing ones are fine); wait until all have leaders."""
    from kafka.errors import for_code

    specs = topic_specs(settings)
    outcomes: dict[str, TopicOutcome] = {}
    with admin_client(settings) as admin:
        result = admin.create_topics(
            {
                s.name: {"num_partitions": s.partitions, "replication_factor": 1, "configs": s.configs}
                for s in specs
            },
            timeout_ms=int(timeout * 1000),
            raise_errors=False,
        )
        for topic in result["topics"]:
            code = topic["error_code"]
            if code == 0:
                outcomes[topic["name"]] = TopicOutcome.CREATED
            elif code == TOPIC_ALREADY_EXISTS:
                outcomes[topic["name"]] = TopicOutcome.EXISTED
            else:
                message = topic.get("error_message") or for_code(code).__name__
                raise RuntimeError(f"could not create topic {topic['name']!r}: {message}")
        names = [s.name for s in specs]
        admin.wait_for_topics(names, timeout_ms=int(timeout * 1000))
        counts = _partition_counts(admin, names)
        grow = {
            s.name: s.partitions
            for s in specs
            if outcomes.get(s.name) == TopicOutcome.EXISTED and counts.get(s.name, 0) < s.partitions
        }
        for s in specs:
            if counts.get(s.name, 0) > s.partitions:
                outcomes[s.name] = TopicOutcome.MORE_PARTITIONS
        if grow:
            admin.create_partitions({name: {"count": n} for name, n in grow.items()})
            admin.wait_for_topics(list(grow), timeout_ms=int(timeout * 1000))
            outcomes.update(dict.fromkeys(grow, TopicOutcome.GROWN))
    return outcomes


def wait_for_kafka(settings: ClusterSettings, timeout: float) -> None:
    """Poll until the Kafka at ``bootstrap_servers`` answers a metadata request."""
    from cluster.process import wait_until

    def answers() -> bool:
        try:
            with admin_client(settings, timeout=3.0) as admin:
                return bool(admin.describe_cluster().get("brokers"))
        except Exception:
            return False

    wait_until(answers, timeout, f"Kafka at {settings.bootstrap_servers}", interval=1.0)


def list_topics(settings: ClusterSettings, *, internal: bool = False) -> dict[str, int]:
    """Every topic on the broker with its partition count, sorted by name.

    Kafka's own topics (``__consumer_offsets``...) only with ``internal=True``.
    """
    with admin_client(settings) as admin:
        counts = _partition_counts(admin, None)
    return {
        name: counts[name]
        for name in sorted(counts)
        if internal or not name.startswith("__")
    }


def topic_config(settings: ClusterSettings, topic: str) -> dict[str, str]:
    """The non-default configuration of ``topic`` (e.g. ``cleanup.policy``)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    with admin_client(settings) as admin:
        result = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    return _flatten_configs(result, topic)


def _flatten_configs(result: Any, topic: str) -> dict[str, str]:
    # kafka-python 3.x: {resource_type: {resource_name: {key: {value: ..., ...}}}}
    found: dict[str, str] = {}
    if isinstance(result, dict):
        for by_name in result.values():
            entries = by_name.get(topic, {}) if isinstance(by_name, dict) else {}
            for key, data in entries.items():
                value = data.get("value") if isinstance(data, dict) else data
                if value is not None:
                    found[key] = str(value)
    return found
