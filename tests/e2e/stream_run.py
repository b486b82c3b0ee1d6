"""One real run of the stream path for the e2e tests, and the offline path beside it.

:func:`run_stream` does what a user's `encore demo` does, on a slice of the bundled
Last.fm file, in a namespace of its own (topics, consumer group, Redis prefix): two
``encore worker`` processes, the slice replayed into Kafka in event-time order with
hostile messages mixed in, the stream drained, and then everything a test needs to
judge the run read back from Kafka and Redis (resolved examples, dead letters,
published model versions, every listener's recommendations). The workers are
stopped and the run's Redis keys deleted before the tests look at the result.

The replay has two phases split in event time. The first is long enough (more
than the 30-day horizon) for the trainer to learn and publish a signed snapshot;
the run then waits until every worker has loaded one, and the second phase makes
every listener of the slice play again, so each is scored with a trained model.

:func:`offline_run` is ``encore evaluate``'s path over the same plays
(:class:`~models.processor.PlayProcessor` over the plays in event-time order, then
``finish()``), keeping every example and every counted play's features.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from cluster.process import wait_until
from cluster.settings import ClusterSettings
from cluster.topics import admin_client, ensure_topics
from models.dead_letter import DeadLetter
from models.events import PlayEvent, event_time_order
from models.features import FeatureRow, ListenerState
from models.labels import Example
from models.parsers import parse_paths
from models.processor import PlayProcessor
from models.settings import ModelSettings
from producers.kafka_io import PlayProducer
from producers.publish import LASTFM
from producers.readback import end_offsets
from producers.replay import replay
from stream_app.examples_wire import ExampleMessage, decode_examples
from stream_app.fleet import Fleet, RunNamespace, Totals, wait_drained, wait_for_workers
from stream_app.recs_store import RecsNotFoundError, RecsReader, RecsWriter, StoredRecs, async_client
from stream_app.settings import StreamSettings

DAY = 86_400.0

#: The slice of the bundled file: days since its first play. [START, SPLIT) is the
#: first phase (over 30 days, so labels resolve, the trainer learns and a snapshot is
#: published), [SPLIT, END) the second. Only listeners who play in the second phase
#: are kept (all of their plays in the slice), so every listener seen is scored again
#: once the workers have a trained model. About 26k plays of 186 listeners.
SLICE_START_DAY = 270
SLICE_SPLIT_DAY = 310
SLICE_END_DAY = 330


# --------------------------------------------------------------------------- the slice


@dataclass(frozen=True)
class Slice:
    """The plays of both phases, each in event-time order."""

    first: list[PlayEvent]
    second: list[PlayEvent]

    @property
    def plays(self) -> list[PlayEvent]:
        return self.first + self.second

    @property
    def listeners(self) -> set[str]:
        return {p.user_id for p in self.plays}


def lastfm_slice(
    path: Path = LASTFM,
    *,
    start_day: float = SLICE_START_DAY,
    split_day: float = SLICE_SPLIT_DAY,
    end_day: float = SLICE_END_DAY,
) -> Slice:
    """The Last.fm slice (parsed by the same parser `encore replay` uses)."""
    if not path.exists():  # the shared data is part of the checkout's contract: fail, never skip
        raise FileNotFoundError(f"the bundled Last.fm file is missing: {path}")
    report = parse_paths([path])
    plays = event_time_order(report.events)
    origin = plays[0].ts
    start, split, end = (origin + d * DAY for d in (start_day, split_day, end_day))
    second_users = {p.user_id for p in plays if split <= p.ts < end}
    kept = [p for p in plays if start <= p.ts < end and p.user_id in second_users]
    return Slice(first=[p for p in kept if p.ts < split], second=[p for p in kept if p.ts >= split])


def partition_of(user_id: str, partitions: int) -> int:
    """The `plays` partition of a listener (kafka-python's default partitioner, keyed)."""
    return (murmur2(user_id.encode("utf-8")) & 0x7FFFFFFF) % partitions


# --------------------------------------------------------------------------- hostile input


def hostile_messages() -> list[tuple[bytes | None, bytes]]:
    """(key, value) of messages no worker may take as a play; every value is distinct.

    Schema errors, impossible times, garbage bytes and an oversized message; some keyed
    like a real listener (so they land among that listener's plays), some unkeyed.
    """

    def play(user: str, track: str, played_at: str, **extra: object) -> bytes:
        return json.dumps({"user_id": user, "track_id": track, "played_at": played_at, **extra}).encode()

    day = "2009-10-15T12:00:00Z"
    return [
        (None, b"{not json at all"),
        (b"100", b"\xff\xfe\xfd binary garbage \x00\x01"),
        (None, b""),
        (None, b"[1, 2, 3]"),
        (b"e2e-bad-1", play("", "t-empty-user", day)),
        (b"e2e-bad-2", play("e2e-bad-2", "t-future", "3000-01-01T00:00:00Z")),
        (b"e2e-bad-3", play("e2e-bad-3", "t-ancient", "1970-01-01T00:00:00Z")),
        (b"e2e-bad-4", play("e2e-bad-4", "t-naive-time", "2009-10-15T12:00:00")),
        (b"e2e-bad-5", b'{"user_id": "e2e-bad-5"}'),
        (b"e2e-bad-6", play("e2e-bad-6", "t-negative-ms", day, ms_played=-5)),
        (b"e2e-bad-7", play("e2e-bad-7", "t-oversized", day, pad="x" * 70 * 1024)),
    ]


def expected_raw(value: bytes) -> str:
    """What a dead letter keeps of ``value`` (:meth:`DeadLetter.for_raw`)."""
    return DeadLetter.for_raw(value, reason="-", origin="-").raw or ""


# --------------------------------------------------------------------------- Kafka reads


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def read_topic(settings: ClusterSettings, topic: str, *, timeout: float = 60.0) -> list[Record]:
    """Every message of ``topic`` from the beginning up to its current end offsets."""
    stop = end_offsets(settings, topic)
    pending = {p for p, end in stop.items() if end > 0}
    out: list[Record] = []
    if not pending:
        return out
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(pending)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}: partitions {sorted(pending)} not read to the end")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if r.offset < stop[tp.partition]:
                        out.append(Record(tp.partition, r.offset, r.key, r.value))
            for tp in tps:
                if tp.partition in pending and consumer.position(tp) >= stop[tp.partition]:
                    pending.discard(tp.partition)
    finally:
        consumer.close()
    return out


