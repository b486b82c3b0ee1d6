"""Nothing secret reaches a log: not the client secret, a code, an access or refresh token.

spotipy itself logs request headers and token request bodies at DEBUG, so the test
runs everything at DEBUG, checks that those dangerous lines were really captured, and
that every secret in them was redacted.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests

from producers.spotify.auth import authorise
from producers.spotify.poller import Poller, Status
from producers.spotify.settings import SpotifySettings
from producers.spotify.tokens import FileTokenStore
from tests.fakes.spotify_server import FakeSpotify, make_plays

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


def test_debug_logs_of_a_whole_session_carry_no_secret(
    fake: FakeSpotify, settings: SpotifySettings, tokens: FileTokenStore,
    make_poller: Callable[..., Poller], caplog: pytest.LogCaptureFixture,
) -> None:
    fake.login_as = "ana"
    with caplog.at_level(logging.DEBUG):
        def show(url: str) -> None:
            threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 5}).start()

        authorise(settings, tokens.handler("ana"), show_url=show, timeout_s=10)
        fake.add_plays("ana", make_plays(10, start=START))
        poller = make_poller(["ana"])
        assert poller.run(once=True)["ana"].status is Status.OK
        fake.expire_access_tokens("ana")           # 401 -> refresh grant
        fake.fail_next(429, retry_after=3)         # 429
        fake.fail_next(500, count=2)               # 5xx
        fake.add_plays("ana", make_plays(5, start=START + timedelta(days=1), seed="z"))
        assert poller.run(once=True)["ana"].status is Status.OK
        fake.revoke("ana")                          # refused refresh -> needs re-auth
        fake.expire_access_tokens("ana")
        assert poller.run(once=True)["ana"].status is Status.NEEDS_REAUTH

    text = caplog.text
    # The lines that would leak were really logged (so the test can fail) ...
    assert "Sending POST request" in text and "Authorization" in text
    assert "[REDACTED]" in text
    assert fake.stats.token_grants.get("refresh_token", 0) >= 2
    # ... and no secret survived in them.
    basic = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    secrets = [fake.client_secret, basic, *fake.stats.issued_secrets]
    assert len(fake.stats.issued_secrets) >= 4  # code, refresh, 2+ access tokens
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    for record in caplog.records:
        assert not any(s in str(record.args) for s in secrets if record.args)
