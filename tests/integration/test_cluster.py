"""The local cluster, for real: a broker that stores and returns messages, Redis, topics,
idempotent `up`, stale pid files, and `down` sparing what it did not start."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis as redis_client
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import SecretStr

from cluster import Action, ClusterSettings, ClusterStatus, down, status, up
from cluster import process as proc
from cluster import redis as local_redis
from cluster.topics import list_topics, topic_config, topic_specs
from models.events import PlayEvent

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _side_settings(tmp_path: Path, password: str | None = None) -> ClusterSettings:
    """Same Kafka as the session's, but a second Redis on a free port under tmp_path."""
    return ClusterSettings(
        local_dir=tmp_path / "local",
        redis_port=_free_port(),
        redis_password=SecretStr(password) if password else None,
    )


def test_topics_exist_with_configured_partitions(cluster: ClusterSettings) -> None:
    topics = list_topics(cluster)
    assert topics[cluster.plays_topic] == cluster.plays_partitions == 8
    assert topics[cluster.examples_topic] == cluster.examples_partitions == 1  # one trainer
    assert topics[cluster.dlq_topic] >= 1
    for spec in topic_specs(cluster):
        assert topics.get(spec.name) == spec.partitions, spec
    assert topic_config(cluster, cluster.snapshots_topic).get("cleanup.policy") == "compact"


def test_play_round_trips_through_plays(cluster: ClusterSettings) -> None:
    """Produce two plays of one listener, read them back by partition and offset."""
    user = f"cluster-test-{uuid.uuid4().hex[:12]}"
    plays = [
        PlayEvent(
            user_id=user,
            track_id=f"t:cluster-test-{i}",
            played_at=datetime(2024, 1, 1, 12, i, tzinfo=UTC),
            ms_played=180_000,
            source="cluster-test",
        )
        for i in range(2)
    ]
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, acks="all")
    try:
        sent = [
            producer.send(cluster.plays_topic, key=user.encode(), value=p.to_json()).get(timeout=30)
            for p in plays
        ]
    finally:
        producer.close()
    # Same key, same partition: the per-listener ordering the stream app relies on.
    assert sent[0].partition == sent[1].partition
    assert 0 <= sent[0].partition < cluster.plays_partitions
    assert sent[1].offset == sent[0].offset + 1

    tp = TopicPartition(cluster.plays_topic, sent[0].partition)
    consumer = KafkaConsumer(
        bootstrap_servers=cluster.bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    got: list[PlayEvent] = []
    try:
        consumer.assign([tp])
        consumer.seek(tp, sent[0].offset)
        deadline = time.monotonic() + 30
        while len(got) < 2 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(
                    PlayEvent.from_json(r.value) for r in records if r.key == user.encode()
                )
    finally:
        consumer.close()
    assert [p.event_id for p in got[:2]] == [p.event_id for p in plays]


def test_up_twice_is_idempotent(cluster: ClusterSettings, cluster_status: ClusterStatus) -> None:
    again = up(cluster)
    assert again.started == []
    assert again.kafka.action is Action.REUSED and again.redis.action is Action.REUSED
    assert again.kafka.pid == cluster_status.kafka.pid is not None
    assert again.redis.pid == cluster_status.redis.pid is not None
    # Other tests add topics of their own meanwhile: compare the project's topics.
    ours = [spec.name for spec in topic_specs(cluster)]
    assert {t: again.topics[t] for t in ours} == {t: cluster_status.topics[t] for t in ours}
    assert all(outcome == "existed" for outcome in again.topic_outcomes.values())
    now = status(cluster)
    assert now.kafka.up and now.redis.up
    assert (now.kafka.pid, now.redis.pid) == (again.kafka.pid, again.redis.pid)


def test_redis_answers(cluster: ClusterSettings) -> None:
    client = redis_client.Redis.from_url(cluster.redis_url, password=cluster.redis_password_value())
    key = f"{cluster.redis_prefix}test:{uuid.uuid4().hex}"
    try:
        assert client.ping() is True
        client.set(key, "ok", ex=60)
        assert client.get(key) == b"ok"
    finally:
        client.delete(key)
        client.close()


def test_second_redis_with_password(cluster: ClusterSettings, tmp_path: Path) -> None:
    password = "pw-" + secrets.token_urlsafe(16)
    side = _side_settings(tmp_path, password)
    started = up(side)
    try:
        assert started.redis.action is Action.STARTED
        # The session's Kafka answered on the same ports: reused, not ours to stop here.
        assert started.kafka.action is Action.REUSED and not started.kafka.managed
        pid = started.redis.pid
        assert pid is not None and proc.is_alive(pid)

        assert local_redis.ping(side)
        assert not local_redis.open_without_password(side)
        assert not any("WARNING" in note for note in started.redis.notes)
        with pytest.raises(local_redis.RedisAuthError):
            local_redis.ping(side.model_copy(update={"redis_password": None}))
        with pytest.raises(local_redis.RedisAuthError):
            local_redis.ping(side.model_copy(update={"redis_password": SecretStr("wrong")}))

        paths = local_redis.RedisPaths.of(side)
        assert stat.S_IMODE(paths.config.stat().st_mode) == 0o600
        assert password not in proc.cmdline(pid)
        assert password not in paths.log.read_text()
        assert password not in repr(status(side))
    finally:
        stopped = down(side)
    by_name = {s.name: s for s in stopped}
    assert by_name["redis"].action is Action.STOPPED
    assert by_name["kafka"].action is Action.LEFT_RUNNING
    proc.wait_until(lambda: not proc.is_alive(pid), 10, f"exit of redis {pid}")
    assert not local_redis.RedisPaths.of(side).pid.exists()
    assert status(cluster).kafka.up, "down() of a side cluster must not touch the session's Kafka"


def test_up_replaces_stale_pid_file_and_down_spares_foreign_pid(
    cluster: ClusterSettings, tmp_path: Path
) -> None:
    side = _side_settings(tmp_path)
    paths = local_redis.RedisPaths.of(side)
    first = up(side)
    try:
        old = first.redis.pid
        assert first.redis.action is Action.STARTED and old is not None
        os.kill(old, signal.SIGKILL)  # dies without cleaning up: its pid file stays
        proc.wait_until(lambda: not proc.is_alive(old), 10, f"exit of killed redis {old}")
        assert proc.read_pid(paths.pid) == old

        second = up(side)
        assert second.redis.action is Action.STARTED
        assert second.redis.pid not in (None, old)
        assert any("stale pid file" in note for note in second.redis.notes)
        assert proc.read_pid(paths.pid) == second.redis.pid
    finally:
        down(side, services=["redis"])

    # A pid file naming a live process that is not ours (pid reuse) must not get it killed.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc.write_pid(paths.pid, bystander.pid)
        (result,) = down(side, services=["redis"])
        assert result.action is Action.NOT_RUNNING
        assert any("stale pid file" in note for note in result.notes)
        assert bystander.poll() is None, "down() signalled a process it did not start"
        assert not paths.pid.exists()
    finally:
        bystander.kill()
        bystander.wait(timeout=10)
