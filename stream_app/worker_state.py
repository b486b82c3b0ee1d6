"""What one worker process holds between batches: listener state, the latest model,
pending play-time predictions, the scorer's queue, the Redis writer and its metrics.

Redis being away must not stop a worker: every Redis call here is guarded, counted
when it fails, and retried by the next batch or scoring tick (recommendations catch
up when Redis returns). After a failure the :class:`RedisGate` skips Redis calls
until a retry-less PING answers, so a stopped Redis costs the stream nothing.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from models.events import PlayEvent
from models.snapshot import SnapshotError
from stream_app.app import cluster, listener_table, model_settings, stream
from stream_app.listening import BatchOutcome, Listening
from stream_app.metrics import WorkerMetrics
from stream_app.model_cache import LatestModel
from stream_app.recs_store import MetricsPoint, ModelMetrics, ModelSnapshot, RecsWriter, UserRecs
from stream_app.redis_gate import RedisGate
from stream_app.scorer import Scorer
from stream_app.settings import load_or_create_snapshot_key
from stream_app.trainer import Trainer

log = logging.getLogger("encore.stream")

#: Listeners scored per predict call inside one tick.
SCORE_CHUNK = 64

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)

#: A step of the event loop longer than this is logged: every other agent, timer and
#: the plays waiting behind it were held up that long.
SLOW_STEP_S = 0.25


@dataclass(kw_only=True)
class WorkerState:
    listening: Listening
    writer: RecsWriter
    model: LatestModel
    scorer: Scorer
    key: bytes
    metrics: WorkerMetrics
    redis: RedisGate
    owned: frozenset[int] = frozenset()
    #: event_id -> (P(replay) at play time, model version), until the example resolves.
    predictions: dict[str, tuple[float, str]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    plays_processed: int = 0
    name: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    #: Running counters published to Redis (``workers`` hash) after every batch.
    stats: Counter[str] = field(default_factory=Counter)
    #: A snapshot Redis was away for, published when it answers again.
    unpublished: tuple[ModelSnapshot, ModelMetrics, Trainer, ModelSnapshot | None] | None = None

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Keep the longest run of ``step`` (``max_ms_<step>`` in the worker's stats);
        log the ones over :data:`SLOW_STEP_S`."""
        began = time.perf_counter()
        try:
            yield
        finally:
            ms = int((time.perf_counter() - began) * 1000)
            key = f"max_ms_{step}"
            if ms > self.stats[key]:
                self.stats[key] = ms
            if ms > SLOW_STEP_S * 1000:
                log.warning("slow %s: %d ms held the event loop", step, ms)

    def dead_letter(self) -> None:
        self.stats["dead_letters"] += 1
        self.metrics.dead_letters.inc()

    def _redis_failed(self, exc: BaseException) -> None:
        self.metrics.redis_errors.inc()
        self.redis.failed(exc)

    def publish_stats(self) -> None:
        self.stats["updated_at"] = int(time.time() * 1000)
        if not self.redis.open:
            return
        try:
            self.writer.record_worker(self.name, self.stats)
        except REDIS_DOWN as exc:
            self._redis_failed(exc)

    def after_batch(self, plays: list[PlayEvent], out: BatchOutcome) -> None:
        """Predict the batch's counted plays, record history, queue listeners for scoring."""
        self.plays_processed += len(plays)
        self.metrics.observe_batch(out)
        self.stats["plays"] += len(plays)
        self.stats.update(out.counts)
        positives = sum(1 for e in out.examples if e.label)
        self.stats["examples_positive"] += positives
        self.stats["examples_negative"] += len(out.examples) - positives
        self.stats["batches"] += 1
        self.stats["last_play_ms"] = int(time.time() * 1000)
        if out.counted:
            probs = self.model.predict([features for _, features in out.counted])
            for (play, _), p in zip(out.counted, probs, strict=True):
                self.predictions[play.event_id] = (p, self.model.version)
        now = time.monotonic()
        source = self.scorer.source
        for play, _ in out.counted:
            source.observe(play)
        for play in plays:
            self.scorer.mark(play.user_id, now)
        self.stats["scoring_queue"] = self.scorer.queued
        # A duplicate (a replay sent twice, a poller's overlap) is not shown twice.
        accepted = out.accepted
        if not self.redis.open:  # the history is a cache of the last plays: not kept back
            self.stats["history_not_written"] += len(accepted)
            return
        try:
            self.writer.append_plays(accepted)
        except REDIS_DOWN as exc:
            self._redis_failed(exc)
            self.stats["history_not_written"] += len(accepted)

    def refresh_model(self) -> None:
        if not self.redis.open:
            return
        if self.unpublished is not None:
            self.publish_model(*self.unpublished)
        try:
            if self.model.refresh():
                log.warning("model %s loaded", self.model.version)
                # Seen from outside (tests, `encore demo`): this worker now scores
                # with a trained snapshot, not the untrained default.
                self.stats["model_loads"] += 1
                self.publish_stats()
        except REDIS_DOWN as exc:
            self._redis_failed(exc)
        self.metrics.model_refused.set(self.model.refused)

    def score_due(self, now: float) -> None:
        """Score the listeners due, oldest queued first, within ``score_share`` of the
        tick's time (CPU): under a flood of plays scoring falls behind (and catches up
        after), instead of starving the plays agent that shares the event loop. While
        the worker keeps up with `plays`, the share is ``score_share_live``."""
        users = self.scorer.due(now)
        if not users or not self.redis.open:  # they stay queued
            return
        live = stream.keeping_up(self.stats["plays_behind"])
        budget = (stream.score_share_live if live else stream.score_share) * stream.score_every_s
        began = time.perf_counter()
        recs: list[UserRecs] = []
        for i in range(0, len(users), SCORE_CHUNK):
            recs += self.scorer.score(
                users[i : i + SCORE_CHUNK],
                self.listening.features,
                self.model,
                as_of=self.listening.processor.labeller.max_event_time,
            )
            if time.perf_counter() - began > budget:
                users = users[: i + SCORE_CHUNK]
                break
        try:
            self.writer.write_recommendations(recs)
        except REDIS_DOWN as exc:
            self._redis_failed(exc)
            self.scorer.retry(users, now)
            return
        self.scorer.done(users, now)
        self.metrics.recs_written.inc(len(recs))
        self.stats["recs_written"] += len(recs)
        self.stats["scoring_queue"] = self.scorer.queued
        self.publish_stats()

    def publish_model(
        self,
        snapshot: ModelSnapshot,
        metrics: ModelMetrics,
        trainer: Trainer,
        resume: ModelSnapshot | None = None,
    ) -> None:
        self.metrics.rolling_auc.set(metrics.rolling_auc or 0.0)
        if resume is None and self.unpublished is not None:
            resume = self.unpublished[3]  # a whole learner Redis missed still goes
        self.unpublished = (snapshot, metrics, trainer, resume)
        if not self.redis.open:
            return
        try:
            self.writer.publish_model(snapshot, metrics, resume=resume)
            elapsed = max(time.monotonic() - self.started, 1e-9)
            self.writer.record_metrics(
                MetricsPoint(
                    event_time=max(trainer.max_event_time, 0.0),
                    wall_time=time.time(),
                    auc=metrics.rolling_auc,
                    logloss=metrics.rolling_logloss,
                    examples=metrics.examples_learned,
                    plays_per_second=self.plays_processed / elapsed,
                )
            )
        except REDIS_DOWN as exc:
            self._redis_failed(exc)
            return
        self.unpublished = None


