"""Per-listener token caches for spotipy: a 0600 file, or a Redis key.

Both are ``spotipy.CacheHandler`` subclasses, so spotipy reads and writes them itself
when it refreshes an access token. Stored tokens are checked with a pydantic model on
the way in and out; a broken cache reads as "no token" (the listener must re-auth)
instead of crashing the poller.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import redis
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from spotipy.cache_handler import CacheHandler

from producers.spotify import redact

log = logging.getLogger(__name__)

_LISTENER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def check_listener(name: str) -> str:
    """A listener name is also a file name and a Redis key part: keep it tame.

    >>> check_listener("ana-1")
    'ana-1'
    >>> check_listener("../etc/passwd")
    Traceback (most recent call last):
    ...
    ValueError: listener name '../etc/passwd' must match [A-Za-z0-9][A-Za-z0-9_.@-]{0,63}
    """
    if not _LISTENER.fullmatch(name) or ".." in name:
        raise ValueError(f"listener name {name!r} must match [A-Za-z0-9][A-Za-z0-9_.@-]{{0,63}}")
    return name


class TokenInfo(BaseModel):
    """What spotipy keeps about a listener's grant (its ``token_info`` dict)."""

    model_config = ConfigDict(extra="allow")

    access_token: SecretStr
    refresh_token: SecretStr
    expires_at: int
    scope: str = ""
    token_type: str = "Bearer"

    @classmethod
    def from_spotipy(cls, data: dict[str, Any]) -> TokenInfo:
        return cls.model_validate(data)

    def to_spotipy(self) -> dict[str, Any]:
        data = self.model_dump()
        data["access_token"] = self.access_token.get_secret_value()
        data["refresh_token"] = self.refresh_token.get_secret_value()
        return data

    def fingerprint(self) -> str:
        """Short hash of the refresh token: tells grants apart without showing them."""
        raw = self.refresh_token.get_secret_value().encode("utf-8")
        return hashlib.sha256(raw).hexdigest()[:12]

    def register_secrets(self) -> None:
        redact.register_secret(self.access_token.get_secret_value())
        redact.register_secret(self.refresh_token.get_secret_value())


class ListenerTokenStore(Protocol):
    """Makes the cache handler of one listener and lists the listeners it knows."""

    def handler(self, listener: str) -> TokenCache: ...

    def listeners(self) -> list[str]: ...


class TokenCache(CacheHandler):
    """spotipy cache handler of one listener, validated through :class:`TokenInfo`."""

    listener: str

    def load(self) -> TokenInfo | None:
        raise NotImplementedError

    def store(self, token: TokenInfo) -> None:
        raise NotImplementedError

    # spotipy's interface --------------------------------------------------------------
    def get_cached_token(self) -> dict[str, Any] | None:
        token = self.load()
        return token.to_spotipy() if token else None

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        self.store(TokenInfo.from_spotipy(token_info))

    @staticmethod
    def _parse(raw: str | bytes, where: str) -> TokenInfo | None:
        try:
            token = TokenInfo.model_validate_json(raw)
        except ValidationError as exc:
            # Only field names and error kinds, never the input values.
            fields = sorted({".".join(map(str, e["loc"])) or "<root>" for e in exc.errors()})
            log.warning("token cache %s is unusable (%s); run `encore auth` again", where, fields)
            return None
        token.register_secrets()
        return token


class FileTokenCache(TokenCache):
    """``<dir>/<listener>.json``, created with mode 0600 and replaced atomically."""

    def __init__(self, directory: Path, listener: str) -> None:
        self.listener = check_listener(listener)
        self.directory = directory
        self.path = directory / f"{listener}.json"

    def load(self) -> TokenInfo | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return self._parse(raw, str(self.path))

    def store(self, token: TokenInfo) -> None:
        token.register_secrets()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = json.dumps(token.to_spotipy()).encode("utf-8")
        tmp = self.directory / f".{self.listener}.json.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        # O_EXCL + 0600: the file is never readable by others, not even for an instant.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        os.replace(tmp, self.path)


class FileTokenStore:
    """One 0600 JSON file per listener under a directory of mode 0700."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def handler(self, listener: str) -> FileTokenCache:
        return FileTokenCache(self.directory, listener)

    def listeners(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json") if not p.name.startswith("."))


class RedisTokenCache(TokenCache):
    """``{prefix}spotify-token:{listener}`` holding the token JSON."""

    def __init__(self, client: redis.Redis, prefix: str, listener: str) -> None:
        self.listener = check_listener(listener)
        self.client = client
        self.key = f"{prefix}spotify-token:{listener}"

    def load(self) -> TokenInfo | None:
        raw = self.client.get(self.key)
        if raw is None:
            return None
        return self._parse(raw, self.key)

    def store(self, token: TokenInfo) -> None:
        token.register_secrets()
        self.client.set(self.key, json.dumps(token.to_spotipy()))


class RedisTokenStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def handler(self, listener: str) -> RedisTokenCache:
        return RedisTokenCache(self.client, self.prefix, listener)

    def listeners(self) -> list[str]:
        head = f"{self.prefix}spotify-token:"
        return sorted(_decode(k)[len(head) :] for k in _scan(self.client, head + "*"))


def _scan(client: redis.Redis, pattern: str) -> Iterator[bytes | str]:
    yield from client.scan_iter(match=pattern, count=200)


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
