"""RecsWriter.append_plays (a Lua script) against a real redis-server: each listener's
recent history, newest first, each play once, and the names the plays carry."""

# Fixtures come from api_harness by import, so their names are parameters that
# "redefine" the imports.
# ruff: noqa: F811

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from api_harness import RedisServer, raw, redis_server  # noqa: F401

from models.events import PlayEvent
from stream_app.recs_store import RecsWriter

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def writer(redis_server: RedisServer, raw: redis.Redis) -> Iterator[RecsWriter]:
    w = RecsWriter(redis_server.client(), "encore:", history_len=5)
    yield w
    w.client.close()


def play(user: str, track: str, minutes: int, name: str | None = None) -> PlayEvent:
    return PlayEvent(
        user_id=user,
        track_id=track,
        played_at=T0 + timedelta(minutes=minutes),
        ms_played=200_000,
        track_name=name,
        artist_name="Artist" if name else None,
    )


def history(raw: redis.Redis, user: str) -> list[str]:
    return [json.loads(entry)["track_id"] for entry in raw.lrange(f"encore:history:{user}", 0, -1)]


def test_the_newest_n_are_kept_newest_first_with_the_names(writer: RecsWriter, raw: redis.Redis) -> None:
    plays = [play("ana", f"t{i}", i, name=f"Song {i}") for i in range(8)]
    # Arrival order differs from event order inside a batch: the list is by event time.
    assert writer.append_plays(reversed(plays)) == 8
    assert history(raw, "ana") == ["t7", "t6", "t5", "t4", "t3"]
    assert raw.hgetall("encore:track:t2") == {b"name": b"Song 2", b"artist": b"Artist"}
    assert raw.zscore("encore:listeners", "ana") == (T0 + timedelta(minutes=7)).timestamp()

    # A late batch does not move the listener's last event time backwards.
    writer.append_plays([play("ana", "late", -60)])
    assert raw.zscore("encore:listeners", "ana") == (T0 + timedelta(minutes=7)).timestamp()


def test_a_batch_appended_again_shows_each_play_once(writer: RecsWriter, raw: redis.Redis) -> None:
    """A batch folded again after a rebalance or a crash appends the same plays again."""
    first = [play("ana", "a", 0), play("ana", "b", 1), play("bo", "c", 0)]
    writer.append_plays(first)
    writer.append_plays([play("ana", "d", 2)])
    writer.append_plays(first)  # again, after a newer play
    assert history(raw, "ana") == ["d", "b", "a"]
    assert history(raw, "bo") == ["c"]
    # A replay of the same track at another time is another play.
    writer.append_plays([play("ana", "a", 3)])
    assert history(raw, "ana") == ["a", "d", "b", "a"]


def test_names_only_set_what_a_play_carries(writer: RecsWriter, raw: redis.Redis) -> None:
    raw.hset("encore:track:x", mapping={"name": "Old", "artist": "Band"})
    writer.append_plays([play("ana", "x", 0, name="New"), play("ana", "y", 1)])
    assert raw.hgetall("encore:track:x") == {b"name": b"New", b"artist": b"Artist"}
    assert raw.exists("encore:track:y") == 0


def test_listeners_most_recent_first(writer: RecsWriter, raw: redis.Redis) -> None:
    writer.append_plays([play("old", "a", 0), play("new", "a", 10), play("mid", "a", 5)])
    assert raw.zrevrange("encore:listeners", 0, 1) == [b"new", b"mid"]


def test_a_flushed_script_cache_is_reloaded(writer: RecsWriter, raw: redis.Redis) -> None:
    writer.append_plays([play("ana", "a", 0)])
    raw.script_flush()
    writer.append_plays([play("ana", "b", 1)])
    assert history(raw, "ana") == ["b", "a"]
