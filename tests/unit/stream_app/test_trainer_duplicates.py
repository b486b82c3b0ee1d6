"""The trainer's duplicate window: the last SEEN_IDS example ids, oldest forgotten first."""

from __future__ import annotations

import pytest

from models.labels import Example
from stream_app import trainer as trainer_module
from stream_app.examples_wire import ExampleMessage
from stream_app.trainer import Trainer


def message(i: int) -> ExampleMessage:
    x = {"pair_plays": float(i % 4)}
    ex = Example("ana", f"t{i % 5}", f"e{i}", i * 60.0, x, i % 2 == 0, i * 60.0 + 1)
    return ExampleMessage(example=ex, p=None, model_version=None, watermark=i * 60.0)


def test_a_copy_inside_the_window_is_dropped_one_outside_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainer_module, "SEEN_IDS", 100)
    trainer = Trainer(horizon_s=86_400.0)
    assert trainer.take([message(i) for i in range(150)]) == 150
    # The window holds e50..e149: copies of e50..e59 are dropped, of e40..e49 taken again.
    assert trainer.take([message(i) for i in [*range(50, 60), *range(40, 50)]]) == 10
    assert trainer.duplicates == 10
    assert trainer.taken == 160


def test_ids_restored_from_a_resume_snapshot_are_duplicates() -> None:
    key = b"k" * 32
    first = Trainer(horizon_s=86_400.0)
    first.take([message(i) for i in range(30)], next_offset=3)
    blob = first.snapshot(key, resume=True).resume_blob
    assert blob is not None
    second = Trainer(horizon_s=86_400.0)
    second.resume(blob, key)
    assert second.take([message(i) for i in range(25, 35)]) == 5
    assert second.duplicates == 5
