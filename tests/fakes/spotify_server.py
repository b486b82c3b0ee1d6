"""A small but real Spotify: accounts service and recently-played, over HTTP, in a thread.

It speaks what the poller needs, with the real semantics where they matter:

- ``GET /authorize`` redirects (302) to the registered redirect URI with ``code`` and
  ``state``, as if ``login_as`` had logged in and approved;
- ``POST /api/token`` checks HTTP Basic client credentials and serves the
  ``authorization_code`` and ``refresh_token`` grants (400 ``invalid_grant`` otherwise);
- ``GET /v1/me/player/recently-played`` checks the Bearer token (401 when expired or
  unknown) and serves ``limit`` (1..50), ``after`` and ``before`` (exclusive, ms) over
  the listener's scripted plays, newest first, of which only the last ``window`` (50,
  like Spotify) can be read at all; ``cursors`` are the newest and oldest ``played_at``
  of the page in ms, ``null`` on an empty page.

Failures are scripted: the next N recently-played requests answer 429 with a
Retry-After, or 500; tokens can be expired server-side. After a 429 the server keeps
answering 429 until Retry-After has passed on its ``clock`` (share a virtual clock
with the poller to make an hour pass instantly) and counts requests that came early.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

WINDOW = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ScriptedPlay:
    track_id: str  # Spotify base62 id
    name: str
    artist: str
    played_at: datetime  # UTC, millisecond precision

    @property
    def ms(self) -> int:
        return (self.played_at - EPOCH) // timedelta(milliseconds=1)

    def item(self) -> dict[str, Any]:
        stamp = self.played_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        stamp += f"{self.played_at.microsecond // 1000:03d}Z"
        return {
            "track": {
                "id": self.track_id,
                "name": self.name,
                "artists": [{"name": self.artist, "id": "ar" + self.track_id[:20]}],
                "uri": f"spotify:track:{self.track_id}",
                "duration_ms": 200_000,
                "type": "track",
            },
            "played_at": stamp,
            "context": None,
        }


def make_plays(count: int, *, start: datetime, step_s: float = 211.0, seed: str = "") -> list[
    ScriptedPlay
]:
    """``count`` distinct plays ``step_s`` apart (ms precision), some tracks repeated."""
    plays = []
    for n in range(count):
        track = n % max(1, count * 2 // 3)  # a third are replays of earlier tracks
        when = start + timedelta(milliseconds=int(n * step_s * 1000) + 7 * n)
        plays.append(
            ScriptedPlay(
                track_id=f"{seed}tr{track:020d}"[-22:],
                name=f"Song {seed}{track}",
                artist=f"Band {track % 7}",
                played_at=when,
            )
        )
    return plays


@dataclass
class _Grant:
    user: str
    refresh_token: str
    access_tokens: set[str] = field(default_factory=set)


@dataclass
class Stats:
    recently_played_requests: int = 0
    served_pages: int = 0
    answered_429: int = 0
    answered_500: int = 0
    answered_401: int = 0
    early_after_429: int = 0
    token_grants: dict[str, int] = field(default_factory=dict)
    bearer_tokens_seen: list[str] = field(default_factory=list)
    after_params: list[int | None] = field(default_factory=list)
    #: Every code, access token and refresh token handed out (for no-secret-in-logs tests).
    issued_secrets: list[str] = field(default_factory=list)


class FakeSpotify:
    """Start with :meth:`start` (or as a context manager); URLs via the properties."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret-0123456789",
        clock: Callable[[], float] = time.monotonic,
        window: int = WINDOW,
        rotate_refresh_tokens: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.window = window
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.login_as: str | None = None
        self.stats = Stats()
        self._plays: dict[str, list[ScriptedPlay]] = {}
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (user, redirect_uri)
        self._grants: dict[str, _Grant] = {}  # refresh token -> grant
        self._access: dict[str, str] = {}  # access token -> user
        self._failures: deque[tuple[int, float | None]] = deque()
        self._rate_limited_until: float | None = None
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeSpotify:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSpotify:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    @property
    def api_base_url(self) -> str:
        return self.base_url + "/v1/"

    @property
    def accounts_base_url(self) -> str:
        return self.base_url

    # --- scripting ---------------------------------------------------------------------

    def add_plays(self, user: str, plays: list[ScriptedPlay]) -> None:
        with self._lock:
            self._plays.setdefault(user, []).extend(plays)
            self._plays[user].sort(key=lambda p: p.ms)

    def plays(self, user: str) -> list[ScriptedPlay]:
        with self._lock:
            return list(self._plays.get(user, []))

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """The next ``count`` recently-played requests answer ``status``."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def pending_failures(self) -> int:
        with self._lock:
            return len(self._failures)

    def expire_access_tokens(self, user: str) -> int:
        """Server-side expiry: the client still believes its token is good for an hour."""
        with self._lock:
            dead = [t for t, u in self._access.items() if u == user]
            for token in dead:
                del self._access[token]
            return len(dead)

    def revoke(self, user: str) -> None:
        """The listener removed our app: refresh tokens stop working too."""
        with self._lock:
            self.expire_access_tokens(user)
            for token in [t for t, g in self._grants.items() if g.user == user]:
                del self._grants[token]

    def issue_tokens(self, user: str) -> dict[str, Any]:
        """Mint a grant directly (what a finished authorisation would store)."""
        with self._lock:
            refresh = "R-" + secrets.token_urlsafe(24)
            self.stats.issued_secrets.append(refresh)
            self._grants[refresh] = _Grant(user=user, refresh_token=refresh)
            return self._new_access(user, refresh)

    def _new_access(self, user: str, refresh: str) -> dict[str, Any]:
        access = "A-" + secrets.token_urlsafe(24)
        self.stats.issued_secrets.append(access)
        self._access[access] = user
        self._grants[refresh].access_tokens.add(access)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": refresh,
            "scope": "user-read-recently-played",
        }

    # --- endpoints ---------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, {"error": "invalid_request"}
        redirect = query.get("redirect_uri", "")
        params = {"state": query["state"]} if "state" in query else {}
        if self.login_as is None:
            params["error"] = "access_denied"
        else:
            code = "C-" + secrets.token_urlsafe(16)
            with self._lock:
                self.stats.issued_secrets.append(code)
                self._codes[code] = (self.login_as, redirect)
            params["code"] = code
        return 302, {"Location": f"{redirect}?{urlencode(params)}"}, None

    def token(self, auth_header: str | None, form: dict[str, str]) -> tuple[int, Any]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth_header != f"Basic {expected}":
            return 401, {"error": "invalid_client", "error_description": "Invalid client"}
        grant = form.get("grant_type", "")
        with self._lock:
            self.stats.token_grants[grant] = self.stats.token_grants.get(grant, 0) + 1
            if grant == "authorization_code":
                user_redirect = self._codes.pop(form.get("code", ""), None)
                if user_redirect is None or user_redirect[1] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant", "error_description": "Invalid code"}
                return 200, self.issue_tokens(user_redirect[0])
            if grant == "refresh_token":
                known = self._grants.get(form.get("refresh_token", ""))
                if known is None:
                    return 400, {"error": "invalid_grant", "error_description": "Refresh revoked"}
                refresh = known.refresh_token
                if self.rotate_refresh_tokens:
                    del self._grants[refresh]
                    refresh = "R-" + secrets.token_urlsafe(24)
                    self.stats.issued_secrets.append(refresh)
                    self._grants[refresh] = _Grant(user=known.user, refresh_token=refresh)
                answer = self._new_access(known.user, refresh)
                if not self.rotate_refresh_tokens:
                    answer.pop("refresh_token")  # Spotify often omits it: keep the old one
                return 200, answer
        return 400, {"error": "unsupported_grant_type"}

    def recently_played(
        self, auth_header: str | None, query: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.stats.recently_played_requests += 1
            now = self.clock()
            if self._rate_limited_until is not None and now < self._rate_limited_until:
                self.stats.early_after_429 += 1
                self.stats.answered_429 += 1
                left = max(1, int(self._rate_limited_until - now + 0.999))
                return 429, {"Retry-After": str(left)}, _api_error(429, "API rate limit exceeded")
            if self._failures:
                status, retry_after = self._failures.popleft()
                if status == 429:
                    self.stats.answered_429 += 1
                    wait = retry_after if retry_after is not None else 1.0
                    self._rate_limited_until = now + wait
                    return 429, {"Retry-After": str(int(wait))}, _api_error(429, "rate limit")
                if status >= 500:
                    self.stats.answered_500 += 1
                return status, {}, _api_error(status, "scripted failure")
            token = (auth_header or "").removeprefix("Bearer ")
            self.stats.bearer_tokens_seen.append(token)
            user = self._access.get(token)
            if user is None:
                self.stats.answered_401 += 1
                return 401, {}, _api_error(401, "The access token expired")
            try:
                limit = int(query.get("limit", "20"))
                after = int(query["after"]) if "after" in query else None
                before = int(query["before"]) if "before" in query else None
            except ValueError:
                return 400, {}, _api_error(400, "Invalid limit, after or before")
            if not 1 <= limit <= 50 or (after is not None and before is not None):
                return 400, {}, _api_error(400, "Invalid limit, or both after and before")
            self.stats.after_params.append(after)
            visible = self._plays.get(user, [])[-self.window :]
            newest_first = sorted(visible, key=lambda p: p.ms, reverse=True)
            if after is not None:
                chosen = [p for p in newest_first if p.ms > after][:limit]
            elif before is not None:
                chosen = [p for p in newest_first if p.ms < before][:limit]
            else:
                chosen = newest_first[:limit]
            self.stats.served_pages += 1
        body = {
            "href": "recently-played",
            "items": [p.item() for p in chosen],
            "limit": limit,
            "next": None,
            "cursors": (
                {"after": str(chosen[0].ms), "before": str(chosen[-1].ms)} if chosen else None
            ),
        }
        return 200, {}, body


def _api_error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeSpotify
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        fake = self.server_fake
        if url.path == "/authorize":
            status, headers, body = fake.authorize(query)
        elif url.path == "/v1/me/player/recently-played":
            status, headers, body = fake.recently_played(self.headers.get("Authorization"), query)
        else:
            status, headers, body = 404, {}, _api_error(404, "Service not found")
        self._send(status, headers, body)

    def do_POST(self) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if url.path == "/api/token":
            status, body = self.server_fake.token(self.headers.get("Authorization"), form)
        else:
            status, body = 404, _api_error(404, "Service not found")
        self._send(status, {}, body)

    def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests assert on stats, not on stderr
