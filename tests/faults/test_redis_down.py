"""Redis stopped for 10 s mid-stream: workers keep consuming, the API answers 503 and then
200 again, recommendations catch up, nothing crashes, nothing is lost.

Two workers and ``encore api`` run against a Redis of this session's own
(``private_redis``; the shared one stays up for everybody else) while `encore replay`
sends 20,000 real plays over about 30 s. A quarter of the way in, Redis is stopped
(SIGTERM; it keeps no data, so it comes back empty) and started again 10 s later.
While it is away the workers' counters cannot be read, so progress is read from Kafka:
the consumer group's committed offsets must keep moving. The API must answer every
lookup with 503 (``redis_unavailable``, ``Retry-After``) meanwhile, and 200 after.
Afterwards: every listener who played after Redis returned has recommendations as of
their last play, the model is back in Redis, the listener table equals the offline
path (Redis is no part of it), and no process crashed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cluster import ClusterSettings, down, up
from tests.faults.harness import (
    assert_same_end_state,
    group_offsets,
    lastfm_slice,
    speed_for,
    stream_run,
    wait_drained,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

PLAYS = 20_000
REPLAY_S = 30.0
DOWN_S = 10.0


def test_redis_down_for_10_s(private_redis: ClusterSettings, tmp_path: Path) -> None:
    started = time.monotonic()
    path, plays = lastfm_slice(PLAYS, tmp_path)
    speed = speed_for(plays, REPLAY_S)
    with stream_run(private_redis, "redis", tmp_path) as run:
        run.start_workers(2)
        api, url = run.start_api()
        listener = plays[0].user_id

        def lookup(user: str = listener) -> httpx.Response:
            return httpx.get(f"{url}/v1/users/{user}/recommendations", timeout=5)

        replay = run.start_replay(path, speed=speed)
        replay_started = time.monotonic()
        wait_for(lambda: run.progress() >= PLAYS // 4, 60, "a quarter of the plays", abort=run.died)
        wait_for(lambda: lookup().status_code == 200, 30, "a first listener's recommendations")

        before = group_offsets(run, run.settings.plays_topic)
        assert before is not None
        down(private_redis, services=["redis"])
        stopped = time.monotonic()
        # The fault: Redis away for DOWN_S. Meanwhile, watch (every poll is bounded).
        statuses: list[int] = []
        committed = [before[0]]
        while time.monotonic() - stopped < DOWN_S:
            response = lookup()
            statuses.append(response.status_code)
            if response.status_code == 503:
                assert response.json()["code"] == "redis_unavailable", response.text
                assert response.headers.get("Retry-After") == "1"
            offsets = group_offsets(run, run.settings.plays_topic)
            if offsets is not None:
                committed.append(offsets[0])
            assert run.died() is None, run.died()
            assert api.poll() is None, "encore api exited while Redis was down"
            time.sleep(0.5)
        up(private_redis)
        back = time.monotonic()
        back_at_event_time = plays[0].ts + (back - replay_started) * speed

        assert statuses and set(statuses) == {503}, statuses
        # The workers kept consuming: their committed offsets moved while Redis was away.
        assert committed[-1] - committed[0] > 1000, committed

        wait_for(lambda: lookup().status_code == 200, 30, "the API to answer 200 again", abort=run.died)
        back_200_s = time.monotonic() - back
        assert replay.wait(timeout=120) == 0, run.replay_output()
        wait_drained(run, messages=PLAYS, deadline_s=120)

        # Recommendations caught up: everyone who played after Redis returned has a list
        # as of their last play (Redis came back empty: lists of listeners who have not
        # played since come back when they next play).
        last: dict[str, float] = {}
        for play in plays:
            last[play.user_id] = play.ts
        fresh = sorted(u for u, ts in last.items() if ts > back_at_event_time + 2 * speed)
        assert len(fresh) > 20, "too few listeners played after Redis returned to judge"

        def caught_up() -> list[str]:
            behind = []
            for user in fresh:
                r = lookup(user)
                as_of = datetime.fromisoformat(r.json()["as_of_event_time"]) if r.status_code == 200 else None
                if as_of is None or as_of < datetime.fromtimestamp(last[user], UTC):
                    behind.append(user)
            return behind

        wait_for(lambda: not caught_up(), 30, "every recent listener's recommendations")
        model = httpx.get(f"{url}/v1/model", timeout=5)
        assert model.status_code == 200 and model.json()["version"], model.text

        end = assert_same_end_state(run, plays)
        assert end["plays"] == PLAYS
        assert end["late"] == 0  # the watermark never ran ahead of a partition
        assert run.died() is None and api.poll() is None
        logs = run.worker_log(0) + run.worker_log(1)
        assert "Redis unavailable" in logs  # the workers felt it...
        assert "Crashed" not in logs and "Traceback" not in logs, logs[-3000:]  # ...and carried on
    print(
        f"\nRedis down {back - stopped:.1f} s: {len(statuses)} lookups all 503, workers committed "
        f"{committed[-1] - committed[0]} plays meanwhile; 200 again {back_200_s:.1f} s after its return; "
        f"{len(fresh)} recent listeners caught up; end state {end}; total {time.monotonic() - started:.1f} s"
    )
