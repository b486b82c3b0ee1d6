"""The `examples` message layout: exact round trips, chunking, refusals."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import orjson
import pytest

from models.features import FEATURE_NAMES
from models.labels import Example
from stream_app.examples_wire import EXAMPLES_PER_MESSAGE, ExampleMessage, decode_examples, encode_examples


def messages(n: int, *, seed: int = 7) -> list[ExampleMessage]:
    rng = random.Random(seed)
    return [
        ExampleMessage(
            example=Example(
                f"listener-{i % 13}",
                f"track-{i % 31}",
                f"event-{i}",
                1.7e9 + rng.random() * 1e6,
                {name: rng.random() * 10 ** rng.randint(-3, 6) for name in FEATURE_NAMES},
                rng.random() < 0.7,
                1.7e9 + 2e6,
            ),
            p=None if i % 5 == 0 else rng.random(),
            model_version=None if i % 5 == 0 else f"v{i % 3}-100",
            watermark=1.7e9 + i,
        )
        for i in range(n)
    ]


def test_examples_round_trip_exactly_in_chunks() -> None:
    sent = messages(2 * EXAMPLES_PER_MESSAGE + 17)
    wire = encode_examples(sent)
    assert len(wire) == 3
    got = [m for raw in wire for m in decode_examples(raw)]
    assert got == sent  # every float bit for bit, Nones kept, order kept
    assert got[3].example.features == sent[3].example.features


def test_features_of_other_names_travel_as_dicts() -> None:
    sent = [ExampleMessage(example=Example("ana", "a", "e1", 1.0, {"x": 0.25}, False, 2.0), p=None,
                           model_version=None, watermark=3.0)]  # fmt: skip
    assert decode_examples(encode_examples(sent)[0]) == sent


def test_no_watermark_yet_travels_as_null_and_comes_back() -> None:
    """A worker whose unread partition holds the watermark at -inf still sends the
    positives that resolved early (the kill -9 fault test sent such a batch)."""
    sent = [replace(m, watermark=-math.inf) for m in messages(2)]
    [wire] = encode_examples(sent)
    assert orjson.loads(wire)["watermark"] == [None, None]
    assert decode_examples(wire) == sent


def test_another_feature_set_and_garbage_are_refused_with_the_reason() -> None:
    doc = orjson.loads(encode_examples(messages(3))[0])
    with pytest.raises(ValueError, match="another feature set"):
        decode_examples(orjson.dumps({**doc, "fs": doc["fs"] + 1}))
    with pytest.raises(ValueError, match="layout"):
        decode_examples(orjson.dumps({**doc, "layout": 1}))
    with pytest.raises(ValueError, match="not an examples message"):
        decode_examples(orjson.dumps({**doc, "x": "not base64!"}))
    with pytest.raises(ValueError, match="not an examples message"):
        decode_examples(orjson.dumps({**doc, "ts": doc["ts"][:-1]}))  # a column short
    with pytest.raises(ValueError, match="not an examples message"):
        decode_examples(b"\xff")
