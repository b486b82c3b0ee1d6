"""recs_store writers and readers without Lua, on fakeredis (the Lua lookup, the Lua
writers of recommendations and of histories, and the round trips are checked against a
real redis-server in tests/integration/api)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import fakeredis
import pytest
from pydantic import ValidationError

from models.snapshot import SnapshotTampered, dump_snapshot, load_snapshot
from stream_app.recs_store import (
    MetricsPoint,
    ModelMetrics,
    ModelSnapshot,
    RecItem,
    RecsReader,
    RecsWriter,
    TrackInfo,
)

T = TypeVar("T")
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
PREFIX = "t:"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def sync(server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=server)


@pytest.fixture
def writer(sync: fakeredis.FakeRedis) -> RecsWriter:
    return RecsWriter(sync, PREFIX, history_len=5)


def reader(server: fakeredis.FakeServer) -> RecsReader:
    return RecsReader(fakeredis.FakeAsyncRedis(server=server), PREFIX)


@pytest.mark.parametrize("score", [1.5, -0.1, math.nan, math.inf])
def test_scores_must_be_probabilities(score: float) -> None:
    with pytest.raises(ValidationError):
        RecItem(track_id="a", score=score)


def test_history_of_unknown_listener(server: fakeredis.FakeServer) -> None:
    assert run(reader(server).history("nobody", 10)) == (False, [])


def test_write_tracks_keeps_fields_left_out(writer: RecsWriter, sync: fakeredis.FakeRedis) -> None:
    writer.write_tracks([TrackInfo(track_id="x", name="Name", artist="Band")])
    writer.write_tracks([TrackInfo(track_id="x", name="New name"), TrackInfo(track_id="y")])
    assert sync.hgetall("t:track:x") == {b"name": b"New name", b"artist": b"Band"}
    assert sync.exists("t:track:y") == 0


def test_model_snapshot_round_trip_and_hmac(writer: RecsWriter, server: fakeredis.FakeServer) -> None:
    assert writer.read_model_snapshot() is None
    assert run(reader(server).model()) is None
    learner = {"weights": bytes(range(256)) * 4}  # pickles to binary, not UTF-8
    data = dump_snapshot(learner, version=3, key=b"secret")
    writer.publish_model(
        ModelSnapshot.of_blob("v3", data),
        ModelMetrics(examples_learned=1234, rolling_auc=0.81, rolling_logloss=0.5),
        published_at=T0,
    )
    snap = writer.read_model_snapshot()
    assert snap is not None and snap.data == data and snap.version == "v3"
    assert load_snapshot(snap.data, key=b"secret") == (learner, 3)
    with pytest.raises(SnapshotTampered):
        load_snapshot(snap.data, key=b"other key")
    with pytest.raises(SnapshotTampered):
        load_snapshot(snap.data + b"x", key=b"secret")
    assert writer.model_version() == "v3"

    info = run(reader(server).model())
    assert info is not None
    assert (info.version, info.examples_learned, info.snapshot_bytes) == ("v3", 1234, len(data))
    assert (info.rolling_auc, info.rolling_logloss, info.published_at) == (0.81, 0.5, T0)

    # A newer snapshot without metrics must not keep the old AUC around.
    writer.publish_model(
        ModelSnapshot.of_blob("v4", dump_snapshot(None, version=4, key=b"k")),
        ModelMetrics(examples_learned=5),
    )
    info = run(reader(server).model())
    assert info is not None and info.version == "v4" and info.rolling_auc is None


def test_metrics_history_oldest_first(writer: RecsWriter, server: fakeredis.FakeServer) -> None:
    for i in range(5):
        writer.record_metrics(
            MetricsPoint(
                event_time=1000.0 + i,
                wall_time=2000.0 + i,
                auc=0.6 + i / 100,
                logloss=None if i == 0 else 0.5,
                examples=i * 10,
                plays_per_second=100.0 * i,
            )
        )
    points = run(reader(server).metrics_history(3))
    assert [p.event_time for p in points] == [1002.0, 1003.0, 1004.0]
    assert points[-1].auc == pytest.approx(0.64) and points[-1].plays_per_second == 400.0
    assert run(reader(server).metrics_history(10))[0].logloss is None


def test_the_whole_learner_goes_beside_the_model_and_stays_until_replaced(writer: RecsWriter) -> None:
    key = b"secret"
    model_v1 = ModelSnapshot.of_blob("v1", dump_snapshot({"model": 1}, version=1, key=key))
    metrics = ModelMetrics(examples_learned=10)
    writer.publish_model(model_v1, metrics)
    assert writer.read_resume_snapshot() == model_v1  # none apart: the model is what there is
    whole_v2 = ModelSnapshot.of_blob("v2", dump_snapshot({"model": 2, "waiting": [1, 2]}, version=2, key=key))
    model_v2 = ModelSnapshot.of_blob("v2", dump_snapshot({"model": 2}, version=2, key=key))
    writer.publish_model(model_v2, metrics, resume=whole_v2)
    model_v3 = ModelSnapshot.of_blob("v3", dump_snapshot({"model": 3}, version=3, key=key))
    writer.publish_model(model_v3, metrics)
    assert writer.read_model_snapshot() == model_v3
    assert writer.read_resume_snapshot() == whole_v2
    assert load_snapshot(whole_v2.data, key=key)[0] == {"model": 2, "waiting": [1, 2]}