def _build() -> WorkerState:
    writer = RecsWriter.from_settings(cluster)
    key = load_or_create_snapshot_key(cluster.local_dir)
    model = LatestModel(key=key, read=writer.read_model_snapshot, peek_version=writer.model_version)
    # The gate's probe: one PING, no retries, short timeouts (the writer's client retries).
    probe = redis.Redis(
        host=cluster.redis_host or cluster.host,
        port=cluster.redis_port,
        password=cluster.redis_password_value(),
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
    )
    return WorkerState(
        listening=Listening(table=listener_table, settings=model_settings),
        writer=writer,
        model=model,
        scorer=Scorer(debounce_s=stream.score_debounce_s, top_k=stream.top_k),
        key=key,
        metrics=WorkerMetrics(port=stream.metrics_port),
        redis=RedisGate(probe=lambda: bool(probe.ping())),
    )


state = _build()
_trainer: Trainer | None = None
_last_snapshot = time.monotonic()
_learnt_at_snapshot = 0
_last_resume = -math.inf


def trainer() -> Trainer:
    """The process's trainer, resumed from the latest signed snapshot when there is one.

    Made when this worker takes the trainer's seat (and dropped when it loses
    it), so a trainer always continues the newest snapshot, wherever it was made.
    """
    global _trainer, _last_snapshot, _learnt_at_snapshot, _last_resume
    if _trainer is None:
        _trainer = Trainer(horizon_s=model_settings.horizon_days * 86_400.0)
        try:
            snap = state.writer.read_resume_snapshot()
        except REDIS_DOWN:
            snap = None
            log.error("Redis unavailable: the trainer cannot resume the latest snapshot")
        if snap is not None:
            try:
                _trainer.resume(snap.data, state.key)
                log.warning(
                    "trainer resumed from snapshot %s: %d examples taken, examples offset %d",
                    snap.version, _trainer.taken, _trainer.next_offset,
                )  # fmt: skip
            except SnapshotError as exc:
                log.error("refused model snapshot %s (%s); training from scratch", snap.version, exc)
        _last_snapshot, _learnt_at_snapshot = time.monotonic(), _trainer.learner.n_learnt
        _last_resume = -math.inf
    return _trainer


def drop_trainer() -> None:
    """This worker no longer trains: a stale trainer must neither publish nor be reused."""
    global _trainer
    _trainer = None


def current_trainer() -> Trainer | None:
    """The trainer, on the worker that has one (the trainer's seat,
    :mod:`stream_app.trainer_loop`)."""
    return _trainer


def snapshot_due(t: Trainer) -> bool:
    """Every N examples learnt or T seconds (with something new learnt)."""
    global _last_snapshot, _learnt_at_snapshot
    learnt = t.learner.n_learnt - _learnt_at_snapshot
    now = time.monotonic()
    stale = now - _last_snapshot >= stream.snapshot_every_s
    if learnt >= stream.snapshot_every_examples or (learnt and stale):
        _last_snapshot, _learnt_at_snapshot = now, t.learner.n_learnt
        return True
    return False


def resume_due() -> bool:
    """Does this snapshot carry the whole learner? The first of a trainer does, then
    one every ``resume_every_s``."""
    global _last_resume
    now = time.monotonic()
    if now - _last_resume >= stream.resume_every_s:
        _last_resume = now
        return True
    return False
