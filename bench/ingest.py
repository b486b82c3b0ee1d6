"""ingest: our replay producer into Kafka beside kafka-python pushing pre-serialised bytes.

Both send the same plays (the bundled Last.fm file, parsed beforehand, in event-time
order) with the same keys, into fresh topics of the same layout (8 partitions), with
the same producer (:func:`producers.kafka_io.bulk_producer`: linger 20 ms, 512 KiB
batches, kafka-python 3 defaults: acks=all, idempotence). The ceiling sends
bytes made before the clock starts; ours runs :func:`producers.replay.replay` at
``--max`` through ``PlayProducer.send`` (pydantic ``model_dump_json`` per play,
event ids, stats). Repeated, alternating; medians. Target: >= 50% of the ceiling.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import Result, Row, cluster, drop_run, fresh_run, load_lastfm, median, profile_top
from producers.kafka_io import PlayProducer, bulk_producer
from producers.replay import replay

NAME = "ingest"


def _ceiling(raw: list[tuple[bytes, bytes]], settings: Any) -> tuple[float, float]:
    producer = bulk_producer(settings)
    topic = settings.plays_topic
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        for key, value in raw:
            producer.send(topic, key=key, value=value)
        producer.flush()
        return len(raw) / (time.perf_counter() - t0), (time.process_time() - cpu0) / len(raw)
    finally:
        producer.close()


def _ours(plays: list[Any], settings: Any) -> tuple[float, float]:
    with PlayProducer(settings) as producer:
        cpu0, t0 = time.process_time(), time.perf_counter()
        stats = replay(plays, send=producer.send, speed=None)
        producer.flush()
        elapsed = time.perf_counter() - t0
        return stats.sent / elapsed, (time.process_time() - cpu0) / stats.sent


def run(*, quick: bool = False, repeat: int | None = None, limit: int | None = None, **_: Any) -> Result:
    cluster()
    plays = load_lastfm(limit=limit or (40_000 if quick else None))
    raw = [(p.user_id.encode("utf-8"), p.to_json()) for p in plays]
    n_rep = repeat or (2 if quick else 3)
    ceil_rates: list[float] = []
    ours_rates: list[float] = []
    ceil_cpu: list[float] = []
    ours_cpu: list[float] = []
    for _ in range(n_rep):
        for which in ("ceiling", "ours"):
            ns, settings = fresh_run(f"ingest-{which}")
            try:
                if which == "ceiling":
                    rate, cpu = _ceiling(raw, settings)
                    ceil_rates.append(rate)
                    ceil_cpu.append(cpu)
                else:
                    rate, cpu = _ours(plays, settings)
                    ours_rates.append(rate)
                    ours_cpu.append(cpu)
            finally:
                drop_run(ns.run_id, settings)
    # Where our producer's time goes (one more run of ours under cProfile).
    ns, settings = fresh_run("ingest-profile")
    try:
        with PlayProducer(settings) as producer:
            _, top = profile_top(lambda: (replay(plays, send=producer.send, speed=None), producer.flush()))
    finally:
        drop_run(ns.run_id, settings)
    ours, ceiling = median(ours_rates), median(ceil_rates)
    ratio = ours / ceiling if ours and ceiling else None
    rows = [
        Row(
            key="replay_plays_per_s",
            figure="replay producer into Kafka",
            value=ours,
            unit="plays/s",
            baseline="kafka-python, pre-serialised bytes",
            baseline_value=ceiling,
            target=">= 0.50 of the ceiling",
            passed=ratio is not None and ratio >= 0.5,
        ),
        Row(
            key="replay_cpu_us_per_play",
            figure="producer CPU per play (this process)",
            value=(median(ours_cpu) or 0) * 1e6,
            unit="µs",
            baseline="kafka-python, pre-serialised bytes",
            baseline_value=(median(ceil_cpu) or 0) * 1e6,
            higher_is_better=False,
        ),
    ]
    return Result(
        name=NAME,
        parameters={"plays": len(plays), "repeats": n_rep, "partitions": settings.plays_partitions,
                    "source": "bundled Last.fm file (parsed before timing)"},
        rows=rows,
        figures={
            "ours_plays_per_s": ours_rates,
            "ceiling_plays_per_s": ceil_rates,
            "ours_cpu_s_per_play": ours_cpu,
            "ceiling_cpu_s_per_play": ceil_cpu,
            "profile_ours_top_own_time": top,
        },
        notes=[f"{n_rep} alternating runs each; medians. Same producer settings on both sides."],
    )
