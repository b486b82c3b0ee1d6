"""The API against a real redis-server filled through recs_store's writers."""

# Fixtures come from api_harness by import (a second conftest.py would clash), so their
# names are parameters that "redefine" the imports.
# ruff: noqa: F811

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from api_harness import (  # fixtures are used by name
    RedisServer,
    Seeded,
    raw,  # noqa: F401
    redis_server,  # noqa: F401
    seeded,  # noqa: F401
    wait_until,
    writer,  # noqa: F401
)
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from stream_app.recs_store import RecItem, RecsWriter, UserRecs

pytestmark = pytest.mark.integration


@contextmanager
def api_client(server: RedisServer, **settings: Any) -> Iterator[TestClient]:
    app = create_app(server.api_settings(**settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def client(redis_server: RedisServer, raw: redis.Redis) -> Iterator[TestClient]:
    with api_client(redis_server) as client:
        yield client


def stored_recs(raw: redis.Redis, user: str, k: int) -> list[dict[str, Any]]:
    """What Redis holds for ``user``, read with plain commands (independent of the API)."""
    out = []
    for tid, score in raw.zrevrange(f"encore:recs:{user}", 0, k - 1, withscores=True):
        track = raw.hgetall(b"encore:track:" + tid)
        reason = raw.hget(f"encore:recs-reasons:{user}", tid)
        out.append(
            {
                "track_id": tid.decode(),
                "track_name": track[b"name"].decode() if b"name" in track else None,
                "artist_name": track[b"artist"].decode() if b"artist" in track else None,
                "score": score,
                "reason": reason.decode() if reason else None,
            }
        )
    return out


def test_recommendations_equal_what_redis_holds(client: TestClient, raw: redis.Redis, seeded: Seeded) -> None:
    for user in seeded.users:
        r = client.get(f"/v1/users/{user}/recommendations", params={"k": 7})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["items"] == stored_recs(raw, user, 7)
        assert len(body["items"]) == 7
        scores = [item["score"] for item in body["items"]]
        assert scores == sorted(scores, reverse=True)
        assert all(item["track_name"] and item["artist_name"] for item in body["items"])
        meta = raw.hgetall(f"encore:recs-meta:{user}")
        assert body["model_version"] == meta[b"model_version"].decode() == seeded.model_version
        # Features are taken as of the stream's latest event time, for every listener.
        latest = max(p.played_at for plays in seeded.plays.values() for p in plays)
        assert datetime.fromisoformat(body["as_of_event_time"]) == latest


def test_k_limits_and_malformed_ids(client: TestClient, seeded: Seeded) -> None:
    user = seeded.users[0]
    assert len(client.get(f"/v1/users/{user}/recommendations?k=1").json()["items"]) == 1
    assert len(client.get(f"/v1/users/{user}/recommendations?k=100").json()["items"]) == 20
    for bad in ("k=0", "k=101", "k=1.5"):
        r = client.get(f"/v1/users/{user}/recommendations?{bad}")
        assert r.status_code == 422 and "query.k" in r.json()["message"], bad
    r = client.get("/v1/users/bad%20id/recommendations")
    assert r.status_code == 422 and "path.user_id" in r.json()["message"]


def test_404_unknown_and_not_yet_scored(client: TestClient, writer: RecsWriter, seeded: Seeded) -> None:
    r = client.get("/v1/users/nobody/recommendations")
    assert (r.status_code, r.json()["code"]) == (404, "unknown_listener")
    assert "'nobody' is unknown" in r.json()["message"]
    # Plays seen, nothing scored yet: still 404, with the other reason.
    writer.append_plays(seeded.plays[seeded.users[0]][:3])
    fresh = seeded.plays[seeded.users[0]][0].model_copy(update={"user_id": "newcomer"})
    writer.append_plays([fresh])
    r = client.get("/v1/users/newcomer/recommendations")
    assert (r.status_code, r.json()["code"]) == (404, "no_recommendations")
    assert client.get("/v1/users/newcomer/history").json()["plays"][0]["track_id"] == (fresh.track_id)


def test_history_model_and_listeners(client: TestClient, raw: redis.Redis, seeded: Seeded) -> None:
    user = seeded.users[-1]
    plays = client.get(f"/v1/users/{user}/history", params={"limit": 5}).json()["plays"]
    expected = list(reversed(seeded.plays[user]))[:5]
    assert [p["track_id"] for p in plays] == [p.track_id for p in expected]
    assert [datetime.fromisoformat(p["played_at"]) for p in plays] == [p.played_at for p in expected]
    model = client.get("/v1/model").json()
    assert model["version"] == seeded.model_version
    assert model["examples_learned"] == seeded.examples_learned > 0
    assert model["snapshot_bytes"] == seeded.snapshot_bytes
    points = client.get("/v1/model/history").json()["points"]
    assert len(points) == raw.xlen("encore:model:history") > 1
    assert 0 < points[-1]["examples"] <= model["examples_learned"]
    assert all(p["plays_per_second"] > 0 for p in points)
    listeners = client.get("/v1/listeners").json()
    assert listeners["total"] == len(seeded.users)
    assert sorted(entry["user_id"] for entry in listeners["listeners"]) == seeded.users


def test_readyz_needs_a_model(client: TestClient, writer: RecsWriter, seeded: Seeded) -> None:
    assert client.get("/readyz").json()["model_version"] == seeded.model_version
    writer.client.delete("encore:model:latest")
    r = client.get("/readyz")
    assert r.status_code == 503 and "no model" in r.json()["message"]


def test_api_key_on_and_off(redis_server: RedisServer, seeded: Seeded) -> None:
    path = f"/v1/users/{seeded.users[0]}/recommendations"
    with api_client(redis_server) as client:
        assert client.get(path).status_code == 200
    with api_client(redis_server, api_key=SecretStr("k-123")) as client:
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"X-API-Key": "k-12"}).status_code == 401
        assert client.get(path, headers={"X-API-Key": "k-123"}).status_code == 200
        assert client.get("/v1/listeners", headers={"X-API-Key": "nope"}).status_code == 401