# --------------------------------------------------------------------------- the run


@dataclass(kw_only=True)
class StreamRun:
    """What a test may judge of one run; the workers are already stopped."""

    slice: Slice
    settings: ClusterSettings
    namespace: RunNamespace
    log_dir: Path
    #: Hostile (key, value) messages mixed into the first phase.
    injected: list[tuple[bytes | None, bytes]]
    #: Every message of the run's `examples` topic, decoded, in topic order.
    examples: list[ExampleMessage]
    #: Every message of the run's dlq topic: (record, decoded letter or None).
    dead_letters: list[tuple[Record, DeadLetter | None]]
    #: Every signed snapshot the trainer published on `model-snapshots`: version -> bytes.
    snapshots: dict[str, bytes]
    #: Members of the run's ``listeners`` ZSET in Redis.
    redis_listeners: set[str]
    #: Recommendations read back per listener of the slice (or the lookup error).
    recs: dict[str, StoredRecs | RecsNotFoundError]
    #: Worker counters when the stream had drained after each phase.
    drained_first: Totals
    drained: Totals
    model_info: dict[str, Any]
    top_k: int
    seconds: dict[str, float] = field(default_factory=dict)


async def _read_recs(settings: ClusterSettings, users: Iterable[str], k: int) -> dict[str, Any]:
    client = async_client(settings)
    try:
        reader = RecsReader(client, settings.redis_prefix)
        out: dict[str, Any] = {}
        for user in users:
            try:
                out[user] = await reader.recommendations(user, k)
            except RecsNotFoundError as exc:
                out[user] = exc
        return out
    finally:
        await client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def group_settled(settings: ClusterSettings, group_id: str, members: int) -> bool:
    """The workers' consumer group is stable with ``members`` members, and together
    they own every `plays` partition (no rebalance is pending when plays arrive)."""
    with admin_client(settings) as admin:
        info = admin.describe_groups([group_id]).get(group_id)
    if not info or info.get("group_state") != "Stable" or len(info.get("members") or []) != members:
        return False
    owned: list[int] = []
    for member in info["members"]:
        for assigned in (member.get("member_assignment") or {}).get("assigned_partitions", []):
            if assigned.get("topic") == settings.plays_topic:
                owned.extend(assigned.get("partitions", []))
    return sorted(owned) == list(range(settings.plays_partitions))


