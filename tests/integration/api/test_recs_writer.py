"""RecsWriter.write_recommendations (a Lua script) against a real redis-server: the key
contract of ../shared/DESIGN.md, key for key."""

# Fixtures come from api_harness by import, so their names are parameters that
# "redefine" the imports.
# ruff: noqa: F811

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from api_harness import raw, redis_server, writer  # noqa: F401
from pydantic import ValidationError

from stream_app.recs_store import RecItem, RecsWriter, UserRecs
from stream_app.settings import StreamSettings

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def recs(user: str, items: dict[str, float], reasons: dict[str, str] | None = None) -> UserRecs:
    reasons = reasons or {}
    return UserRecs(
        user_id=user,
        items=[RecItem(track_id=t, score=s, reason=reasons.get(t)) for t, s in items.items()],
        model_version="v7",
        scored_at=T0 + timedelta(hours=1),
        as_of_event_time=T0,
        reason="personalised",
    )


def test_write_recommendations_lays_out_the_contract(writer: RecsWriter, raw: redis.Redis) -> None:
    assert writer.write_recommendations(recs("ana", {"a": 0.2, "b": 0.9}, {"b": "played 9 times"})) == 1

    assert raw.zrevrange("encore:recs:ana", 0, -1, withscores=True) == [(b"b", 0.9), (b"a", 0.2)]
    assert raw.hgetall("encore:recs-reasons:ana") == {b"b": b"played 9 times"}
    meta = raw.hgetall("encore:recs-meta:ana")
    assert datetime.fromisoformat(meta.pop(b"as_of_event_time").decode()) == T0
    assert datetime.fromisoformat(meta.pop(b"scored_at").decode()) == T0 + timedelta(hours=1)
    assert meta == {b"model_version": b"v7", b"reason": b"personalised", b"count": b"2"}
    assert raw.zscore("encore:listeners", "ana") == T0.timestamp()
    assert raw.type("encore:recs:ana") == b"zset" and raw.type("encore:recs-meta:ana") == b"hash"


def test_rewrite_replaces_the_whole_list(writer: RecsWriter, raw: redis.Redis) -> None:
    writer.write_recommendations(recs("ana", {"a": 0.2, "b": 0.9}, {"a": "old reason"}))
    writer.write_recommendations(recs("ana", {"c": 0.5}))

    assert raw.zrange("encore:recs:ana", 0, -1) == [b"c"]
    assert raw.exists("encore:recs-reasons:ana") == 0  # stale per-item reasons are gone
    assert raw.hget("encore:recs-meta:ana", "count") == b"1"


def test_an_empty_list_keeps_only_its_meta(writer: RecsWriter, raw: redis.Redis) -> None:
    writer.write_recommendations(recs("ana", {"a": 0.2}, {"a": "why"}))
    writer.write_recommendations(recs("ana", {}))
    assert raw.exists("encore:recs:ana", "encore:recs-reasons:ana") == 0
    assert raw.hget("encore:recs-meta:ana", "count") == b"0"


def test_many_listeners_in_one_call_each_with_its_own_items(writer: RecsWriter, raw: redis.Redis) -> None:
    """The script walks one flat argument list: a miscount would shift every listener
    after the first into another's items."""
    batch = [
        recs(f"u{u}", {f"t{u}-{i}": (u * 10 + i) / 1000 for i in range(u % 4)}, {f"t{u}-0": f"why {u}"})
        for u in range(64)
    ]
    assert writer.write_recommendations(batch) == 64
    for u in range(64):
        stored = raw.zrange(f"encore:recs:u{u}", 0, -1, withscores=True)
        assert stored == [(f"t{u}-{i}".encode(), (u * 10 + i) / 1000) for i in range(u % 4)], u
        reasons = raw.hgetall(f"encore:recs-reasons:u{u}")
        assert reasons == ({f"t{u}-0".encode(): f"why {u}".encode()} if u % 4 else {}), u
        assert raw.hget(f"encore:recs-meta:u{u}", "count") == str(u % 4).encode()
    assert raw.zcard("encore:listeners") == 64
    assert writer.write_recommendations([]) == 0


def test_the_listener_time_only_moves_forward(writer: RecsWriter, raw: redis.Redis) -> None:
    writer.write_recommendations(recs("ana", {"a": 0.5}))
    earlier = recs("ana", {"b": 0.5}).model_copy(update={"as_of_event_time": T0 - timedelta(days=1)})
    writer.write_recommendations(earlier)
    assert raw.zscore("encore:listeners", "ana") == T0.timestamp()
    assert raw.zrange("encore:recs:ana", 0, -1) == [b"b"]  # the list itself is replaced


def test_a_flushed_script_cache_is_reloaded(writer: RecsWriter, raw: redis.Redis) -> None:
    """A restarted Redis has no scripts: the write loads it again, nothing is lost."""
    writer.write_recommendations(recs("ana", {"a": 0.5}))
    raw.script_flush()
    writer.write_recommendations(recs("bo", {"b": 0.25}))
    assert raw.zscore("encore:recs:bo", "b") == 0.25


def test_the_longest_list_settings_allow_is_written(writer: RecsWriter, raw: redis.Redis) -> None:
    """StreamSettings.top_k allows 1,000 items: the script unpacks 2,000 values for them."""
    longest = StreamSettings(top_k=1000).top_k
    with pytest.raises(ValidationError):
        StreamSettings(top_k=longest + 1)
    items = {f"t{i}": i / (2 * longest) for i in range(longest)}
    writer.write_recommendations(recs("ana", items, {t: "why" for t in items}))
    assert raw.zcard("encore:recs:ana") == longest and raw.hlen("encore:recs-reasons:ana") == longest


def test_naive_times_are_refused(writer: RecsWriter, raw: redis.Redis) -> None:
    naive = recs("ana", {"a": 0.1}).model_copy(update={"as_of_event_time": datetime(2024, 1, 1)})
    with pytest.raises(ValueError, match="timezone"):
        writer.write_recommendations(naive)
    assert raw.exists("encore:recs:ana") == 0  # refused before anything is written
