"""The trainer: one consumer of `examples`, one River model, signed snapshots.

Each example arrives when its label resolves (a positive early, at the replay; a
negative when the horizon has passed). The trainer scores it with its current model
*before* learning (progressive validation), then hands it to the
:class:`~models.learner.DelayedLearner`, which learns it only once the watermark has
passed its horizon, so the model does not inherit the skew of early positives.

Metrics are predict-then-learn: when an example's horizon closes, the trainer scores
it with the model as it is, then learns it. Every example, positive or negative, is
scored at the same point of event time (its horizon), by a model that has learnt only
plays older than it, so the figures depend on event time alone, not on how fast the
plays were replayed. (The workers' play-time scores travel in the examples for the
record; they depend on how fresh a snapshot each worker had.)

>>> from models.labels import Example
>>> from stream_app.examples_wire import ExampleMessage, encode_examples, decode_examples
>>> trainer = Trainer(horizon_s=10.0, learn_batch=1)
>>> x = {"pair_plays": 3.0}
>>> msg = ExampleMessage(example=Example("ana", "a", "e1", 0.0, x, True, 5.0),
...                      p=0.7, model_version="v0", watermark=11.0)
>>> [wire] = encode_examples([msg])
>>> n = trainer.take(decode_examples(wire))
>>> (n, trainer.learner.n_learnt, trainer.duplicates)
(1, 1, 0)
>>> trainer.take([msg])
0
>>> trainer.duplicates
1
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from array import array
from collections import deque
from dataclasses import dataclass

import numpy as np
from river import metrics

from models.labels import Example
from models.learner import DelayedLearner, make_learner
from models.metrics import BinnedAUC, MeanLogLoss
from models.snapshot import SnapshotError, dump_snapshot, load_snapshot
from stream_app.examples_wire import ExampleMessage
from stream_app.recs_store import ModelSnapshot

#: Event ids remembered (as 64-bit prefixes: ~70 B each where the id strings in an
#: ordered dict took ~180 B, 90 MB at this count) to drop examples delivered twice
#: after a worker restart.
SEEN_IDS = 500_000
#: Of those, the most recent carried in a snapshot (8 bytes each), so that a trainer
#: resumed from it on another worker still drops the copies a crashed worker re-sends.
RESUME_IDS = 100_000


def _id_prefix(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A signed learner (:mod:`models.snapshot` bytes) and the version it is published under.

    ``blob``: the model alone, for the workers' predictions. ``resume_blob`` (when asked
    for): the whole learner, examples waiting for their horizon and the resume point
    included, for a trainer taking over; up to a horizon's worth of examples, so it is
    made less often.
    """

    version: str
    blob: bytes
    examples_learned: int
    resume_blob: bytes | None = None


