"""The `examples` topic's messages: resolved examples, a chunk of a batch per message.

A message holds up to :data:`EXAMPLES_PER_MESSAGE` examples as columns, one JSON
array per field. The features of the usual names travel as one block of float64
values, row after row in :data:`~models.features.FEATURE_NAMES` order (base64, under
the names' signature ``fs``): exact, and no float is formatted or parsed per value,
which as JSON numbers was most of what the worker and the trainer spent per example.
Features with other names travel as a list of dicts.

>>> from models.labels import Example
>>> x = {"pair_plays": 3.0}
>>> msg = ExampleMessage(example=Example("ana", "a", "e1", 0.0, x, True, 5.0),
...                      p=0.7, model_version="v0", watermark=11.0)
>>> [wire] = encode_examples([msg])
>>> decode_examples(wire) == [msg]
True
>>> decode_examples(b"[1, 2]")
Traceback (most recent call last):
...
ValueError: not an examples message: ...
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from models.features import FEATURE_NAMES
from models.labels import FEATURE_SET, Example

#: Examples per `examples` message: one message per chunk of a worker's batch keeps
#: Faust's per-message cost off the trainer's path (and messages well under 1 MB).
EXAMPLES_PER_MESSAGE = 200

#: Layout of a message (a message of another layout is refused, not misread).
LAYOUT = 2


@dataclass(frozen=True, kw_only=True)
class ExampleMessage:
    """One resolved example as the trainer receives it."""

    example: Example
    #: P(replay) the worker predicted at play time, with the model it had then.
    p: float | None
    model_version: str | None
    #: The sending worker's event-time watermark (-inf: none yet, while a partition
    #: with plays waiting holds it back; null on the wire, where JSON has no infinity).
    watermark: float


def encode_examples(messages: Sequence[ExampleMessage]) -> list[bytes]:
    """Chunks of examples as `examples` message values."""
    return [
        orjson.dumps(_columns(messages[i : i + EXAMPLES_PER_MESSAGE]))
        for i in range(0, len(messages), EXAMPLES_PER_MESSAGE)
    ]


def _columns(chunk: Sequence[ExampleMessage]) -> dict[str, Any]:
    examples = [m.example for m in chunk]
    doc: dict[str, Any] = {
        "layout": LAYOUT,
        "user_id": [e.user_id for e in examples],
        "track_id": [e.track_id for e in examples],
        "event_id": [e.event_id for e in examples],
        "ts": [e.ts for e in examples],
        "label": [e.label for e in examples],
        "resolved_at": [e.resolved_at for e in examples],
        "p": [m.p for m in chunk],
        "model_version": [m.model_version for m in chunk],
        "watermark": [m.watermark if math.isfinite(m.watermark) else None for m in chunk],
    }
    if all(isinstance(e.values, tuple) for e in examples):
        block = np.array([e.values for e in examples], dtype="<f8")
        doc["fs"], doc["x"] = FEATURE_SET, base64.b64encode(block.tobytes()).decode("ascii")
    else:
        doc["fs"], doc["features"] = None, [e.features for e in examples]
    return doc


def decode_examples(raw: bytes) -> list[ExampleMessage]:
    """One `examples` message value back into examples; raises ValueError on garbage
    (or on features of another feature set than this code's)."""
    try:
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or doc.get("layout") != LAYOUT:
            raise ValueError(f"layout {doc.get('layout') if isinstance(doc, dict) else type(doc).__name__}")
        n = len(doc["event_id"])
        values: Sequence[Any]
        if doc["fs"] is None:
            values = doc["features"]
        elif doc["fs"] == FEATURE_SET:
            block = np.frombuffer(base64.b64decode(doc["x"], validate=True), dtype="<f8")
            values = [tuple(row) for row in block.reshape(n, len(FEATURE_NAMES)).tolist()]
        else:
            raise ValueError(f"another feature set (signature {doc['fs']}; this code's is {FEATURE_SET})")
        columns = zip(
            doc["user_id"], doc["track_id"], doc["event_id"], doc["ts"], values, doc["label"],
            doc["resolved_at"], doc["p"], doc["model_version"], doc["watermark"], strict=True,
        )  # fmt: skip
        return [
            ExampleMessage(
                example=Example(user, track, event_id, float(ts), x, bool(label), float(resolved)),
                p=p,
                model_version=version,
                watermark=-math.inf if watermark is None else float(watermark),
            )
            for user, track, event_id, ts, x, label, resolved, p, version, watermark in columns
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an examples message: {exc}") from exc
