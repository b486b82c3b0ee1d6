"""The trainer: one consumer of `examples`, one River model, signed snapshots.

Each example arrives when its label resolves (a positive early, at the replay; a
negative when the horizon has passed). The trainer scores it with its current model
*before* learning (progressive validation), then hands it to the
:class:`~models.learner.DelayedLearner`, which learns it only once the watermark has
passed its horizon, so the model does not inherit the skew of early positives.

The rolling AUC and log loss are taken on the play-time predictions the workers made
(carried in each example), the same protocol as ``encore evaluate``; the trainer's own
pre-learn score stands in when a play was not scored (no model yet).

>>> from models.labels import Example
>>> trainer = Trainer(horizon_s=10.0)
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
import json
import math
import pickle
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from river import metrics, utils

from models.labels import Example
from models.learner import DelayedLearner
from stream_app.recs_store import ModelSnapshot

#: Event ids remembered to drop examples delivered twice (after a worker restart).
SEEN_IDS = 500_000


#: Examples per `examples` message: one message per chunk of a worker's batch keeps
#: Faust's per-message cost off the trainer's path (and messages well under 1 MB).
EXAMPLES_PER_MESSAGE = 200


@dataclass(frozen=True, kw_only=True)
class ExampleMessage:
    """One resolved example as the trainer receives it."""

    example: Example
    #: P(replay) the worker predicted at play time, with the model it had then.
    p: float | None
    model_version: str | None
    #: The sending worker's event-time watermark.
    watermark: float


def encode_examples(messages: Sequence[ExampleMessage]) -> list[bytes]:
    """Chunks of examples as `examples` message values."""
    docs = [
        {"example": m.example.to_dict(), "p": m.p, "model_version": m.model_version, "watermark": m.watermark}
        for m in messages
    ]
    return [
        orjson.dumps(docs[i : i + EXAMPLES_PER_MESSAGE]) for i in range(0, len(docs), EXAMPLES_PER_MESSAGE)
    ]


def decode_examples(raw: bytes) -> list[ExampleMessage]:
    """One `examples` message value back into examples; raises ValueError on garbage."""
    try:
        docs = orjson.loads(raw)
        return [
            ExampleMessage(
                example=Example.from_dict(doc["example"]),
                p=doc.get("p"),
                model_version=doc.get("model_version"),
                watermark=float(doc["watermark"]),
            )
            for doc in docs
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not an examples message: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A model as bytes, with the version it is published under."""

    version: str
    data: bytes
    examples_learned: int


class Trainer:
    """Predict-then-learn over resolved examples; rolling metrics; snapshots."""

    def __init__(self, *, horizon_s: float = 30 * 86_400.0, window: int = 10_000) -> None:
        self.learner = DelayedLearner(horizon_s=horizon_s)
        self.auc = metrics.RollingROCAUC(window_size=window)
        self.logloss = utils.Rolling(metrics.LogLoss(), window_size=window)
        self.examples_seen = 0
        self.duplicates = 0
        self.watermark = -math.inf
        self.max_event_time = -math.inf
        self.snapshot_seq = 0
        self._seen: OrderedDict[str, None] = OrderedDict()

    def take(self, messages: list[ExampleMessage]) -> int:
        """Take a batch of examples; return how many were new (not duplicates)."""
        fresh: list[Example] = []
        for msg in messages:
            ex = msg.example
            if ex.event_id in self._seen:
                self.duplicates += 1
                continue
            self._seen[ex.event_id] = None
            if len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
            p = msg.p if msg.p is not None else self.learner.predict_proba_one(ex.features)
            p = min(max(p, 1e-7), 1 - 1e-7)
            self.auc.update(ex.label, p)
            self.logloss.update(ex.label, p)
            fresh.append(ex)
            self.watermark = max(self.watermark, msg.watermark)
            self.max_event_time = max(self.max_event_time, ex.resolved_at)
        self.examples_seen += len(fresh)
        self.learner.add(fresh)
        self.learner.advance(self.watermark)
        return len(fresh)

    @property
    def rolling_auc(self) -> float | None:
        value = self.auc.get()
        return float(value) if self.examples_seen and not math.isnan(value) else None

    @property
    def rolling_logloss(self) -> float | None:
        return float(self.logloss.get()) if self.examples_seen else None

    def snapshot(self) -> Snapshot:
        """The model as bytes under a new version (``v<seq>-<examples learnt>``)."""
        self.snapshot_seq += 1
        state: dict[str, Any] = {
            "model": self.learner.model,
            "n_learnt": self.learner.n_learnt,
            "seq": self.snapshot_seq,
        }
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        version = f"v{self.snapshot_seq}-{self.learner.n_learnt}"
        return Snapshot(version=version, data=data, examples_learned=self.learner.n_learnt)

    def resume(self, data: bytes) -> None:
        """Continue from a snapshot's (already verified) bytes."""
        state = restore(data)
        self.learner.model = state["model"]
        self.learner.n_learnt = int(state["n_learnt"])
        self.snapshot_seq = int(state["seq"])


def snapshot_message(snapshot: ModelSnapshot) -> bytes:
    """A signed snapshot as a `model-snapshots` message (JSON, bytes in base64)."""
    doc = {
        "version": snapshot.version,
        "hmac": snapshot.hmac,
        "data": base64.b64encode(snapshot.data).decode(),
    }
    return json.dumps(doc).encode("utf-8")


def restore(data: bytes) -> dict[str, Any]:
    """Unpickle snapshot bytes. Only call it on bytes whose HMAC was verified."""
    state = pickle.loads(data)  # HMAC checked by the caller
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError("snapshot bytes do not hold a model")
    return state
