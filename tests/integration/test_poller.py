"""The Spotify poller end to end: fake Spotify over HTTP -> real spotipy -> real Kafka + Redis.

One story, three pollers: an in-process poller polls two listeners; then, in one run,
it refreshes an access token the server expired under it, waits out an hour-long 429
(on a virtual clock shared with the fake server, which counts early requests) and
rides a 500 burst; then a *new process* (`encore poll --once`) resumes from the cursors
in Redis; then a third poller finds nothing new. The event ids read back from a topic
of our own are exactly the scripted plays: none missing, none twice.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from pydantic import SecretStr

from cluster.settings import ClusterSettings
from producers.spotify.auth import authorise
from producers.spotify.backoff import FakeClock
from producers.spotify.poller import Poller, Status
from producers.spotify.settings import SpotifySettings
from producers.spotify.sinks import KafkaPlaySink, RedisCursorStore, redis_client
from producers.spotify.tokens import FileTokenStore, TokenInfo

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.poller_support import (  # noqa: E402
    expected_ids,
    free_port,
    isolated_cluster,
    read_topic,
)
from tests.fakes.spotify_server import FakeSpotify, make_plays  # noqa: E402

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


@pytest.fixture
def isolated(cluster: ClusterSettings) -> Iterator[ClusterSettings]:
    """The session's cluster with a topic and a Redis prefix of this test's own."""
    with isolated_cluster(cluster, "test-poller") as settings:
        yield settings


def spotify_settings(fake: FakeSpotify, token_dir: Path, redirect_port: int) -> SpotifySettings:
    return SpotifySettings(
        client_id=fake.client_id,
        client_secret=SecretStr(fake.client_secret),
        api_base_url=fake.api_base_url,
        accounts_base_url=fake.accounts_base_url,
        redirect_uri=f"http://127.0.0.1:{redirect_port}/callback",
        token_dir=token_dir,
        backoff_base_s=2.0,
        backoff_cap_s=60.0,
        request_timeout_s=10,
    )


def test_poller_through_faults_and_a_restart_produces_each_play_exactly_once(
    isolated: ClusterSettings, tmp_path: Path
) -> None:
    started = time.monotonic()
    clock = FakeClock()
    fake = FakeSpotify(clock=clock.now).start()
    try:
        _story(isolated, tmp_path, fake, clock)
    finally:
        fake.stop()
    print(f"poller integration story took {time.monotonic() - started:.1f} s")


def _story(cluster: ClusterSettings, tmp_path: Path, fake: FakeSpotify, clock: FakeClock) -> None:
    settings = spotify_settings(fake, tmp_path / "tokens", free_port())
    tokens = FileTokenStore(settings.token_dir)

    # ana authorises through the real code flow; ben's grant is minted directly.
    fake.login_as = "ana"
    authorise(
        settings,
        tokens.handler("ana"),
        show_url=lambda url: _follow(url),
        timeout_s=30,
    )
    grant: dict[str, Any] = fake.issue_tokens("ben")
    grant["expires_at"] = int(time.time()) + grant.pop("expires_in")
    tokens.handler("ben").store(TokenInfo.from_spotipy(grant))

    ana = make_plays(70, start=START, step_s=300, seed="a")
    ben = make_plays(35, start=START + timedelta(seconds=17), step_s=450, seed="b")
    redis_conn = redis_client(cluster)
    cursors = RedisCursorStore(redis_conn, cluster.redis_prefix)

    def poller() -> Poller:
        return Poller(
            settings, ["ana", "ben"], tokens=tokens,
            sink=KafkaPlaySink(cluster), cursors=cursors, clock=clock, rng=random.Random(3),
        )

    # 1. First run: everything Spotify shows.
    fake.add_plays("ana", ana[:30])
    fake.add_plays("ben", ben[:20])
    first = poller()
    reports = first.run(once=True)
    assert {r.status for r in reports.values()} == {Status.OK}, reports

    # 2. Same poller, a hostile run: expired token, an hour-long 429, then a 500 burst.
    fake.add_plays("ana", ana[30:55])
    fake.add_plays("ben", ben[20:30])
    assert fake.expire_access_tokens("ana") == 1
    fake.fail_next(429, retry_after=3600)
    fake.fail_next(500, count=3)
    t0 = clock.now()
    reports = first.run(once=True)
    first.close()
    assert {r.status for r in reports.values()} == {Status.OK}, reports
    assert fake.stats.answered_429 == 1 and fake.stats.early_after_429 == 0
    assert clock.now() - t0 >= 3600
    assert fake.stats.answered_500 == 3
    assert fake.stats.token_grants.get("refresh_token") == 1
    assert fake.stats.answered_401 == 1

    # 3. Restart as a new process: `encore poll --once`, cursors only from Redis.
    fake.add_plays("ana", ana[55:])
    fake.add_plays("ben", ben[30:])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORE_SPOTIFY_")}
    env.update(
        ENCORE_PLAYS_TOPIC=cluster.plays_topic,
        ENCORE_REDIS_PREFIX=cluster.redis_prefix,
        ENCORE_SPOTIFY_CLIENT_ID=fake.client_id,
        ENCORE_SPOTIFY_CLIENT_SECRET=fake.client_secret,
        ENCORE_SPOTIFY_API_BASE_URL=fake.api_base_url,
        ENCORE_SPOTIFY_ACCOUNTS_BASE_URL=fake.accounts_base_url,
        ENCORE_SPOTIFY_TOKEN_DIR=str(settings.token_dir),
        COLUMNS="200",
    )
    encore = Path(sys.executable).with_name("encore")
    done = subprocess.run(
        [str(encore), "poll", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "ana" in done.stdout and "ben" in done.stdout
    for secret in [fake.client_secret, *fake.stats.issued_secrets]:
        assert secret not in output

    # A listener nobody authorised: reported with the fix, exit code 1, nothing produced.
    ghost = subprocess.run(
        [str(encore), "poll", "--once", "--listener", "ghost"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert ghost.returncode == 1, ghost.stdout + ghost.stderr
    assert "needs-reauth" in ghost.stdout
    assert "encore auth --listener ghost" in " ".join(ghost.stdout.split())

    # 4. A third poller: nothing new, nothing produced again.
    third = poller()
    reports = third.run(once=True)
    third.close()
    assert all(r.produced_total == 0 for r in reports.values()), reports

    # What Kafka holds: exactly the scripted plays, each once, keyed and ordered per listener.
    messages = read_topic(cluster)
    got = [play.event_id for _, play in messages]
    want = expected_ids("ana", ana) + expected_ids("ben", ben)
    duplicates = [i for i, n in Counter(got).items() if n > 1]
    assert duplicates == []
    assert sorted(got) == sorted(want)
    assert all(key == play.user_id.encode() for key, play in messages)
    for user in ("ana", "ben"):
        times = [p.played_at for _, p in messages if p.user_id == user]
        assert times == sorted(times)  # one key, one partition, time order
    assert {p.source for _, p in messages} == {"spotify-api"}
    assert all(p.ms_played is None and p.track_uri for _, p in messages)
    assert cursors.get("ana") == ana[-1].ms and cursors.get("ben") == ben[-1].ms
    assert all(r.losses == [] for r in reports.values())
    redis_conn.close()


def _follow(url: str) -> None:
    import threading

    threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10}, daemon=True).start()


def test_isolated_fixture_really_isolates(isolated: ClusterSettings, cluster: ClusterSettings) -> None:
    """Guard for the test above: its topic and prefix are not the shared ones."""
    assert isolated.plays_topic != cluster.plays_topic
    assert isolated.redis_prefix != cluster.redis_prefix
    client = redis.Redis.from_url(cluster.redis_url, password=cluster.redis_password_value())
    assert client.ping()
    client.close()
