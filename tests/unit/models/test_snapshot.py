"""Snapshots are HMAC-checked before they are unpickled."""

from __future__ import annotations

import pickle

import pytest

from models.learner import DelayedLearner
from models.snapshot import (
    KEY_ENV,
    SnapshotError,
    SnapshotKeyMissing,
    SnapshotTampered,
    dump_snapshot,
    load_snapshot,
    snapshot_version,
)

KEY = b"0123456789abcdef0123456789abcdef"


def test_round_trip_keeps_the_learner_and_version() -> None:
    learner = DelayedLearner()
    learner.model.learn_one({"pair_plays": 2.0}, True)
    blob = dump_snapshot(learner, version=42, key=KEY)
    restored, version = load_snapshot(blob, key=KEY)
    assert version == 42 == snapshot_version(blob)
    x = {"pair_plays": 2.0}
    assert restored.model.predict_proba_one(x) == learner.model.predict_proba_one(x)


@pytest.mark.parametrize("where", [0, 9, 20, -1])
def test_any_flipped_byte_is_refused(where: int) -> None:
    blob = bytearray(dump_snapshot(DelayedLearner(), version=1, key=KEY))
    blob[where] ^= 0x01
    with pytest.raises(SnapshotError):
        load_snapshot(bytes(blob), key=KEY)


def test_tampered_pickle_is_never_unpickled(monkeypatch: pytest.MonkeyPatch) -> None:
    blob = dump_snapshot({"ok": True}, version=1, key=KEY)
    evil = blob[:48] + pickle.dumps({"ok": False})
    called = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: called.append(a))
    with pytest.raises(SnapshotTampered):
        load_snapshot(evil, key=KEY)
    assert called == []


def test_wrong_key_is_refused() -> None:
    blob = dump_snapshot({"ok": True}, version=1, key=KEY)
    with pytest.raises(SnapshotTampered):
        load_snapshot(blob, key=b"another key")


def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "from-env")
    blob = dump_snapshot([1, 2], version=3)
    assert load_snapshot(blob, key="from-env") == ([1, 2], 3)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(SnapshotKeyMissing):
        load_snapshot(blob)


def test_not_a_snapshot() -> None:
    with pytest.raises(SnapshotError):
        load_snapshot(b"hello", key=KEY)


def _waiting_learner(features: list[dict[str, float]]) -> DelayedLearner:
    from models.labels import Example

    learner = DelayedLearner(horizon_s=100.0, batch_size=2)
    learner.add(
        Example("ana", f"t{i}", f"e{i}", float(i), x, i % 3 != 0, i + 1.0) for i, x in enumerate(features)
    )
    learner.advance(103.5)  # plays at 0..3 closed and learnt, the rest waits
    return learner


@pytest.mark.parametrize("same_keys", [True, False])
def test_waiting_examples_survive_a_snapshot_and_learn_the_same(same_keys: bool) -> None:
    rows = [{"pair_plays": float(i % 5), "user_plays": float(i)} for i in range(40)]
    if not same_keys:
        rows[7] = {"user_plays": 7.0, "pair_plays": 2.0}  # another key order: packed as dicts
    learner = _waiting_learner(rows)
    restored, _ = load_snapshot(dump_snapshot(learner, version=1, key=KEY), key=KEY)
    assert restored.waiting == learner.waiting == 36
    assert restored._buffer == learner._buffer
    assert learner.advance(200.0) == restored.advance(200.0) == 36
    x = {"pair_plays": 3.0, "user_plays": 9.0}
    assert restored.predict_proba_one(x) == learner.predict_proba_one(x)


def test_a_loaded_snapshot_builds_no_waiting_examples_until_used() -> None:
    learner = _waiting_learner([{"pair_plays": float(i)} for i in range(40)])
    restored, _ = load_snapshot(dump_snapshot(learner, version=1, key=KEY), key=KEY)
    assert "_buffer" not in vars(restored)  # a worker that only predicts never unpacks them
    restored.predict_proba_one({"pair_plays": 1.0})
    assert "_buffer" not in vars(restored)
    assert restored.waiting == 36 and "_buffer" in vars(restored)
    again, _ = load_snapshot(dump_snapshot(restored, version=2, key=KEY), key=KEY)
    assert again._buffer == learner._buffer


def test_first_layout_snapshots_still_load() -> None:
    import hashlib
    import hmac

    head = b"ENCSNAP1" + (5).to_bytes(8, "big")
    body = pickle.dumps({"ok": True})
    blob = head + hmac.new(KEY, head + body, hashlib.sha256).digest() + body
    assert load_snapshot(blob, key=KEY) == ({"ok": True}, 5)
