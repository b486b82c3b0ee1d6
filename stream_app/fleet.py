"""Worker processes of one run: start them, watch them, wait for the stream to drain.

A *run* has its own topics, consumer group and Redis prefix (`RunNamespace`), so a
demo, a test and a benchmark never read each other's plays or state. `Fleet` starts
``encore worker`` processes with that namespace in their environment; `wait_drained`
polls the counters the workers publish to Redis until every play sent has been
processed, every example learnt or buffered, and every listener scored.

>>> ns = RunNamespace.fresh("demo")
>>> ns.env()["ENCORE_PLAYS_TOPIC"].startswith("plays-demo-")
True
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cluster.settings import ClusterSettings
from stream_app.recs_store import RecsWriter


@dataclass(frozen=True, kw_only=True)
class RunNamespace:
    """Names of one run's topics, consumer group and Redis keys."""

    run_id: str
    redis_prefix: str = "encore:"

    @classmethod
    def fresh(cls, label: str, *, redis_prefix: str | None = None) -> RunNamespace:
        run_id = f"{label}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
        return cls(run_id=run_id, redis_prefix=redis_prefix or f"{run_id}:")

    def env(self) -> dict[str, str]:
        return {
            "ENCORE_APP_ID": f"encore-{self.run_id}",
            "ENCORE_PLAYS_TOPIC": f"plays-{self.run_id}",
            "ENCORE_DLQ_TOPIC": f"plays-dlq-{self.run_id}",
            "ENCORE_EXAMPLES_TOPIC": f"examples-{self.run_id}",
            "ENCORE_SNAPSHOTS_TOPIC": f"model-snapshots-{self.run_id}",
            "ENCORE_REDIS_PREFIX": self.redis_prefix,
        }

    def settings(self, base: ClusterSettings | None = None) -> ClusterSettings:
        """Cluster settings of this run (topics and prefix replaced)."""
        base = base or ClusterSettings()
        env = self.env()
        return base.model_copy(
            update={
                "plays_topic": env["ENCORE_PLAYS_TOPIC"],
                "dlq_topic": env["ENCORE_DLQ_TOPIC"],
                "examples_topic": env["ENCORE_EXAMPLES_TOPIC"],
                "snapshots_topic": env["ENCORE_SNAPSHOTS_TOPIC"],
                "redis_prefix": self.redis_prefix,
            }
        )


@dataclass(kw_only=True)
class Fleet:
    """``encore worker`` processes sharing one run's partitions."""

    namespace: RunNamespace
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.namespace.env())
        env.update(self.extra_env)
        return env

    def start(self, n: int = 1) -> None:
        """Start ``n`` more workers."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(n):
            i = len(self.procs)
            log = (self.log_dir / f"worker-{i}.log").open("ab")
            cmd = [sys.executable, "-m", "cli.main", "worker", "-l", "warn"]
            self.procs.append(subprocess.Popen(cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT))

    def restart(self, i: int) -> None:
        """Start worker ``i`` again in place (after it was killed)."""
        log = (self.log_dir / f"worker-{i}.log").open("ab")
        cmd = [sys.executable, "-m", "cli.main", "worker", "-l", "warn"]
        self.procs[i] = subprocess.Popen(cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        self.procs[i].send_signal(sig)
        self.procs[i].wait(timeout=30)

    def alive(self) -> list[bool]:
        return [p.poll() is None for p in self.procs]

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM every worker, SIGKILL what is left after ``timeout`` seconds."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@dataclass(frozen=True, kw_only=True)
class Totals:
    """Sums of the workers' published counters."""

    workers: int
    plays: int
    dead_letters: int
    examples: int
    trainer_examples: int
    scoring_queue: int
    last_update_ms: int
    #: Wall time (ms) of the last batch of plays any worker processed.
    last_play_ms: int
    raw: dict[str, dict[str, float]]

    def trainer(self, key: str) -> float | None:
        """A figure of the worker that runs the trainer (``trainer_auc_so_far``...)."""
        values = [s[key] for s in self.raw.values() if key in s]
        return float(values[0]) if values else None


def totals(writer: RecsWriter) -> Totals:
    stats = writer.worker_stats()

    def total(key: str) -> int:
        return int(sum(s.get(key, 0) for s in stats.values()))

    return Totals(
        workers=len(stats),
        plays=total("plays"),
        dead_letters=total("dead_letters"),
        examples=total("examples_positive") + total("examples_negative"),
        trainer_examples=total("trainer_examples") + total("trainer_duplicates"),
        scoring_queue=total("scoring_queue"),
        last_update_ms=int(max((s.get("updated_at", 0) for s in stats.values()), default=0)),
        last_play_ms=int(max((s.get("last_play_ms", 0) for s in stats.values()), default=0)),
        raw=stats,
    )


def wait_for_workers(writer: RecsWriter, n: int, fleet: Fleet, timeout: float = 120.0) -> None:
    """Until ``n`` workers have announced themselves in Redis."""
    deadline = time.monotonic() + timeout
    while totals(writer).workers < n:
        if not all(fleet.alive()):
            raise RuntimeError(f"a worker exited during start-up; see {fleet.log_dir}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} workers did not start within {timeout:.0f} s; see {fleet.log_dir}")
        time.sleep(0.2)


def wait_drained(
    writer: RecsWriter,
    *,
    messages: int,
    fleet: Fleet | None = None,
    timeout: float = 600.0,
    on_progress: Callable[[Totals], object] | None = None,
    require_alive: bool = True,
) -> Totals:
    """Until the workers have taken ``messages`` plays (counted or dead-lettered), the
    trainer has every example, and no listener waits to be scored. Polls Redis."""
    deadline = time.monotonic() + timeout
    while True:
        now = totals(writer)
        if on_progress is not None:
            on_progress(now)
        if (
            now.plays + now.dead_letters >= messages
            and now.trainer_examples >= now.examples
            and now.scoring_queue == 0
        ):
            return now
        if require_alive and fleet is not None and not all(fleet.alive()):
            raise RuntimeError(f"a worker died before the stream drained; see {fleet.log_dir}")
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"stream not drained within {timeout:.0f} s: {now.plays + now.dead_letters}/{messages} "
                f"plays, trainer {now.trainer_examples}/{now.examples} examples, "
                f"{now.scoring_queue} listeners queued"
            )
        time.sleep(0.25)
