"""stream: plays/s end to end through the workers, 1 and 2 workers, beside a bare agent.

Every configuration gets a fresh run namespace (topics, consumer group, Redis prefix)
whose `plays` topic is filled *before* its workers start with the same bytes: the
bundled Last.fm plays in event-time order, as ``encore replay`` writes them. Then:

- ``app`` x N: ``encore worker`` processes (decode, dead letters, features, labels,
  predict at play time, examples to the trainer, learning, debounced scoring, Redis
  history and recommendations);
- ``bare`` x N: :mod:`bench.bare_agent`, Faust ``stream.take(1000)`` + ``orjson.loads``
  only (the ceiling).

The window opens when every worker of the group has taken plays (so start-up and the
group's rebalances stay outside) and closes when every play is taken. CPU seconds of
the workers, the Kafka broker and Redis are read from /proc at both ends (the broker
and Redis are shared with whatever else runs on the machine: that noise is in them).

Targets (issue 8): 1 app worker >= 50% of 1 bare worker; CPU s per 1,000 plays with 2
app workers within 15% of 1; app speed-up (2 vs 1) >= 90% of the bare agent's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import Result, Row, cluster, drop_run, fresh_run, load_lastfm, median
from bench.procs import measure_window, spy_start, spy_summary, start_fleet
from cluster.settings import ClusterSettings
from producers.kafka_io import bulk_producer
from stream_app.recs_store import RecsWriter

NAME = "stream"


def fill(settings: ClusterSettings, raw: list[tuple[bytes, bytes]]) -> float:
    """Produce ``raw`` (key, value) into the run's plays topic; returns seconds."""
    producer = bulk_producer(settings)
    t0 = time.perf_counter()
    try:
        for key, value in raw:
            producer.send(settings.plays_topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()
    return time.perf_counter() - t0


def run_config(
    kind: str,
    n_workers: int,
    raw: list[tuple[bytes, bytes]],
    *,
    kafka_pid: int | None,
    redis_pid: int | None,
    profile_s: float = 0.0,
    extra_env: dict[str, str] | None = None,
    timeout: float = 900.0,
) -> dict[str, Any]:
    ns, settings = fresh_run(f"stream-{kind}{n_workers}")
    writer = RecsWriter.from_settings(settings)
    log_dir = settings.local_dir / "runs" / ns.run_id
    fleet = None
    try:
        fill(settings, raw)
        fleet = start_fleet(kind, ns, n_workers, log_dir, extra_env)
        spy = None
        spy_out = log_dir / "py-spy-worker0.txt"
        if profile_s > 0:
            # Started once the workers consume (roughly: after the Faust start-up).
            time.sleep(8.0)
            spy = spy_start(fleet.pids()[0], profile_s, spy_out)
        window = measure_window(
            writer, fleet, n_workers=n_workers, messages=len(raw),
            pids={"kafka": kafka_pid, "redis": redis_pid}, wait_drain=(kind == "app"), timeout=timeout,
        )  # fmt: skip
        if spy is not None:
            spy.wait(timeout=profile_s + 30)
        cpu_by = window.cpu_by()
        return {
            "kind": kind,
            "workers": n_workers,
            "plays": window.plays,
            "plays_per_s": window.rate,
            "drained_plays_per_s": window.drained_rate,
            "window_s": window.plays_done_at - window.start.at,
            "cpu_s_per_1000": window.cpu_per_1000,
            "cpu_s_by_process": cpu_by,
            "worker_cpu_s_per_1000": sum(v for k, v in cpu_by.items() if k.startswith("worker"))
            / max(window.plays, 1) * 1000,
            "profile": spy_summary(spy_out) if spy is not None else {},
            "stalled_after_plays": window.stats.get("_stalled"),
            "worker_errors": _errors(log_dir),
            "log_dir": str(log_dir),
        }
    finally:
        if fleet is not None:
            fleet.stop()
        drop_run(ns.run_id, settings)


def run(
    *,
    quick: bool = False,
    repeat: int | None = None,
    limit: int | None = None,
    profile: bool = False,
    **_: Any,
) -> Result:
    c = cluster()
    plays = load_lastfm(limit=limit or (60_000 if quick else None))
    raw = [(p.user_id.encode("utf-8"), p.to_json()) for p in plays]
    n_rep = repeat or 1
    runs: list[dict[str, Any]] = []
    for _ in range(n_rep):
        for kind, n in (("bare", 1), ("app", 1), ("bare", 2), ("app", 2)):
            prof = 20.0 if (profile and kind == "app" and n == 1 and not runs_of(runs, "app", 1)) else 0.0
            one = run_config(kind, n, raw, kafka_pid=c.kafka_pid, redis_pid=c.redis_pid, profile_s=prof)
            runs.append(one)

    def med(kind: str, n: int, key: str) -> float:
        return median([r[key] for r in runs_of(runs, kind, n)]) or 0.0

    bare1, bare2 = med("bare", 1, "plays_per_s"), med("bare", 2, "plays_per_s")
    app1, app2 = med("app", 1, "plays_per_s"), med("app", 2, "plays_per_s")
    cpu1, cpu2 = med("app", 1, "cpu_s_per_1000"), med("app", 2, "cpu_s_per_1000")
    bcpu1, bcpu2 = med("bare", 1, "cpu_s_per_1000"), med("bare", 2, "cpu_s_per_1000")
    up_app, up_bare = app2 / app1, bare2 / bare1
    rows = [
        Row(key="app1_plays_per_s", figure="1 worker, end to end", value=app1, unit="plays/s",
            baseline="bare Faust agent, 1 worker", baseline_value=bare1, target=">= 0.50 of bare",
            passed=app1 / bare1 >= 0.5),
        Row(key="app2_plays_per_s", figure="2 workers, end to end", value=app2, unit="plays/s",
            baseline="bare Faust agent, 2 workers", baseline_value=bare2),
        Row(key="app_cpu_2_vs_1", figure="CPU s / 1,000 plays, 2 workers (workers+broker+Redis)",
            value=cpu2, unit="s", baseline="same, 1 worker", baseline_value=cpu1,
            target="<= 1.15 x 1 worker", passed=cpu2 / cpu1 <= 1.15, higher_is_better=False),
        Row(key="app_speedup", figure="speed-up 2 vs 1 workers", value=up_app, unit="x",
            baseline="bare agent's speed-up", baseline_value=up_bare, target=">= 0.90 of bare's",
            passed=up_app / up_bare >= 0.9),
        Row(key="bare_cpu_2_vs_1", figure="bare agent CPU s / 1,000 plays, 2 workers", value=bcpu2, unit="s",
            baseline="same, 1 worker", baseline_value=bcpu1, higher_is_better=False),
    ]  # fmt: skip
    drained = [r["drained_plays_per_s"] for r in runs if r["kind"] == "app" and r["drained_plays_per_s"]]
    stalls = [
        f"app x{r['workers']}: every play taken, then the trainer/scorer stopped moving: "
        f"{r['stalled_after_plays']}; {r['worker_errors'][:1]}"
        for r in runs
        if r.get("stalled_after_plays")
    ]
    return Result(
        name=NAME,
        parameters={
            "plays": len(raw),
            "source": "bundled Last.fm file, event-time order, pre-filled before the workers start",
            "partitions": 8,
            "repeats": n_rep,
            "bare_take": 1000,
            "app_batch": "stream_app settings (take_events 5000, within 0.25 s)",
        },
        rows=rows,
        figures={"runs": runs, "app_drained_plays_per_s": drained},
        notes=[
            "Window: from every worker of the group having taken plays to the last play taken; "
            "the app's figures include its trainer and scorer running in the same processes.",
            "CPU from /proc (utime+stime) of the workers, the Kafka JVM and redis-server; the broker and "
            "Redis are shared with other work on this machine.",
            *stalls,
        ],
    )


def _errors(log_dir: Path) -> list[str]:
    """Agent crashes and errors the workers logged (first line of each)."""
    found: list[str] = []
    for log in sorted(log_dir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if "[ERROR]" in line or "Crashed" in line:
                found.append(f"{log.name}: {line.strip()[:300]}")
    return found[:20]


def runs_of(runs: list[dict[str, Any]], kind: str, n: int) -> list[dict[str, Any]]:
    return [r for r in runs if r["kind"] == kind and r["workers"] == n]

