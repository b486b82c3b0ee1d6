"""memory: worker RSS and Redis memory after 10k, 100k (, 1M) synthetic listeners.

Each size runs in a fresh child process against a private ``redis-server`` (its own
port, no persistence, flushed per size, so other work on the shared Redis does not
enter ``used_memory``). The child runs the worker's own per-batch code on synthetic
plays (:mod:`bench.synthetic`: the file's activity, repertoire and popularity shapes,
a mean of ``--plays-per-listener`` plays each, spread over the last 30 days):
:class:`stream_app.worker_state.WorkerState` with a :class:`stream_app.listening.Listening`
over a dict (what Faust's ``memory://`` table store is), ``after_batch`` per batch of
5,000 plays (features, labels, play-time predictions kept until the label resolves,
candidate counts, history to Redis), then ``score_due`` for every listener
(recommendations to Redis). Kafka is left out: it changes neither the worker's state
nor Redis, and it would cap the sizes this machine can reach.

Reported per size: worker RSS growth and Redis ``used_memory`` growth, per listener;
the table's bytes per listener (what a changelog / RocksDB would hold); and, from
``MEMORY USAGE`` of sampled keys, which Redis keys the bytes are in.
Target (issue 8): linear in listeners, < 2 KiB per listener in Redis.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from bench.common import REPO_ROOT, Result, Row, percentile, profile_top, self_rss
from bench.procs import stop_process

NAME = "memory"
WINDOW_S = 30 * 86_400.0


def deep_size(obj: Any, _seen: set[int] | None = None) -> int:
    """Bytes of an object and everything it references (dicts, lists, slots, attributes)."""
    seen = _seen if _seen is not None else set()
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(v, seen) for v in obj)
    elif not isinstance(obj, str | bytes | int | float | bool | type(None)):
        for name in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, name):
                size += deep_size(getattr(obj, name), seen)
        if hasattr(obj, "__dict__"):
            size += deep_size(vars(obj), seen)
    return size


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_private_redis(workdir: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            if client.ping():
                return proc, port
        except redis.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("private redis-server did not start")


def child(size: int, mean_plays: float, port: int, seed: int) -> dict[str, Any]:
    """Runs in a fresh process: build the state of ``size`` listeners, measure."""
    os.environ["ENCORE_REDIS_PORT"] = str(port)
    os.environ["ENCORE_REDIS_PREFIX"] = "encore:"
    import redis

    from bench.synthetic import Population
    from models.events import PlayEvent
    from stream_app import worker_state as ws
    from stream_app.listening import Listening

    client = redis.Redis(port=port)
    if client.dbsize():
        # Only ever a private, empty redis-server started by `run` for this size.
        raise SystemExit(f"refusing: the Redis on port {port} is not empty (not a private one)")
    gc.collect()
    redis_0 = int(client.info("memory")["used_memory"])
    end = time.time() - 3600.0
    pop = Population(size, seed=seed)
    raw = pop.batch(mean_plays=mean_plays, window_s=WINDOW_S, end=end)
    del pop
    gc.collect()
    rss_0 = self_rss()  # interpreter, libraries, the synthetic plays as tuples
    state = ws.state
    table: dict[str, bytes] = {}
    state.listening = Listening(table=table, settings=state.listening.settings)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    batch = 5000
    from datetime import UTC, datetime

    for i in range(0, len(raw), batch):
        chunk = raw[i : i + batch]
        plays = [
            PlayEvent(user_id=u, track_id=t, played_at=datetime.fromtimestamp(ts, UTC), source="bench")
            for u, t, ts in chunk
        ]
        parts = [int(u[1:]) % 8 for u, _, _ in chunk]
        out = state.listening.process(plays, parts)
        state.after_batch(plays, out)
        for example in out.examples:  # as stream_app.agents.on_plays does when it sends them
            state.predictions.pop(example.event_id, None)
        raw[i : i + batch] = [None] * len(chunk)  # type: ignore[list-item]
    process_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    now = time.monotonic() + 3600.0  # every listener's debounce has passed
    as_of = state.listening.processor.labeller.max_event_time
    scored = 0
    score_profile: list[dict[str, Any]] = []
    while state.scorer.queued:
        users = state.scorer.due(now)[:2000]

        def one_chunk(users: list[str] = users) -> None:
            recs = state.scorer.score(users, state.listening.features, state.model, as_of=as_of)
            state.writer.write_recommendations(recs)

        if not score_profile:
            _, score_profile = profile_top(one_chunk)
        else:
            one_chunk()
        state.scorer.done(users, now)
        scored += len(users)
    score_s = time.perf_counter() - t1
    cpu = time.process_time() - cpu0
    del raw
    gc.collect()
    rss_1 = self_rss()
    info = client.info("memory")
    redis_1 = int(info["used_memory"])
    # Which keys hold Redis's bytes: MEMORY USAGE of a sample of each kind.
    k = state.writer.keys
    sample = [f"s{i}" for i in range(0, size, max(1, size // 200))]
    by_kind: dict[str, float] = {}
    for kind, key_of in (("recs", k.recs), ("recs-meta", k.meta), ("recs-reasons", k.reasons),
                         ("history", k.history)):  # fmt: skip
        sizes = [client.memory_usage(key_of(u), samples=0) or 0 for u in sample]
        by_kind[kind] = sum(sizes) / len(sizes)
    zset = client.memory_usage(k.listeners, samples=0) or 0
    by_kind["listeners-zset (whole, per listener)"] = zset / size
    hist_len = [client.llen(k.history(u)) for u in sample]
    n_plays = state.plays_processed
    sample_states = [state.listening.features[u] for u in sample if u in state.listening.features]
    sample_labels = [state.listening.labels[u] for u in sample if u in state.listening.labels]
    deep = {
        "feature_state_per_listener": sum(deep_size(x) for x in sample_states) / max(len(sample_states), 1),
        "label_state_per_listener": sum(deep_size(x) for x in sample_labels) / max(len(sample_labels), 1),
        "table_value_per_listener": sum(len(v) for v in table.values()) / size,
        "predictions_waiting_per_listener": deep_size(state.predictions) / size,
        "candidate_source_per_listener": deep_size(state.scorer.source) / size,
        "scorer_bookkeeping_per_listener": deep_size(state.scorer._scored_at) / size,
    }
    table_bytes = sum(len(v) for v in table.values())
    return {
        "listeners": size,
        "listeners_with_state": len(state.listening.features),
        "plays": n_plays,
        "plays_per_listener": n_plays / size,
        "examples": int(state.stats["examples_positive"] + state.stats["examples_negative"]),
        "predictions_waiting": len(state.predictions),
        "worker_rss_growth_bytes": rss_1 - rss_0,
        "worker_rss_bytes": rss_1,
        "worker_bytes_per_listener": (rss_1 - rss_0) / size,
        "table_bytes_per_listener": table_bytes / size,
        "redis_used_memory_bytes": redis_1,
        "redis_growth_bytes": redis_1 - redis_0,
        "redis_bytes_per_listener": (redis_1 - redis_0) / size,
        "redis_bytes_per_listener_by_key": by_kind,
        "redis_keys": client.dbsize(),
        "history_len_p50": percentile(hist_len, 50),
        "history_len_max": max(hist_len),
        "worker_bytes_per_listener_by_part (deep sizes, sampled)": deep,
        "listeners_scored": scored,
        "score_listeners_per_s": scored / max(score_s, 1e-9),
        "score_profile_top_own_time": score_profile,
        "process_s": process_s,
        "score_s": score_s,
        "plays_per_cpu_s": n_plays / max(cpu - 0, 1e-9),
    }


def run(
    *, quick: bool = False, sizes: str | None = None, plays_per_listener: float = 30.0, **_: Any
) -> Result:
    wanted = [int(s) for s in (sizes or ("10000" if quick else "10000,100000")).split(",") if s.strip()]
    import tempfile

    per: list[dict[str, Any]] = []
    for size in wanted:
        # A new private redis-server per size: empty by construction, nothing shared is touched.
        workdir = tempfile.mkdtemp(prefix="bench-memory-")
        proc, port = start_private_redis(workdir)
        try:
            cmd = [sys.executable, "-m", "bench.memory", str(size), str(plays_per_listener), str(port)]
            out = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=6 * 3600)
            if out.returncode != 0:
                raise RuntimeError(f"memory child for {size} failed: {out.stderr[-2000:]}")
            per.append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            stop_process(proc, timeout=30)
            shutil.rmtree(workdir, ignore_errors=True)
    small, big = per[0], per[-1]
    rows = []
    for r in per:
        n = r["listeners"]
        per_l = r["redis_bytes_per_listener"]
        rows.append(
            Row(key=f"redis_per_listener_{n}", figure=f"Redis bytes / listener, {n:,} listeners", value=per_l,
                unit="B", target="< 2 KiB", passed=per_l < 2048, higher_is_better=False)
        )
        rows.append(
            Row(key=f"worker_per_listener_{n}", figure=f"worker RSS / listener, {n:,} listeners",
                value=r["worker_bytes_per_listener"], unit="B", higher_is_better=False)
        )
    if len(per) > 1:
        # Redis must be linear (issue 8); the worker must not grow faster than linearly
        # (its fixed part, libraries and allocator arenas, spreads over more listeners).
        kinds = (
            ("Redis bytes", "redis_bytes_per_listener", "linear: ratio 0.8-1.2", 0.8),
            ("worker RSS", "worker_bytes_per_listener", "not above linear: ratio <= 1.2", 0.0),
        )
        for what, key, target, low in kinds:
            ratio = big[key] / small[key]
            rows.append(
                Row(key=f"{key}_linearity", figure=f"{what}/listener at {big['listeners']:,}",
                    value=big[key], unit="B", baseline=f"at {small['listeners']:,}",
                    baseline_value=small[key], target=target, passed=low <= ratio <= 1.2,
                    higher_is_better=False)
            )
    ran = ", ".join(f"{s:,}" for s in wanted)
    # Another history depth is another benchmark (its own file, its own gate).
    name = NAME if plays_per_listener == 30.0 else f"{NAME}-{plays_per_listener:g}-plays"
    return Result(
        name=name,
        parameters={"sizes": wanted, "plays_per_listener_mean": plays_per_listener, "window_days": 30,
                    "redis": "private redis-server, no persistence", "batch": 5000},
        rows=rows,
        figures={"sizes": per},
        notes=[f"Sizes run: {ran} listeners, about {plays_per_listener:g} plays each over 30 days (the "
               "bundled file's average listener plays about 1 a day); the worker's own per-batch code in "
               "one process, Kafka left out (see bench/memory.py)."],
    )


if __name__ == "__main__":
    size_arg, plays_arg, port_arg = sys.argv[1:4]
    result = child(int(size_arg), float(plays_arg), int(port_arg), seed=3)
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)
