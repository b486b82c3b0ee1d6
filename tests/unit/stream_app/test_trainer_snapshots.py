"""The trainer's snapshots: the model alone for the workers, the whole learner to resume."""

from __future__ import annotations

from models.features import FEATURE_NAMES
from models.labels import Example
from models.snapshot import load_snapshot
from stream_app.examples_wire import ExampleMessage
from stream_app.trainer import Trainer

KEY = b"k" * 32
DAY = 86_400.0


def messages(n: int, *, start: int = 0) -> list[ExampleMessage]:
    out = []
    for i in range(start, start + n):
        x = {name: float((i * 7 + j) % 11) for j, name in enumerate(FEATURE_NAMES)}
        ex = Example("ana", f"t{i % 13}", f"e{i}", i * 3600.0, x, i % 3 != 0, i * 3600.0 + 10)
        out.append(ExampleMessage(example=ex, p=0.5, model_version="v0", watermark=i * 3600.0))
    return out


def test_the_model_snapshot_leaves_the_waiting_examples_out() -> None:
    trainer = Trainer(horizon_s=30 * DAY, learn_batch=16)
    trainer.take(messages(2000), next_offset=40)  # ~83 days: most closed and learnt, a month waits
    assert trainer.learner.n_learnt > 0 and trainer.learner.waiting > 500
    snap = trainer.snapshot(KEY)
    assert snap.resume_blob is None
    model, _ = load_snapshot(snap.blob, key=KEY)
    assert model.waiting == 0 and model.n_learnt == trainer.learner.n_learnt
    x = messages(1)[0].example.features
    assert model.predict_proba_one(x) == trainer.learner.predict_proba_one(x)
    assert trainer.snapshot_offset == 0  # no resume point published yet

    whole = trainer.snapshot(KEY, resume=True)
    assert whole.resume_blob is not None and len(whole.blob) * 5 < len(whole.resume_blob)
    resumed, _ = load_snapshot(whole.resume_blob, key=KEY)
    assert resumed.waiting == trainer.learner.waiting
    assert trainer.snapshot_offset == 40


def test_a_trainer_resumed_from_the_whole_learner_continues_exactly() -> None:
    first, rest = messages(1500), messages(500, start=1500)
    straight = Trainer(horizon_s=30 * DAY, learn_batch=16)
    straight.take(first, next_offset=30)
    straight.take(rest, next_offset=40)

    crashed = Trainer(horizon_s=30 * DAY, learn_batch=16)
    crashed.take(first, next_offset=30)
    whole = crashed.snapshot(KEY, resume=True).resume_blob
    assert whole is not None
    resumed = Trainer(horizon_s=30 * DAY, learn_batch=16)
    resumed.resume(whole, KEY)
    assert (resumed.next_offset, resumed.taken) == (30, 1500)
    assert resumed.take(first[-50:]) == 0  # re-sent after the crash: duplicates
    resumed.take(rest, next_offset=40)
    assert resumed.learner.n_learnt == straight.learner.n_learnt
    assert resumed.learner.waiting == straight.learner.waiting
    x = rest[-1].example.features
    assert resumed.learner.predict_proba_one(x) == straight.learner.predict_proba_one(x)
