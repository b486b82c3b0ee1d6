"""Token caches: 0600 files created safely, validated content, Redis variant, secret files."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
from pydantic import SecretStr

from producers.spotify.settings import SettingsError, SpotifySettings, read_secret_file
from producers.spotify.tokens import (
    FileTokenStore,
    RedisTokenStore,
    TokenInfo,
    check_listener,
)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: the file mode must not depend on the caller's umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def token(n: int = 1) -> TokenInfo:
    return TokenInfo(
        access_token=SecretStr(f"access-token-{n}-abcdef"),
        refresh_token=SecretStr(f"refresh-token-{n}-abcdef"),
        expires_at=int(time.time()) + 3600,
        scope="user-read-recently-played",
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_token_file_is_0600_and_its_dir_0700_even_with_umask_0(
    tmp_path: Path, open_umask: None
) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    cache = store.handler("ana")
    cache.store(token(1))
    assert mode(cache.path) == 0o600
    assert mode(tmp_path / "tokens") == 0o700
    cache.store(token(2))  # replaced, still 0600, no temp file left behind
    assert mode(cache.path) == 0o600
    assert sorted(p.name for p in (tmp_path / "tokens").iterdir()) == ["ana.json"]
    loaded = cache.load()
    assert loaded is not None
    assert loaded.access_token.get_secret_value() == "access-token-2-abcdef"


def test_a_loose_existing_file_is_replaced_by_a_0600_one(tmp_path: Path, open_umask: None) -> None:
    store = FileTokenStore(tmp_path)
    cache = store.handler("ana")
    cache.path.write_text("{}")
    cache.path.chmod(0o644)
    cache.store(token())
    assert mode(cache.path) == 0o600


def test_spotipy_interface_round_trips(tmp_path: Path) -> None:
    cache = FileTokenStore(tmp_path).handler("ana")
    assert cache.get_cached_token() is None
    info = token().to_spotipy()
    cache.save_token_to_cache(info)
    assert cache.get_cached_token() == info


def test_corrupt_cache_reads_as_no_token_and_logs_no_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = FileTokenStore(tmp_path).handler("ana")
    cache.path.write_text('{"access_token": "leaky-secret-value-123"}')
    with caplog.at_level(logging.DEBUG):
        assert cache.load() is None
    assert "encore auth" in caplog.text
    assert "leaky-secret-value-123" not in caplog.text


def test_listeners_are_the_stored_files(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t")
    assert store.listeners() == []
    for name in ("zoe", "ana"):
        store.handler(name).store(token())
    assert store.listeners() == ["ana", "zoe"]


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "a" * 65, "a..b", "x y"])
def test_listener_names_that_could_escape_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        check_listener(name)


def test_redis_token_store_round_trips_under_the_prefix() -> None:
    client = fakeredis.FakeRedis()
    store = RedisTokenStore(client, "enc:")
    store.handler("ana").store(token(3))
    assert client.exists("enc:spotify-token:ana")
    assert store.listeners() == ["ana"]
    loaded = store.handler("ana").load()
    assert loaded is not None and loaded.refresh_token.get_secret_value() == "refresh-token-3-abcdef"


def test_secret_file_must_be_owner_only(tmp_path: Path) -> None:
    secret = tmp_path / "client_secret"
    secret.write_text("s3cr3t-from-file\n")
    secret.chmod(0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        read_secret_file(secret)
    secret.chmod(0o600)
    assert read_secret_file(secret) == "s3cr3t-from-file"
    settings = SpotifySettings(client_id="id", client_secret_file=secret)
    assert settings.client_secret_value() == "s3cr3t-from-file"


def test_settings_from_environment_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCORE_SPOTIFY_CLIENT_ID", "env-id")
    monkeypatch.setenv("ENCORE_SPOTIFY_CLIENT_SECRET", "env-secret-123")
    monkeypatch.setenv("ENCORE_SPOTIFY_LISTENERS", '["ana", "ben"]')
    settings = SpotifySettings()
    assert settings.client_id == "env-id"
    assert settings.client_secret_value() == "env-secret-123"
    assert settings.listeners == ["ana", "ben"]
    assert "env-secret-123" not in repr(settings) and "env-secret-123" not in str(settings)
    monkeypatch.delenv("ENCORE_SPOTIFY_CLIENT_SECRET")
    with pytest.raises(SettingsError):
        SpotifySettings().client_secret_value()
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        SpotifySettings(redirect_uri="http://localhost:8888/callback")