def delete_run_keys(writer: RecsWriter, prefix: str) -> int:
    """Delete every Redis key under the run's prefix (scan, never KEYS)."""
    doomed = list(writer.client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(doomed), 1000):
        writer.client.delete(*doomed[i : i + 1000])
    return len(doomed)


def _send_mixed(
    producer: PlayProducer, plays: Sequence[PlayEvent], hostile: Sequence[tuple[bytes | None, bytes]]
) -> int:
    """Replay ``plays`` (event-time order) with the hostile messages spread among them."""
    every = max(1, len(plays) // (len(hostile) + 1))
    queue = list(hostile)
    sent = 0

    def send(play: PlayEvent) -> None:
        nonlocal sent
        producer.send(play)
        sent += 1
        if queue and sent % every == 0:
            key, value = queue.pop(0)
            producer.send_raw(key, value)

    replay(plays, send=send)
    for key, value in queue:  # none left unless there were fewer plays than messages
        producer.send_raw(key, value)
    producer.flush()
    return len(plays)


def run_stream(cluster: ClusterSettings, *, workers: int = 2, drain_timeout: float = 150.0) -> StreamRun:
    """The whole run (see the module docstring). Workers stopped, Redis keys deleted."""
    seconds: dict[str, float] = {}
    began = time.monotonic()
    data = lastfm_slice()
    hostile = hostile_messages()
    namespace = RunNamespace.fresh("e2e")
    settings = namespace.settings(cluster)
    ensure_topics(settings)
    writer = RecsWriter.from_settings(settings)
    log_dir = cluster.local_dir / "runs" / namespace.run_id
    fleet = Fleet(namespace=namespace, log_dir=log_dir)
    top_k = StreamSettings().top_k
    try:
        fleet.start(workers)
        wait_for_workers(writer, workers, fleet, timeout=90.0)
        wait_until(
            lambda: group_settled(settings, namespace.env()["ENCORE_APP_ID"], workers),
            60,
            f"a stable consumer group of {workers} workers owning every plays partition",
            interval=0.5,
            failed=lambda: None if all(fleet.alive()) else "a worker exited",
        )
        seconds["workers_up"] = time.monotonic() - began

        with PlayProducer(settings) as producer:
            n1 = _send_mixed(producer, data.first, hostile)
        first = wait_drained(writer, messages=n1 + len(hostile), fleet=fleet, timeout=drain_timeout)
        seconds["first_phase"] = time.monotonic() - began

        # A trained, signed snapshot is in Redis and every worker serves one.
        def every_worker_has_a_model() -> bool:
            stats = writer.worker_stats()
            return (
                bool(writer.read_model_info().get("version"))
                and len(stats) == workers
                and all(s.get("model_loads", 0) >= 1 for s in stats.values())
            )

        wait_until(
            every_worker_has_a_model,
            60,
            f"a model snapshot loaded by every worker (logs in {log_dir})",
            failed=lambda: None if all(fleet.alive()) else "a worker exited",
        )
        seconds["model_loaded"] = time.monotonic() - began

        with PlayProducer(settings) as producer:
            n2 = _send_mixed(producer, data.second, [])
        done = wait_drained(writer, messages=n1 + n2 + len(hostile), fleet=fleet, timeout=drain_timeout)
        seconds["second_phase"] = time.monotonic() - began

        recs = asyncio.run(_read_recs(settings, sorted(data.listeners), top_k))
        model_info = writer.read_model_info()
        examples = [
            m for r in read_topic(settings, settings.examples_topic) for m in decode_examples(r.value or b"")
        ]
        letters: list[tuple[Record, DeadLetter | None]] = []
        for r in read_topic(settings, settings.dlq_topic):
            try:
                letters.append((r, DeadLetter.model_validate_json(r.value or b"")))
            except ValueError:
                letters.append((r, None))
        snapshots: dict[str, bytes] = {}
        for r in read_topic(settings, settings.snapshots_topic):
            doc = json.loads(r.value or b"{}")
            snapshots[doc["version"]] = base64.b64decode(doc["data"])
        redis_listeners = {_text(u) for u in writer.client.zrange(writer.keys.listeners, 0, -1)}
        seconds["read_back"] = time.monotonic() - began
    finally:
        fleet.stop()
        delete_run_keys(writer, settings.redis_prefix)
        writer.client.close()
    seconds["total"] = time.monotonic() - began
    return StreamRun(
        slice=data,
        settings=settings,
        namespace=namespace,
        log_dir=log_dir,
        injected=hostile,
        examples=examples,
        dead_letters=letters,
        snapshots=snapshots,
        redis_listeners=redis_listeners,
        recs=recs,
        drained_first=first,
        drained=done,
        model_info=model_info,
        top_k=top_k,
        seconds=seconds,
    )


# --------------------------------------------------------------------------- offline


@dataclass(kw_only=True)
class OfflineRun:
    """``encore evaluate``'s feature and label path over a list of plays."""

    #: Every example, by event id (resolved while streaming or by ``finish()``).
    examples: dict[str, Example]
    #: Frozen features of every counted, on-time play, by event id.
    features: dict[str, FeatureRow]
    #: Feature state of every listener at the end of the data.
    states: dict[str, ListenerState]
    #: Highest event time seen (the end of the data).
    end: float
    counts: dict[str, int]


def offline_run(plays: Sequence[PlayEvent], settings: ModelSettings | None = None) -> OfflineRun:
    """The per-play loop of :func:`models.evaluation.evaluate`, keeping what it produces."""
    proc = PlayProcessor(settings or ModelSettings())
    examples: dict[str, Example] = {}
    features: dict[str, FeatureRow] = {}
    for play in event_time_order(plays):  # evaluate's order
        out = proc.process(play)
        if out.features is not None and not out.late:
            features[play.event_id] = out.features
        for ex in out.examples:
            assert ex.event_id not in examples, f"offline path labelled {ex.event_id} twice"
            examples[ex.event_id] = ex
    for ex in proc.finish():
        assert ex.event_id not in examples, f"offline path labelled {ex.event_id} twice"
        examples[ex.event_id] = ex
    return OfflineRun(
        examples=examples,
        features=features,
        states=dict(proc.features),
        end=proc.labeller.max_event_time,
        counts=dict(proc.counts),
    )


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat() if math.isfinite(ts) else str(ts)


__all__ = [
    "DAY",
    "OfflineRun",
    "Record",
    "Slice",
    "StreamRun",
    "delete_run_keys",
    "expected_raw",
    "hostile_messages",
    "iso",
    "lastfm_slice",
    "offline_run",
    "partition_of",
    "read_topic",
    "run_stream",
]
