"""OAuth authorisation-code flow for one listener, and the spotipy auth manager.

``authorise()`` prints (through a callback) the Spotify authorise URL, catches the
redirect on a one-shot HTTP server bound to 127.0.0.1, checks ``state``, exchanges
the code at the token endpoint and stores the tokens in the listener's cache.

The auth manager used by the poller never prompts: where spotipy would ask a human
for a URL (no usable token), it raises :class:`NeedsReauth` instead.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlparse

import requests
from spotipy.exceptions import SpotifyOauthError
from spotipy.oauth2 import SpotifyOAuth

from producers.spotify import redact
from producers.spotify.settings import SpotifySettings
from producers.spotify.tokens import TokenCache, TokenInfo

log = logging.getLogger(__name__)


class NeedsReauth(Exception):
    """The listener has no usable grant: someone must run ``encore auth`` again."""


class TokenEndpointError(SpotifyOauthError):
    """The accounts service refused or failed a token request; carries the HTTP status."""

    def __init__(self, status: int, error: str | None, description: str | None) -> None:
        super().__init__(
            f"token endpoint answered {status}: {error}", error=error, error_description=description
        )
        self.status = status

    @property
    def transient(self) -> bool:
        """5xx and 429 pass; 400 ``invalid_grant`` / 401 do not."""
        return self.status >= 500 or self.status == 429


class EncoreOAuth(SpotifyOAuth):
    """spotipy's authorisation-code manager with our endpoints and no prompting."""

    def __init__(self, settings: SpotifySettings, cache: TokenCache, *, state: str | None = None):
        client_id = settings.require_client_id()
        client_secret = settings.client_secret_value()
        redact.register_client_credentials(client_id, client_secret)
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=settings.redirect_uri,
            state=state,
            scope=settings.scope,
            cache_handler=cache,
            requests_session=requests.Session(),  # no retry adapter: real statuses
            requests_timeout=settings.request_timeout_s,
            open_browser=False,
        )
        # Instance attributes shadow spotipy's class constants (tests use a fake server).
        self.OAUTH_AUTHORIZE_URL = settings.authorize_url
        self.OAUTH_TOKEN_URL = settings.token_url
        self.listener = cache.listener

    def get_auth_response(self, open_browser: bool | None = None) -> str:
        raise NeedsReauth(f"listener {self.listener!r} has no usable Spotify token")

    def _handle_oauth_error(self, http_error: requests.HTTPError) -> None:
        response = http_error.response
        if response is None:
            raise TokenEndpointError(599, type(http_error).__name__, None)
        error: str | None
        description: str | None
        try:
            payload = response.json()
            error, description = payload.get("error"), payload.get("error_description")
        except ValueError:
            error, description = (response.text or None), None
        raise TokenEndpointError(response.status_code, error, description)

    def _add_custom_values_to_token_info(self, token_info: dict[str, Any]) -> dict[str, Any]:
        token_info = cast(dict[str, Any], super()._add_custom_values_to_token_info(token_info))
        redact.register_secret(token_info.get("access_token"))
        redact.register_secret(token_info.get("refresh_token"))
        return token_info

    def force_refresh(self) -> TokenInfo:
        """Refresh now, whatever the cached expiry says (after a 401)."""
        cached = self.cache_handler.load()
        if cached is None:
            raise NeedsReauth(f"listener {self.listener!r} has no stored token")
        self.refresh_access_token(cached.refresh_token.get_secret_value())
        fresh = self.cache_handler.load()
        if fresh is None:  # pragma: no cover - spotipy saved it a moment ago
            raise NeedsReauth(f"listener {self.listener!r}: refreshed token was not stored")
        return fresh


# --- the authorisation-code flow ------------------------------------------------------


@dataclass
class CallbackResult:
    code: str | None = None
    state: str | None = None
    error: str | None = None


class _CallbackServer(HTTPServer):
    result: CallbackResult
    path: str
    done: threading.Event


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path != self.server.path:
            self._answer(404, "Not the Spotify callback.")
            return
        query = parse_qs(url.query)
        result = self.server.result
        result.code = _first(query, "code")
        result.state = _first(query, "state")
        result.error = _first(query, "error")
        redact.register_secret(result.code)
        if result.error or not result.code:
            self._answer(400, f"Spotify said: {result.error or 'no code'}. You can close this tab.")
        else:
            self._answer(200, "encore is authorised. You can close this tab.")
        self.server.done.set()

    def _answer(self, status: int, text: str) -> None:
        body = f"<!doctype html><title>encore</title><p>{text}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the request line, which carries the authorisation code.
        log.debug("callback request: %s", redact.redact(format % args))


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def wait_for_callback(
    redirect_uri: str, timeout_s: float, ready: Callable[[], object] | None = None
) -> CallbackResult:
    """Serve the redirect URI on loopback until Spotify's redirect arrives (or time out)."""
    parsed = urlparse(redirect_uri)
    assert parsed.hostname == "127.0.0.1" and parsed.port, "redirect URI checked by settings"
    server = _CallbackServer(("127.0.0.1", parsed.port), _CallbackHandler)
    server.result = CallbackResult()
    server.path = parsed.path or "/"
    server.done = threading.Event()
    server.timeout = 0.2
    try:
        if ready:
            ready()
        deadline = time.monotonic() + timeout_s
        while not server.done.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no redirect to {redirect_uri} within {timeout_s:.0f} s")
            server.handle_request()
    finally:
        server.server_close()
    return server.result


def authorise(
    settings: SpotifySettings,
    cache: TokenCache,
    *,
    show_url: Callable[[str], object],
    timeout_s: float = 300.0,
) -> TokenInfo:
    """Run the whole authorisation-code flow for ``cache.listener``; return the stored grant.

    ``show_url`` receives the authorise URL once the callback server is listening, so a
    browser (or a test) can follow it straight away.
    """
    state = secrets.token_urlsafe(24)
    manager = EncoreOAuth(settings, cache, state=state)
    url = manager.get_authorize_url()
    result = wait_for_callback(settings.redirect_uri, timeout_s, ready=lambda: show_url(url))
    if result.error:
        raise SpotifyOauthError(f"authorisation refused: {result.error}", error=result.error)
    if result.state != state:
        raise SpotifyOauthError("state in the redirect does not match: possible CSRF, ignored")
    if not result.code:
        raise SpotifyOauthError("the redirect carried no code")
    manager.get_access_token(result.code, as_dict=False, check_cache=False)
    token = cache.load()
    if token is None:  # pragma: no cover - spotipy stored it through our cache
        raise SpotifyOauthError("token exchange succeeded but nothing was stored")
    log.info("listener %s authorised (grant %s)", cache.listener, token.fingerprint())
    return token