class Trainer:
    """Predict-then-learn over resolved examples; rolling metrics; snapshots."""

    def __init__(
        self, *, horizon_s: float = 30 * 86_400.0, window: int = 10_000, learn_batch: int | None = None
    ) -> None:
        self.learner = make_learner(horizon_s)
        if learn_batch is not None:
            self.learner.batch_size = learn_batch
        self.auc = metrics.RollingROCAUC(window_size=window)
        self.logloss = MeanLogLoss(window=window)
        #: AUC and mean log loss over every example learnt so far.
        self.auc_so_far = BinnedAUC()
        self.logloss_so_far = MeanLogLoss()
        self.examples_seen = 0
        self.duplicates = 0
        self.watermark = -math.inf
        self.max_event_time = -math.inf
        self.snapshot_seq = 0
        #: Id prefixes of the last SEEN_IDS examples taken: a set, and their order.
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        #: Resume point, carried in snapshots: the `examples` offset to read on from,
        #: the examples this model's lineage has taken (across workers), and the last
        #: RESUME_IDS id prefixes of ``_order`` (a resumed trainer remembers them).
        self.next_offset = 0
        self.taken = 0
        #: ``next_offset`` of the last snapshot made.
        self.snapshot_offset = 0

    def take(self, messages: list[ExampleMessage], *, next_offset: int | None = None) -> int:
        """Take a batch of examples; return how many were new (not duplicates).

        ``next_offset``: the `examples` offset after the batch's last message.
        """
        fresh: list[Example] = []
        seen = self._seen
        for msg in messages:
            ex = msg.example
            prefix = _id_prefix(ex.event_id)
            if prefix in seen:
                self.duplicates += 1
                continue
            self._remember(prefix)
            fresh.append(ex)
            self.watermark = max(self.watermark, msg.watermark)
            self.max_event_time = max(self.max_event_time, ex.resolved_at)
        self.examples_seen += len(fresh)
        self.taken += len(fresh)
        if next_offset is not None:
            self.next_offset = max(self.next_offset, next_offset)
        self.learner.add(fresh)
        if self.learner.close(self.watermark):
            self._score()
            self.learner.flush()
        return len(fresh)

    def _remember(self, prefix: int) -> None:
        self._seen.add(prefix)
        self._order.append(prefix)
        if len(self._order) > SEEN_IDS:
            self._seen.discard(self._order.popleft())

    def _score(self) -> None:
        """Predict the examples about to be learnt, with the model before it learns them."""
        frame, labels = self.learner.closed_batch()
        probs = np.clip(np.asarray(self.learner.predict_proba_many(frame), dtype=float), 1e-7, 1 - 1e-7)
        for label, p in zip(labels, probs.tolist(), strict=True):
            self.auc.update(label, p)
        self.logloss.update_many(labels, probs)
        self.auc_so_far.update_many(labels, probs)
        self.logloss_so_far.update_many(labels, probs)

    @property
    def rolling_auc(self) -> float | None:
        value = self.auc.get()
        return float(value) if self.learner.n_learnt and not math.isnan(value) else None

    @property
    def rolling_logloss(self) -> float | None:
        return self.logloss.get() if self.learner.n_learnt else None

    def snapshot(self, key: bytes, *, resume: bool = False) -> Snapshot:
        """The model, signed; with ``resume`` also the whole learner (model, examples
        waiting for their horizon, resume point), signed, under the same version."""
        self.snapshot_seq += 1
        n = self.learner.n_learnt
        blob = dump_snapshot(self.learner.for_prediction(), version=self.snapshot_seq, key=key)
        resume_blob = None
        if resume:
            self.snapshot_offset = self.next_offset
            # Rides inside the signed learner.
            self.learner.resume_point = {  # type: ignore[attr-defined]
                "next_offset": self.next_offset,
                "taken": self.taken,
                "recent": array("Q", list(self._order)[-RESUME_IDS:]).tobytes(),
            }
            resume_blob = dump_snapshot(self.learner, version=self.snapshot_seq, key=key)
        version = f"v{self.snapshot_seq}-{n}"
        return Snapshot(version=version, blob=blob, examples_learned=n, resume_blob=resume_blob)

    def resume(self, blob: bytes, key: bytes) -> None:
        """Continue from a resume snapshot (``Snapshot.resume_blob``); raises
        SnapshotTampered (unpickling nothing) on a bad one. A model-only snapshot
        resumes the model alone: the `examples` offset then comes from the group."""
        learner, seq = load_snapshot(blob, key=key)
        if not isinstance(learner, DelayedLearner):
            raise SnapshotError(f"snapshot holds a {type(learner).__name__}, not a DelayedLearner")
        self.learner, self.snapshot_seq = learner, seq
        point = getattr(learner, "resume_point", None)
        if point is not None:
            self.next_offset, self.taken = int(point["next_offset"]), int(point["taken"])
            self.snapshot_offset = self.next_offset
            recent = array("Q")
            recent.frombytes(point["recent"])
            for prefix in recent:
                self._remember(prefix)


def snapshot_message(snapshot: ModelSnapshot) -> bytes:
    """A signed snapshot as a `model-snapshots` message (JSON, bytes in base64)."""
    doc = {
        "version": snapshot.version,
        "hmac": snapshot.hmac,
        "data": base64.b64encode(snapshot.data).decode(),
    }
    return json.dumps(doc).encode("utf-8")
