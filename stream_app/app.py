"""The Faust app: its topics and the listener table. The agents that work on them
live in :mod:`stream_app.agents`, which registers them on this app when imported.

Run one worker with ``encore worker`` (or ``faust -A stream_app.agents worker -l warn``);
start several and they share the partitions of `plays` (one consumer group).

- ``on_plays`` (every worker, its share of the `plays` partitions): decode, dead-letter
  bad messages, fold each batch into the listener table (features + labels), predict
  each counted play with the latest model, send resolved examples to `examples`,
  queue the touched listeners for scoring.
- the trainer (on the one worker that owns `plays` partition 0, reading `examples`
  with its own consumer, :mod:`stream_app.trainer_loop`): learns each example when its
  horizon closes, publishes signed snapshots.
- timers: score due listeners into Redis, pick up newer model snapshots.
"""

from __future__ import annotations

import logging

import faust

from cluster.settings import ClusterSettings
from cluster.topics import SNAPSHOT_MAX_BYTES
from models.settings import ModelSettings
from stream_app.offsets import PlaysConsumer
from stream_app.settings import StreamSettings, rebalance_logging

log = logging.getLogger("encore.stream")

cluster = ClusterSettings()
stream = StreamSettings()
model_settings = ModelSettings()

#: Largest message the app produces (and its topics accept): model snapshots.
MAX_MESSAGE_BYTES = SNAPSHOT_MAX_BYTES

app = faust.App(
    stream.app_id,
    broker=f"kafka://{cluster.bootstrap_servers}",
    store="memory://",
    topic_partitions=cluster.plays_partitions,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    datadir=str(cluster.local_dir / "faust"),
    stream_recovery_delay=0.0,
    producer_max_request_size=MAX_MESSAGE_BYTES,
    producer_linger_ms=5,
    broker_commit_every=stream.batch_size,
    broker_commit_interval=1.0,
    # A killed worker's partitions move to the others after this, not Faust's 60 s.
    broker_session_timeout=15.0,
    broker_heartbeat_interval=3.0,
    # A crashed agent must take the worker down (a supervisor restarts it), never
    # leave it alive and idle.
    agent_supervisor="mode.OneForAllSupervisor",
    logging_config=rebalance_logging(stream.rebalance_log_level),
)

# `plays` offsets are committed as far as the plays agent folded plays in, not as far
# as Faust's acknowledgements go (stream_app/offsets.py says why).
PlaysConsumer.folded_topics = frozenset({cluster.plays_topic})
PlaysConsumer.fetch_max_wait_ms = stream.fetch_max_wait_ms
app.transport.Consumer = PlaysConsumer  # type: ignore[misc]

RAW = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

plays_topic = app.topic(cluster.plays_topic, schema=RAW, partitions=cluster.plays_partitions)
examples_topic = app.topic(cluster.examples_topic, schema=RAW, partitions=cluster.examples_partitions)
dlq_topic = app.topic(cluster.dlq_topic, schema=RAW, partitions=cluster.dlq_partitions)
snapshots_topic = app.topic(cluster.snapshots_topic, schema=RAW, partitions=1)

#: listener id -> listening.encode_state(...) bytes; co-partitioned with `plays`.
listener_table = app.Table(
    "listeners",
    partitions=cluster.plays_partitions,
    schema=faust.Schema(key_type=str, value_type=bytes, key_serializer="raw", value_serializer="raw"),
    use_partitioner=True,
    extra_topic_configs={"max.message.bytes": str(MAX_MESSAGE_BYTES)},
)
# Faust ignores a table's schema when it serialises: it picked "json" for key and value.
# Keys went out JSON-quoted (b'"48"'), so murmur2 put a listener's state on another
# changelog partition than its plays (no longer co-partitioned), and a worker that
# recovered the changelog after a restart or rebalance read dicts and ints, not bytes
# and str (tests/faults/test_worker_kill.py found both). Raw, as the schema says, on
# the way out and, with the changelog topic made again, on the way back in.
listener_table.key_serializer = "raw"
listener_table.value_serializer = "raw"
listener_table.changelog_topic = listener_table._new_changelog_topic()
