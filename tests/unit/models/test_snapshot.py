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
