"""Poller faults with real processes and real time (issue 8).

A long-running `encore poll` process polls two listeners of a fake Spotify while the
test, from outside, expires a listener's access token, has Spotify answer 429 with a
Retry-After of 2 s, then a burst of 500s; the poller is stopped with SIGTERM and
restarted, and later killed with SIGKILL while idle and restarted. Afterwards Kafka
holds every scripted play exactly once. Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cluster import ClusterSettings
from producers.spotify.sinks import RedisCursorStore, redis_client
from producers.spotify.tokens import FileTokenStore, TokenInfo

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.poller_support import (  # noqa: E402
    expected_ids,
    isolated_cluster,
    read_topic,
    wait_for,
)
from tests.fakes.spotify_server import FakeSpotify, ScriptedPlay, make_plays  # noqa: E402

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
CATCH_UP_S = 30.0


class PollerProcess:
    """`encore poll` (forever mode) as a child process; output kept for inspection."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.log = log_dir / f"{name}.log"
        encore = Path(sys.executable).with_name("encore")
        self.out = self.log.open("w")
        self.proc = subprocess.Popen(
            [str(encore), "poll"], env=env, stdout=self.out, stderr=subprocess.STDOUT
        )

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.out.close()
        return code

    def text(self) -> str:
        return self.log.read_text()


def test_poller_process_survives_token_expiry_429_500s_and_restarts(
    cluster: ClusterSettings, tmp_path: Path
) -> None:
    started = time.monotonic()
    with (
        isolated_cluster(cluster, "fault-poller") as settings,
        FakeSpotify() as fake,  # real clock: the 2 s Retry-After really passes
    ):
        _story(settings, fake, tmp_path)
    print(f"poller fault story took {time.monotonic() - started:.1f} s")


def _story(cluster: ClusterSettings, fake: FakeSpotify, tmp_path: Path) -> None:
    tokens = FileTokenStore(tmp_path / "tokens")
    for name in ("ana", "ben"):
        grant: dict[str, Any] = fake.issue_tokens(name)
        grant["expires_at"] = int(time.time()) + grant.pop("expires_in")
        tokens.handler(name).store(TokenInfo.from_spotipy(grant))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORE_SPOTIFY_")}
    env.update(
        ENCORE_PLAYS_TOPIC=cluster.plays_topic,
        ENCORE_REDIS_PREFIX=cluster.redis_prefix,
        ENCORE_SPOTIFY_CLIENT_ID=fake.client_id,
        ENCORE_SPOTIFY_CLIENT_SECRET=fake.client_secret,
        ENCORE_SPOTIFY_API_BASE_URL=fake.api_base_url,
        ENCORE_SPOTIFY_ACCOUNTS_BASE_URL=fake.accounts_base_url,
        ENCORE_SPOTIFY_TOKEN_DIR=str(tokens.directory),
        ENCORE_SPOTIFY_POLL_INTERVAL_S="0.3",
        ENCORE_SPOTIFY_BACKOFF_BASE_S="0.2",
        ENCORE_SPOTIFY_BACKOFF_CAP_S="1.0",
        COLUMNS="200",
    )
    client = redis_client(cluster)
    cursors = RedisCursorStore(client, cluster.redis_prefix)
    ana = make_plays(60, start=START, step_s=240, seed="a")
    ben = make_plays(40, start=START + timedelta(seconds=31), step_s=330, seed="b")
    given = {"ana": 0, "ben": 0}
    script = {"ana": ana, "ben": ben}

    def give(user: str, n: int) -> None:
        plays: list[ScriptedPlay] = script[user][given[user] : given[user] + n]
        assert len(plays) == n
        fake.add_plays(user, plays)
        given[user] += n

    def caught_up(what: str) -> float:
        def done() -> bool:
            return all(given[u] == 0 or cursors.get(u) == script[u][given[u] - 1].ms for u in given)

        return wait_for(done, CATCH_UP_S, f"the poller to catch up ({what})")

    processes: list[PollerProcess] = []

    def start(name: str) -> PollerProcess:
        p = PollerProcess(env, tmp_path, name)
        processes.append(p)
        return p

    try:
        give("ana", 20)
        give("ben", 10)
        first = start("first")
        caught_up("first plays")

        # An access token the server expired under the poller: one refresh, then on.
        fake.expire_access_tokens("ana")
        give("ana", 5)
        caught_up("after token expiry")
        assert fake.stats.token_grants.get("refresh_token") == 1

        # 429 with Retry-After: 2 s, for whichever listener asks next; nobody asks early.
        fake.fail_next(429, retry_after=2)
        t429 = time.monotonic()
        give("ana", 3)
        give("ben", 5)
        caught_up("after a 429")
        assert time.monotonic() - t429 >= 2.0
        assert fake.stats.answered_429 == 1 and fake.stats.early_after_429 == 0

        # A 500 burst: backoff, then on.
        fake.fail_next(500, count=4)
        give("ana", 4)
        caught_up("after a 500 burst")
        assert fake.pending_failures() == 0 and fake.stats.answered_500 == 4

        # Graceful restart: SIGTERM, plays arrive while nobody polls, a new process.
        assert first.stop(signal.SIGTERM) == 0, first.text()
        give("ana", 6)
        give("ben", 6)
        second = start("second")
        caught_up("after a SIGTERM restart")

        # Crash while idle (cursor committed): SIGKILL, restart, nothing lost or repeated.
        assert second.stop(signal.SIGKILL) == -signal.SIGKILL
        give("ana", 22)
        give("ben", 19)
        third = start("third")
        caught_up("after a SIGKILL restart")
        assert third.stop(signal.SIGTERM) == 0, third.text()
    finally:
        for p in processes:
            if p.proc.poll() is None:
                p.stop(signal.SIGKILL)

    messages = read_topic(cluster)
    got = [play.event_id for _, play in messages]
    want = expected_ids("ana", ana) + expected_ids("ben", ben)
    assert [i for i, n in Counter(got).items() if n > 1] == []
    assert sorted(got) == sorted(want)
    output = "".join(p.text() for p in processes)
    for secret in [fake.client_secret, *fake.stats.issued_secrets]:
        assert secret not in output
    # The faults were reported as they happened, not hidden.
    assert "rate-limited" in output and "backing-off" in output
    client.close()
