"""The stream benchmark's ceiling: a bare Faust agent that only consumes and decodes.

Same broker, same topic layout, same Faust settings as :mod:`stream_app.app` where
they touch consuming (raw bytes schema, ``earliest``, commit cadence), one agent over
`plays` with ``stream.take(1000)``; each value is decoded with ``orjson.loads`` and
nothing else happens. It publishes the same counters as the real workers (``plays``,
``last_play_ms`` in the run's ``workers`` hash) so the benchmark reads both alike.

Run as ``python -m bench.bare_agent worker -l warn --without-web`` with the run's
``ENCORE_*`` environment (``stream_app.fleet.RunNamespace.env``).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import faust
import orjson

from cluster.settings import ClusterSettings
from stream_app.recs_store import RecsWriter

cluster = ClusterSettings()
TAKE = int(os.environ.get("BENCH_TAKE", "1000"))

app = faust.App(
    os.environ.get("ENCORE_APP_ID", "encore-bare"),
    broker=f"kafka://{cluster.bootstrap_servers}",
    store="memory://",
    topic_partitions=cluster.plays_partitions,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    datadir=str(cluster.local_dir / "faust-bare"),
    broker_commit_every=TAKE,
    broker_commit_interval=1.0,
)
RAW = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
plays_topic = app.topic(cluster.plays_topic, schema=RAW, partitions=cluster.plays_partitions)

_writer = RecsWriter.from_settings(cluster)
_name = f"bare-{socket.gethostname()}-{os.getpid()}"
_stats: dict[str, Any] = {"plays": 0, "dead_letters": 0, "last_play_ms": 0, "decoded_bytes": 0}


@app.task
async def announce() -> None:
    _stats["updated_at"] = int(time.time() * 1000)
    _writer.record_worker(_name, _stats)


@app.agent(plays_topic)
async def consume(stream: Any) -> None:
    async for values in stream.take(TAKE, within=0.25):
        n = 0
        for value in values:
            doc = orjson.loads(value)
            n += 1 if doc else 0
        _stats["plays"] += len(values)
        _stats["last_play_ms"] = _stats["updated_at"] = int(time.time() * 1000)
        _writer.record_worker(_name, _stats)


if __name__ == "__main__":
    app.main()
