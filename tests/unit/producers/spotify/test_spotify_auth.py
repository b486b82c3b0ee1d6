"""`encore auth`'s flow over real HTTP: authorise URL, one-shot loopback callback, exchange."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from spotipy.exceptions import SpotifyOauthError

from producers.spotify.auth import authorise
from producers.spotify.settings import SpotifySettings
from producers.spotify.tokens import FileTokenStore
from tests.fakes.spotify_server import FakeSpotify


def browser(*urls: str) -> threading.Thread:
    """Follow URLs in order like a browser would (302 from /authorize to the callback)."""

    def visit() -> None:
        for url in urls:
            with contextlib.suppress(requests.RequestException):
                requests.get(url, timeout=5)

    thread = threading.Thread(target=visit, daemon=True)
    thread.start()
    return thread


def test_code_flow_stores_a_working_grant_in_a_0600_file(
    fake: FakeSpotify, settings: SpotifySettings, tokens: FileTokenStore
) -> None:
    fake.login_as = "ana"
    shown: list[str] = []

    def show(url: str) -> None:
        shown.append(url)
        base = settings.redirect_uri.rsplit("/", 1)[0]
        browser(base + "/favicon.ico", url)  # a stray request first: must be ignored

    token = authorise(settings, tokens.handler("ana"), show_url=show, timeout_s=10)
    assert shown and shown[0].startswith(f"{fake.base_url}/authorize?")
    assert "scope=user-read-recently-played" in shown[0]
    assert "state=" in shown[0]
    assert fake.stats.token_grants == {"authorization_code": 1}
    path = tokens.handler("ana").path
    assert (path.stat().st_mode & 0o777) == 0o600
    assert tokens.handler("ana").load() == token
    # The stored access token is one the fake accepts for ana.
    answer = requests.get(
        f"{fake.api_base_url}me/player/recently-played",
        headers={"Authorization": f"Bearer {token.access_token.get_secret_value()}"},
        timeout=5,
    )
    assert answer.status_code == 200


def test_a_redirect_with_the_wrong_state_is_refused(
    fake: FakeSpotify, settings: SpotifySettings, tokens: FileTokenStore
) -> None:
    forged = f"{settings.redirect_uri}?code=C-forged&state=not-ours"
    with pytest.raises(SpotifyOauthError, match="state"):
        authorise(settings, tokens.handler("ana"), show_url=lambda url: browser(forged),
                  timeout_s=10)
    assert fake.stats.token_grants == {}  # never exchanged
    assert tokens.handler("ana").load() is None


def test_a_denied_authorisation_is_reported(
    fake: FakeSpotify, settings: SpotifySettings, tokens: FileTokenStore
) -> None:
    fake.login_as = None  # the listener clicked "Cancel"
    with pytest.raises(SpotifyOauthError, match="access_denied"):
        authorise(settings, tokens.handler("ana"), show_url=lambda url: browser(url), timeout_s=10)
    assert tokens.handler("ana").load() is None


def test_no_redirect_times_out(settings: SpotifySettings, tokens: FileTokenStore) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        authorise(settings, tokens.handler("ana"), show_url=lambda url: None, timeout_s=0.5)
    assert time.monotonic() - started < 5


def cli_env(fake: FakeSpotify, settings: SpotifySettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORE_")}
    env.update(
        ENCORE_SPOTIFY_CLIENT_ID=fake.client_id,
        ENCORE_SPOTIFY_CLIENT_SECRET=fake.client_secret,
        ENCORE_SPOTIFY_API_BASE_URL=fake.api_base_url,
        ENCORE_SPOTIFY_ACCOUNTS_BASE_URL=fake.accounts_base_url,
        ENCORE_SPOTIFY_REDIRECT_URI=settings.redirect_uri,
        ENCORE_SPOTIFY_TOKEN_DIR=str(settings.token_dir),
        COLUMNS="200",
    )
    return env


def test_encore_auth_command_end_to_end(
    fake: FakeSpotify, settings: SpotifySettings, tokens: FileTokenStore
) -> None:
    fake.login_as = "ben"
    encore = Path(sys.executable).with_name("encore")
    proc = subprocess.Popen(
        [str(encore), "auth", "--listener", "ben", "--timeout", "30", "--verbose"],
        env=cli_env(fake, settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    url = None
    deadline = time.monotonic() + 30
    lines = []
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("AUTHORIZE_URL "):
            url = line.split(" ", 1)[1].strip()
    assert url, "".join(lines)
    requests.get(url, timeout=10)
    out, err = proc.communicate(timeout=30)
    output = "".join(lines) + out + err
    assert proc.returncode == 0, output
    assert "listener ben authorised" in output
    stored = tokens.handler("ben").load()
    assert stored is not None
    assert (tokens.handler("ben").path.stat().st_mode & 0o777) == 0o600
    for secret in [fake.client_secret, *fake.stats.issued_secrets]:
        assert secret not in output
