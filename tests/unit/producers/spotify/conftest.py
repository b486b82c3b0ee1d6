"""Fixtures of the Spotify poller tests: a fake Spotify over real HTTP, fakeredis, a memory sink."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[4]
if str(ROOT) not in sys.path:  # make `tests.fakes` importable however pytest is launched
    sys.path.insert(0, str(ROOT))

from producers.spotify.backoff import FakeClock  # noqa: E402
from producers.spotify.poller import Poller  # noqa: E402
from producers.spotify.settings import SpotifySettings  # noqa: E402
from producers.spotify.sinks import RedisCursorStore  # noqa: E402
from producers.spotify.tokens import FileTokenStore, TokenInfo  # noqa: E402
from tests.fakes.poller_support import MemorySink  # noqa: E402
from tests.fakes.spotify_server import FakeSpotify  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeSpotify]:
    with FakeSpotify(clock=clock.now) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeSpotify) -> SpotifySettings:
    return SpotifySettings(
        client_id=fake.client_id,
        client_secret=SecretStr(fake.client_secret),
        api_base_url=fake.api_base_url,
        accounts_base_url=fake.accounts_base_url,
        redirect_uri=f"http://127.0.0.1:{free_port()}/callback",
        token_dir=tmp_path / "tokens",
        poll_interval_s=60,
        backoff_base_s=1.0,
        backoff_cap_s=30.0,
        request_timeout_s=5,
        listeners=[],
    )


@pytest.fixture
def tokens(settings: SpotifySettings) -> FileTokenStore:
    return FileTokenStore(settings.token_dir)


@pytest.fixture
def authorised(fake: FakeSpotify, tokens: FileTokenStore) -> Callable[[str], TokenInfo]:
    """Store a fresh grant for a listener, as a finished `encore auth` would."""

    def grant(listener: str) -> TokenInfo:
        info: dict[str, Any] = fake.issue_tokens(listener)
        info["expires_at"] = int(time.time()) + info.pop("expires_in")
        token = TokenInfo.from_spotipy(info)
        tokens.handler(listener).store(token)
        return token

    return grant


@pytest.fixture
def cursors() -> RedisCursorStore:
    return RedisCursorStore(fakeredis.FakeRedis(), "test:")


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def make_poller(
    settings: SpotifySettings,
    tokens: FileTokenStore,
    sink: MemorySink,
    cursors: RedisCursorStore,
    clock: FakeClock,
) -> Callable[..., Poller]:
    import random

    def build(listeners: Sequence[str], **overrides: Any) -> Poller:
        kwargs: dict[str, Any] = {
            "tokens": tokens, "sink": sink, "cursors": cursors, "clock": clock,
            "rng": random.Random(7),
        }
        kwargs.update(overrides)
        the_settings = kwargs.pop("settings", settings)
        return Poller(the_settings, listeners, **kwargs)

    return build