def test_redis_password_is_honoured(redis_server: RedisServer, seeded: Seeded) -> None:
    path = f"/v1/users/{seeded.users[0]}/recommendations"
    for password in ("wrong-password", None):
        with api_client(redis_server, redis_password=password) as client:
            r = client.get(path)
            assert r.status_code == 503, (password, r.text)
            assert r.json()["code"] == "redis_unavailable"
            assert redis_server.password not in r.text


class Monitor:
    """MONITOR in a thread: collects commands until it sees ``ECHO <marker>``."""

    def __init__(self, server: RedisServer, marker: str) -> None:
        self.client = server.client()
        self.marker = marker
        self.commands: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5), "MONITOR did not start"

    def _run(self) -> None:
        with self.client.monitor() as monitor:
            self.ready.set()
            for entry in monitor.listen():
                if entry["command"] == f"ECHO {self.marker}":
                    return
                self.commands.append(entry)

    def finish(self, raw: redis.Redis) -> list[dict[str, Any]]:
        raw.echo(self.marker)
        self.thread.join(5)
        assert not self.thread.is_alive(), "MONITOR never saw the end marker"
        self.client.close()
        return self.commands


def test_a_lookup_is_one_round_trip(
    client: TestClient, redis_server: RedisServer, raw: redis.Redis, seeded: Seeded
) -> None:
    user = seeded.users[0]
    assert client.get(f"/v1/users/{user}/recommendations").status_code == 200  # loads scripts, names
    raw.config_resetstat()
    monitor = Monitor(redis_server, "end-of-lookup")
    r = client.get(f"/v1/users/{user}/recommendations", params={"k": 10})
    commands = monitor.finish(raw)
    assert r.status_code == 200 and len(r.json()["items"]) == 10

    sent = [c["command"].split()[0].upper() for c in commands if c["client_type"] != "lua"]
    in_script = [c["command"].split()[0].upper() for c in commands if c["client_type"] == "lua"]
    assert sent == ["EVALSHA"], commands  # the client sent exactly one command
    # meta, the list, its reasons; the names are the API's from the first lookup (TrackNames)
    assert in_script == ["HGETALL", "ZREVRANGE", "HMGET"]
    stats = raw.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 1


