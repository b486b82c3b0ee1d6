"""The plays agent's work, without Faust: a batch of plays in, examples out.

`Listening` owns the feature and label state of the listeners on this worker's
partitions. It runs :class:`models.processor.PlayProcessor` (the same code
``encore evaluate`` runs) over each batch, then writes every listener the batch
touched back to the changelogged table **once** (DESIGN.md: one table write per key
per batch is what keeps Faust fast). The stream app's plays agent goes further: it
gathers the listeners of the batches of up to five seconds (``table_write_every_s``,
sooner once ``table_write_max_listeners`` wait) and writes each of them once
(:meth:`write_back`).

The table maps listener id -> `encode_state(...)` bytes. A restarted or rebalanced
worker calls :meth:`Listening.reload` and carries on exactly where the changelog
left it; plays it sees again after a crash are recognised by event id and counted once.

>>> from datetime import datetime, timedelta, UTC
>>> from models.events import PlayEvent
>>> t0 = datetime(2024, 3, 1, tzinfo=UTC)
>>> table = {}
>>> listening = Listening(table=table)
>>> plays = [PlayEvent(user_id="ana", track_id="a", played_at=t0 + timedelta(days=d))
...          for d in (0, 3, 3)]
>>> out = listening.process(plays)
>>> [(e.event_id == plays[0].event_id, e.label) for e in out.examples]
[(True, True)]
>>> out.counts["duplicate"], sorted(table)
(1, ['ana'])
>>> decode_state(table["ana"])[2]["positive"]
1
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from models.events import PlayEvent
from models.features import FeatureRow, ListenerState
from models.labels import Example, LabelState
from models.processor import PlayProcessor
from models.settings import ModelSettings

#: Per-listener label counters kept beside the state (idempotent with it).
LabelCounts = dict[str, int]


def encode_state(features: ListenerState, labels: LabelState | None, counts: LabelCounts) -> bytes:
    """One table value: a listener's feature state, label state and label counts."""
    doc = {
        "f": features.to_dict(),
        "l": labels.to_dict() if labels is not None else None,
        "c": counts,
    }
    # orjson, uncompressed: a state is written once per batch, so encoding speed is
    # what matters (zlib level 1 tripled the cost for a 3x smaller changelog).
    # Copied to its own size: orjson's bytes keep the capacity of its working buffer
    # (tracemalloc: 9.1 KB held per 3.0 KB state in the soak's mix, 65 KB per 3.7 KB
    # document), and the table holds one per listener for as long as it lives.
    return bytes(memoryview(orjson.dumps(doc)))


def decode_state(raw: bytes) -> tuple[ListenerState, LabelState | None, LabelCounts]:
    doc = orjson.loads(raw)
    labels = LabelState.from_dict(doc["l"]) if doc["l"] is not None else None
    return ListenerState.from_dict(doc["f"]), labels, dict(doc["c"])


@dataclass(kw_only=True)
class BatchOutcome:
    """What one batch produced."""

    #: Examples whose labels resolved, in resolution order.
    examples: list[Example] = field(default_factory=list)
    #: Counted plays with their frozen features, in batch order (for scoring at play time).
    counted: list[tuple[PlayEvent, FeatureRow]] = field(default_factory=list)
    #: Listeners whose state changed (written back to the table).
    touched: set[str] = field(default_factory=set)
    #: Plays new to their listener (not a duplicate, not stale), in batch order: what
    #: the listener's recent history shows.
    accepted: list[PlayEvent] = field(default_factory=list)
    #: play / short / duplicate / stale / late.
    counts: Counter[str] = field(default_factory=Counter)


