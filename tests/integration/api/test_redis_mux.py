"""stream_app.redis_mux against a real redis-server: every concurrent call gets its own
reply over one connection, and each failure is the redis-py error the API's handlers
turn into a 503, after which the next call connects again. Also the reader's
``TrackNames``: names read once per TTL, a rename shown after it."""

# Fixtures come from api_harness by import, so their names are parameters that
# "redefine" the imports.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from api_harness import RedisServer, raw, redis_server  # noqa: F401

from stream_app.recs_store import (
    LOOKUP_LUA,
    LOOKUP_SHA,
    RecItem,
    RecsReader,
    RecsWriter,
    TrackInfo,
    UserRecs,
    async_client,
)
from stream_app.redis_mux import MuxConnection
from stream_app.track_names import TrackNames

pytestmark = pytest.mark.integration


def mux(server: RedisServer, *, password: str | None = "same", timeout_s: float = 2.0) -> MuxConnection:
    return MuxConnection(
        host="127.0.0.1",
        port=server.port,
        password=server.password if password == "same" else password,
        timeout_s=timeout_s,
    )


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(body())


def test_concurrent_calls_get_their_own_replies_over_one_connection(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    connections_before = raw.info("stats")["total_connections_received"]
    m = mux(redis_server)

    async def body() -> list[Any]:
        calls = [m.execute("ECHO", f"m{i}") if i % 2 else m.execute("INCR", "n") for i in range(1000)]
        replies = await asyncio.gather(*calls)
        await m.aclose()
        return replies

    replies = run(body)
    assert [r for i, r in enumerate(replies) if i % 2] == [f"m{i}" for i in range(1, 1000, 2)]
    assert sorted(r for i, r in enumerate(replies) if i % 2 == 0) == list(range(1, 501))
    assert raw.info("stats")["total_connections_received"] - connections_before == 1


def test_an_error_reply_fails_its_call_only(redis_server: RedisServer, raw: redis.Redis) -> None:
    raw.set("s", "text")
    m = mux(redis_server)

    async def body() -> list[Any]:
        replies = await asyncio.gather(m.execute("INCR", "s"), m.execute("GET", "s"), return_exceptions=True)
        await m.aclose()
        return replies

    error, value = run(body)
    assert isinstance(error, redis.exceptions.ResponseError) and "not an integer" in str(error)
    assert value == "text"


def test_evalsha_loads_the_script_again_after_redis_lost_it(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    m = mux(redis_server)
    keys = ["r", "m", "x", "l"]

    async def body() -> list[Any]:
        first = await m.evalsha(LOOKUP_SHA, LOOKUP_LUA, keys, [10, "ana"])
        raw.script_flush()
        second = await m.evalsha(LOOKUP_SHA, LOOKUP_LUA, keys, [10, "ana"])
        await m.aclose()
        return [first, second]

    assert run(body) == [[0, [], []], [0, [], []]]  # an unknown listener, both times
    assert raw.script_exists(LOOKUP_SHA) == [True]


def test_a_refused_password_is_an_authentication_error(redis_server: RedisServer, raw: redis.Redis) -> None:
    m = mux(redis_server, password="not-the-password")
    with pytest.raises(redis.exceptions.AuthenticationError):
        run(lambda: m.execute("PING"))
    assert not m.connected


def test_redis_down_fails_fast_and_the_next_call_after_it_returns_connects(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    m = mux(redis_server, timeout_s=1.0)

    async def body() -> tuple[Any, float, Any]:
        assert await m.execute("PING") == "PONG"
        redis_server.stop()
        started = time.monotonic()
        with pytest.raises(redis.exceptions.ConnectionError):
            await m.execute("PING")
        with pytest.raises(redis.exceptions.ConnectionError):  # connecting again is refused
            await m.execute("PING")
        took = time.monotonic() - started
        redis_server.start()
        back = await m.execute("PING")
        await m.aclose()
        return took, back

    took, back = run(body)
    assert took < 1.0  # refused at once, not after the timeout
    assert back == "PONG"


def test_a_hung_redis_times_out_and_the_connection_is_replaced(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    assert redis_server.proc is not None
    pid = redis_server.proc.pid
    m = mux(redis_server, timeout_s=0.3)

    async def body() -> tuple[float, int, Any]:
        await m.execute("PING")
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            results = await asyncio.gather(*(m.execute("PING") for _ in range(50)), return_exceptions=True)
            took = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        timeouts = sum(isinstance(r, redis.exceptions.TimeoutError) for r in results)
        back = await m.execute("PING")
        await m.aclose()
        return took, timeouts, back

    took, timeouts, back = run(body)
    assert timeouts == 50
    assert 0.3 <= took < 2.0  # the timeout, not a hang (slack for a busy machine)
    assert back == "PONG"


def test_track_names_are_read_once_per_ttl_and_a_rename_shows_after_it(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    writer = RecsWriter.from_settings(redis_server.cluster_settings())
    writer.write_tracks([TrackInfo(track_id="t1", name="Old", artist="Band")])
    writer.write_recommendations(
        [
            UserRecs(
                user_id="ana",
                items=[RecItem(track_id="t1", score=0.9), RecItem(track_id="t2", score=0.5)],
                model_version="v1",
                scored_at=datetime.now(UTC),
                as_of_event_time=datetime.now(UTC),
            )
        ]
    )
    names = TrackNames(ttl_s=0.5)
    settings = redis_server.cluster_settings()
    client = async_client(settings)
    reader = RecsReader(client, settings.redis_prefix, mux=mux(redis_server), names=names)

    def names_calls() -> int:
        stats = raw.info("commandstats")
        return int(stats.get("cmdstat_hmget", {}).get("calls", 0))

    async def body() -> tuple[list[Any], int, list[Any], list[Any]]:
        first = await reader.recommendations_payload("ana", 10)
        raw.config_resetstat()
        writer.write_tracks([TrackInfo(track_id="t1", name="New", artist="Band")])
        within = await reader.recommendations_payload("ana", 10)
        hmgets_within = names_calls()  # the reasons' HMGET only: no names read
        deadline = time.monotonic() + 5
        after = within
        while after["items"][0]["track_name"] != "New" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            after = await reader.recommendations_payload("ana", 10)
        assert reader.mux is not None
        await reader.mux.aclose()
        await client.aclose()
        return (
            [(i["track_name"], i["artist_name"]) for i in first["items"]],
            hmgets_within,
            [(i["track_name"], i["artist_name"]) for i in within["items"]],
            [(i["track_name"], i["artist_name"]) for i in after["items"]],
        )

    first, hmgets_within, within, after = run(body)
    assert first == [("Old", "Band"), (None, None)]  # t2 has no names in Redis
    assert hmgets_within == 1 and within == first
    assert after == [("New", "Band"), (None, None)]
