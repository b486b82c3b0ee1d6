"""Settings of the Spotify poller. Environment prefix ``ENCORE_SPOTIFY_``.

The client secret comes from ``ENCORE_SPOTIFY_CLIENT_SECRET`` or from a file named by
``ENCORE_SPOTIFY_CLIENT_SECRET_FILE`` that only its owner may read (mode 0600); it is
never a default, never in the repository and never printed.

>>> s = SpotifySettings(client_id="abc")
>>> s.redirect_uri, s.scope
('http://127.0.0.1:8888/callback', 'user-read-recently-played')
>>> s.token_url
'https://accounts.spotify.com/api/token'
>>> "hunter2-value" in repr(SpotifySettings(client_id="abc", client_secret="hunter2-value"))
False
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cluster.settings import REPO_ROOT

SCOPE = "user-read-recently-played"


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message says which and how to fix it."""


class SpotifySettings(BaseSettings):
    """Where Spotify lives, who we are to it, where tokens go, and how politely we poll."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_SPOTIFY_", extra="ignore")

    client_id: str | None = None
    client_secret: SecretStr | None = None
    #: A file holding the client secret (mode 0600), used when ``client_secret`` is unset.
    client_secret_file: Path | None = None
    #: Must be registered in the Spotify app exactly; Spotify refuses ``localhost``.
    redirect_uri: str = "http://127.0.0.1:8888/callback"
    scope: str = SCOPE
    #: Web API root (tests point it at a fake server).
    api_base_url: str = "https://api.spotify.com/v1/"
    #: Accounts service root: ``/authorize`` and ``/api/token`` live under it.
    accounts_base_url: str = "https://accounts.spotify.com"
    #: ``file`` (one 0600 JSON file per listener under ``token_dir``) or ``redis``.
    token_store: Literal["file", "redis"] = "file"
    token_dir: Path = REPO_ROOT / ".local" / "spotify-tokens"
    #: Listeners polled when ``encore poll`` names none; empty = every stored token.
    listeners: list[str] = Field(default_factory=list)

    #: Seconds between two polls of one listener once it is caught up.
    poll_interval_s: float = Field(default=60.0, gt=0)
    #: Page size of recently-played; Spotify's maximum and its whole memory.
    page_limit: int = Field(default=50, ge=1, le=50)
    #: Timeout of one HTTP request.
    request_timeout_s: float = Field(default=10.0, gt=0)
    #: Retry-After longer than this is logged as a warning (plays may be lost meanwhile).
    long_retry_after_s: float = 60.0
    #: Used when a 429 carries no (readable) Retry-After.
    default_retry_after_s: float = 5.0
    #: Exponential backoff with full jitter after a 5xx or a network error.
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_cap_s: float = Field(default=300.0, gt=0)
    #: ``--once``: give a listener up for this run after this many failed attempts in a row.
    max_attempts: int = Field(default=8, ge=1)
    #: How many ``before`` pages to walk back when a full page suggests we fell behind.
    max_backfill_pages: int = Field(default=20, ge=0)

    @field_validator("redirect_uri")
    @classmethod
    def _loopback_redirect(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme != "http" or parsed.hostname != "127.0.0.1" or not parsed.port:
            raise ValueError(
                "redirect_uri must be http://127.0.0.1:<port>/<path> "
                "(Spotify refuses 'localhost'; the callback server listens on loopback)"
            )
        return value

    @field_validator("api_base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("accounts_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def authorize_url(self) -> str:
        return f"{self.accounts_base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.accounts_base_url}/api/token"

    def require_client_id(self) -> str:
        if not self.client_id:
            raise SettingsError(
                "no Spotify client id: set ENCORE_SPOTIFY_CLIENT_ID "
                "(from your app at developer.spotify.com)"
            )
        return self.client_id

    def client_secret_value(self) -> str:
        """The client secret, from the environment or a 0600 file; never log the result."""
        if self.client_secret is not None:
            return self.client_secret.get_secret_value()
        if self.client_secret_file is not None:
            return read_secret_file(self.client_secret_file)
        raise SettingsError(
            "no Spotify client secret: set ENCORE_SPOTIFY_CLIENT_SECRET or "
            "ENCORE_SPOTIFY_CLIENT_SECRET_FILE (a file of mode 0600)"
        )


def read_secret_file(path: Path) -> str:
    """Read a secret from a file only its owner can read or write.

    Refuses a file that group or others can access, the way ssh refuses a private key.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SettingsError(f"secret file {path} does not exist") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"secret file {path} has mode {stat.S_IMODE(mode):04o}; run: chmod 600 {path}"
        )
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise SettingsError(f"secret file {path} is empty")
    return value
