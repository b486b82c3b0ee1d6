"""Settings of the Faust workers, trainer and scorer. Environment prefix ``ENCORE_``.

>>> StreamSettings().batch_size
5000
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StreamSettings(BaseSettings):
    """How the stream app batches, snapshots and scores."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_", extra="ignore")

    #: Faust app id = consumer group; changelog topics are named after it.
    app_id: str = "encore"
    #: Plays taken from the stream per batch (`stream.take_events`).
    batch_size: int = 5000
    #: Seconds a partial batch waits before it is processed anyway, while a full batch
    #: or more waits in the worker's partitions (a backlog: long batches, fewer of them)...
    batch_within_s: float = 0.25
    #: ...and on a live stream, where the wait is how long a play sits before it is
    #: folded (stream_app/take.py).
    batch_within_live_s: float = 0.05
    #: Longest the broker holds the worker's fetch when it has nothing new, in ms
    #: (Faust's own 1,500 held `plays` back behind quiet standby partitions; see
    #: stream_app/fetch_wait.py).
    fetch_max_wait_ms: int = Field(50, ge=1, le=30_000)
    #: Listener states changed by folded plays are written to the table (and those
    #: plays' offsets become committable) at most this often: a listener played in
    #: several batches meanwhile is encoded and sent once (0 = after every batch)...
    table_write_every_s: float = 5.0
    #: ...or as soon as this many listeners wait, which bounds one write's stall of
    #: the event loop (Kafka Streams' record cache: flushed on commit or when full).
    #: Measured on the bundled file, 1 worker: 5 s instead of 1 s took 17% less worker
    #: CPU per play; a live stream of new listeners at 1,000 plays/s still writes
    #: about every second, in batches of ~1,000 (every 5 s they stalled the loop
    #: 250-350 ms on the 2026-12-07 machine).
    table_write_max_listeners: int = 1000
    #: Publish a model snapshot after this many examples learned...
    snapshot_every_examples: int = 5000
    #: ...or after this many seconds, whichever comes first.
    snapshot_every_s: float = 5.0
    #: The trainer's whole learner (for a trainer taking over: up to a horizon of
    #: examples waiting) goes with the first snapshot, then at most this often, and
    #: whenever the trainer's seat is handed over.
    resume_every_s: float = 60.0
    #: A listener's recommendations are rewritten at most once per this many seconds.
    score_debounce_s: float = 1.0
    #: The scorer looks for listeners due this often. A listener waits half of it on
    #: average after their play is folded in: at 0.25 s, that was 0.12-0.3 s of the
    #: freshness bench's p50 (2026-12-08).
    score_every_s: float = Field(0.05, gt=0.0)
    #: Share of each tick's time the scorer may spend (CPU) before it yields...
    score_share: float = Field(0.2, gt=0.0, le=1.0)
    #: ...and while the worker keeps up with `plays` (:meth:`keeping_up`):
    #: a live stream leaves the event loop idle most of the time, and the scorer is
    #: what keeps recommendations fresh.
    score_share_live: float = Field(0.6, gt=0.0, le=1.0)
    #: How often workers look for a newer model snapshot in Redis.
    model_refresh_s: float = 2.0
    #: Recommendations kept per listener (at most 1,000: the Redis script that writes
    #: them unpacks 2 values an item, and Lua unpacks at most ~8,000).
    top_k: int = Field(10, ge=1, le=1000)
    #: Port of the worker's Prometheus /metrics (0 = off); each worker needs its own.
    metrics_port: int = 0
    #: Every this many seconds (and after loading listeners) the worker collects and
    #: then freezes what survived (``gc.freeze``), so the collector stops re-walking
    #: the listener state, which lives long and holds no cycles (0 = never).
    gc_freeze_every_s: float = 5.0
    #: Level of the logs of what a rebalance does (e.g. "info"): Faust's table recovery
    #: (its offsets and progress) and the plays agent's offset record (each seed). What
    #: to read when a worker seems stuck or re-reads plays after a rebalance; empty:
    #: the worker's own level.
    rebalance_log_level: str = ""

    def table_write_due(self, *, waited_s: float, waiting: int) -> bool:
        """Whether the listener states changed since the last write, ``waiting`` of them
        for ``waited_s``, go to the table now.

        >>> s = StreamSettings(table_write_every_s=5.0, table_write_max_listeners=1000)
        >>> s.table_write_due(waited_s=1.2, waiting=304), s.table_write_due(waited_s=5.0, waiting=304)
        (False, True)
        >>> s.table_write_due(waited_s=0.9, waiting=1000)
        True
        """
        return waited_s >= self.table_write_every_s or waiting >= self.table_write_max_listeners

    def keeping_up(self, plays_behind: int) -> bool:
        """A live stream: fewer than a batch of plays waits in the worker's partitions
        (``plays_behind``: end offsets minus the next offsets to fold, after a batch).
        It decides the next batch's wait and the scorer's share."""
        return plays_behind < self.batch_size

    def batch_wait_s(self, plays_behind: int) -> float:
        """How long the next batch waits to fill (stream_app/take.py).

        >>> s = StreamSettings(batch_size=5000, batch_within_s=0.25, batch_within_live_s=0.05)
        >>> [s.batch_wait_s(n) for n in (0, 4999, 5000, 10**6)]
        [0.05, 0.05, 0.25, 0.25]
        """
        return self.batch_within_live_s if self.keeping_up(plays_behind) else self.batch_within_s


#: The loggers ``rebalance_log_level`` applies to.
REBALANCE_LOGGERS = ("faust.tables.recovery", "encore.offsets")


def rebalance_logging(level: str) -> dict[str, Any] | None:
    """Faust's ``logging_config`` that shows :data:`REBALANCE_LOGGERS` at ``level``.

    The worker's own handler drops records below the worker's level, so these get a
    handler of their own; ``merge`` keeps the rest of Faust's configuration.

    >>> rebalance_logging("") is None
    True
    >>> rebalance_logging("info")["loggers"]["encore.offsets"]["level"]
    'INFO'
    """
    if not level:
        return None
    level = level.upper()
    handler = {
        "level": level,
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stdout",
    }
    return {
        "merge": True,
        "handlers": {"rebalance": handler},
        "loggers": {
            name: {"level": level, "handlers": ["rebalance"], "propagate": False}
            for name in REBALANCE_LOGGERS
        },
    }


def load_or_create_snapshot_key(local_dir: Path) -> bytes:
    """The HMAC key of model snapshots.

    ``ENCORE_SNAPSHOT_KEY`` when set; otherwise a random key kept in a 0600 file
    under the cluster's local dir, made on first use, shared by the workers of
    this machine. Never logged.
    """
    from_env = os.environ.get("ENCORE_SNAPSHOT_KEY")
    if from_env:
        return from_env.encode("utf-8")
    path = local_dir / "snapshot.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(32).encode("ascii"))
    return path.read_bytes().strip()