class Listening:
    """Feature and label state of this worker's listeners, folded one batch at a time."""

    def __init__(self, *, table: MutableMapping[str, bytes], settings: ModelSettings | None = None) -> None:
        self.settings = settings or ModelSettings()
        self.table = table
        self.features: dict[str, ListenerState] = {}
        self.labels: dict[str, LabelState] = {}
        self.label_counts: dict[str, LabelCounts] = {}
        #: Per partition of `plays`, how far in event time it got: the highest play time
        #: seen since the last reload, which starts it at the earliest latest play among
        #: the partition's listeners (see :meth:`reload`).
        self.partition_progress: dict[int, float] = {}
        #: Partitions of `plays` this worker owns that hold plays not folded yet while
        #: none of theirs was folded since the last reload (set by the caller before a
        #: batch): they hold the watermark back, as a slow partition does.
        self.unread: frozenset[int] = frozenset()
        self.processor = self._new_processor()

    def _new_processor(self) -> PlayProcessor:
        processor = PlayProcessor(self.settings, self.features, self.labels)
        # Plays of 8 partitions interleave: the highest event time seen is no
        # watermark here. The labeller must not advance on its own; `process`
        # moves it to the slowest partition's progress after each batch.
        processor.labeller.lateness_s = math.inf
        return processor

    @property
    def watermark(self) -> float:
        """Slowest partition's progress in event time, minus the allowed lateness; none
        while a partition in :attr:`unread` has no progress yet.

        A fresh worker's first fetches need not hold every partition: in one run of the
        hostile-events fault test, 159 plays came in late (never examples), a month of
        event time behind the watermark, because the partitions not seen yet did not
        count.

        >>> from datetime import UTC, datetime
        >>> from models.events import PlayEvent
        >>> at = datetime(2009, 1, 31, tzinfo=UTC)
        >>> stream = Listening(table={})
        >>> stream.unread = frozenset({1})  # partition 1 has plays waiting
        >>> _ = stream.process([PlayEvent(user_id="ana", track_id="a", played_at=at)], partitions=[0])
        >>> stream.watermark
        -inf
        """
        progress = self.partition_progress
        if not progress or any(p not in progress for p in self.unread):
            return -math.inf
        return min(progress.values()) - self.settings.allowed_lateness_s

    def reload(
        self, listeners: Iterable[str] | None = None, partition_of: Callable[[str], int] | None = None
    ) -> int:
        """Rebuild the in-memory state from the table (after recovery or a rebalance).

        ``listeners`` limits it to the keys this worker owns now; default: every key.
        ``partition_of`` maps a listener to its `plays` partition. Each partition's
        progress starts at the *earliest* latest play among its listeners' states, so a
        partition taken over with a backlog holds the watermark back until its plays
        catch up. Without it, a partition whose first plays came after the others'
        made those plays late and resolved negatives before their replays arrived
        (tests/faults/test_worker_kill.py).

        Not the latest of them: a worker killed while writing a batch back leaves some
        of its listeners' states in the changelog, past the partition's committed
        offset, and others not. The plays redelivered from that offset are repeats for
        the former and new plays for the latter, and none of those is older than its
        own listener's latest play. Measured from the furthest state, they were late
        (25 plays in one kill -9 run, features exact, labels missing). A partition's
        first plays lift its progress at once. Returns the number of listeners loaded.
        """
        keys = list(self.table.keys()) if listeners is None else list(listeners)
        self.features.clear()
        self.labels.clear()
        self.label_counts.clear()
        for user_id in keys:
            raw = self.table.get(user_id)
            if raw is not None:
                self._adopt(user_id, raw)
        progress = self.partition_progress
        progress.clear()
        if partition_of is not None:
            for user_id, features in self.features.items():
                if math.isfinite(features.latest):
                    p = partition_of(user_id)
                    progress[p] = min(progress.get(p, math.inf), features.latest)
        self.processor = self._new_processor()
        return len(self.features)

    def _adopt(self, user_id: str, raw: bytes) -> None:
        features, labels, counts = decode_state(raw)
        self.features[user_id] = features
        if labels is not None:
            self.labels[user_id] = labels
        self.label_counts[user_id] = counts

    def _ensure_loaded(self, user_id: str) -> None:
        if user_id in self.features:
            return
        raw = self.table.get(user_id)
        if raw is not None:
            self._adopt(user_id, raw)
            # Its pending plays must be in the labeller's deadline index.
            self.processor.labeller.index(user_id)

    def process(
        self, plays: Sequence[PlayEvent], partitions: Sequence[int] | None = None, *, write: bool = True
    ) -> BatchOutcome:
        """Fold a batch of plays (arrival order) in; write each touched listener once.

        ``partitions[i]`` is the `plays` partition of ``plays[i]`` (default: all 0),
        for the event-time watermark, which then moves once, after the batch.
        ``write=False`` leaves the table to :meth:`write_back`, for a caller that must
        first deliver the batch's examples (the stream app does).
        """
        out = BatchOutcome()
        top = self.partition_progress
        for play, partition in zip(plays, partitions or [0] * len(plays), strict=True):
            if play.ts > top.get(partition, -math.inf):
                top[partition] = play.ts
            self._ensure_loaded(play.user_id)
            result = self.processor.process(play)
            out.counts[result.kind] += 1
            if result.late:
                out.counts["late"] += 1
            if result.kind in ("play", "short"):
                out.touched.add(play.user_id)
                out.accepted.append(play)
            if result.features is not None and not result.late:
                out.counted.append((play, result.features))
            out.examples.extend(result.examples)
        out.examples.extend(self.processor.labeller.advance(self.watermark))
        for example in out.examples:
            counts = self.label_counts.setdefault(example.user_id, {"positive": 0, "negative": 0})
            counts["positive" if example.label else "negative"] += 1
            out.touched.add(example.user_id)
        if write:
            self.write_back(out.touched)
        return out

    def write_back(self, listeners: Iterable[str]) -> None:
        """Write these listeners' state to the table, once each.

        The state records which plays were seen, so a play delivered again after a
        crash is a duplicate and resolves nothing: the examples a batch resolved must
        be in Kafka *before* the state that says so, or a crash in between loses them.
        """
        for user_id in listeners:
            self.table[user_id] = encode_state(
                self.features[user_id],
                self.labels.get(user_id),
                self.label_counts.setdefault(user_id, {"positive": 0, "negative": 0}),
            )

    def snapshot_of(self, user_id: str) -> dict[str, Any] | None:
        """A listener's state as plain data (tests compare it with the offline path)."""
        raw = self.table.get(user_id)
        if raw is None:
            return None
        features, labels, counts = decode_state(raw)
        return {
            "features": features.to_dict(),
            "labels": labels.to_dict() if labels is not None else None,
            "counts": counts,
        }