def test_a_write_is_one_atomic_script_call(
    writer: RecsWriter, redis_server: RedisServer, raw: redis.Redis
) -> None:
    recs = [
        UserRecs(
            user_id=user,
            items=[RecItem(track_id=f"t{i}", score=i / 10, reason=f"r{i}") for i in range(5)],
            model_version="v1",
            scored_at=datetime.now(UTC),
            as_of_event_time=datetime(2024, 1, 1, tzinfo=UTC),
        )
        for user in ("a", "b")
    ]
    writer.write_recommendations(recs[0])  # connection set up and script loaded before we watch
    monitor = Monitor(redis_server, "end-of-write")
    writer.write_recommendations(recs)
    commands = monitor.finish(raw)
    sent = [c["command"].split()[0].upper() for c in commands if c["client_type"] != "lua"]
    in_script = [c["command"].split()[0].upper() for c in commands if c["client_type"] == "lua"]
    assert sent == ["EVALSHA"], commands  # one command: Redis runs a script atomically
    assert in_script == ["DEL", "ZADD", "HSET", "HSET", "ZADD"] * 2
    assert raw.zrevrange("encore:recs:b", 0, 0) == [b"t4"]


def test_503_when_redis_is_really_stopped(tmp_path: Path, seeded: Seeded) -> None:
    server = RedisServer(tmp_path / "own-redis")
    server.start()
    try:
        w = RecsWriter.from_settings(server.cluster_settings())
        w.write_recommendations(
            UserRecs(
                user_id="ana",
                items=[RecItem(track_id="x", score=0.5)],
                model_version="v1",
                scored_at=datetime.now(UTC),
                as_of_event_time=datetime(2024, 1, 1, tzinfo=UTC),
            )
        )
        w.client.close()
        with api_client(server) as client:
            assert client.get("/v1/users/ana/recommendations").status_code == 200
            pid = server.proc.pid if server.proc else None
            server.stop()
            assert pid is not None
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # the process is gone, not paused

            began = time.monotonic()
            r = client.get("/v1/users/ana/recommendations")
            took = time.monotonic() - began
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/json"
            assert r.json()["code"] == "redis_unavailable"
            assert "Traceback" not in r.text
            assert took < 3.0, f"503 took {took:.2f} s"
            for path in ("/v1/users/ana/history", "/v1/model", "/v1/listeners"):
                assert client.get(path).status_code == 503, path
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200

            # Redis comes back (empty: --save ''): the same pool recovers by itself.
            server.start()
            wait_until(
                lambda: client.get("/v1/users/ana/recommendations").status_code == 404,
                10,
                "API answering again after Redis restart",
            )
            assert client.get("/v1/users/ana/recommendations").json()["code"] == ("unknown_listener")
    finally:
        server.stop()


def test_shortcut_and_route_agree_on_real_redis(client: TestClient, raw: redis.Redis, seeded: Seeded) -> None:
    user = seeded.users[0]
    fast = client.get(f"/v1/users/{user}/recommendations?k=3")
    routed = client.get(f"/v1/users/{user}/recommendations?k=03")  # FastAPI's own route
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    # A score the contract does not allow is a 500 corrupt_record, not a body with it.
    raw.zadd(f"encore:recs:{user}", {"bogus": 7.0})
    r = client.get(f"/v1/users/{user}/recommendations?k=3")
    assert r.status_code == 500 and r.json()["code"] == "corrupt_record"
    raw.zrem(f"encore:recs:{user}", "bogus")
