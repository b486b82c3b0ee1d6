"""The Spotify recently-played poller: several listeners, one loop, no play missed or repeated.

One *cycle* of a listener reads ``GET /me/player/recently-played?limit=50&after=<cursor>``
until it is caught up. Each page's plays are produced to Kafka and acknowledged, and
only then is the listener's cursor (``{prefix}poll-cursor:{listener}`` in Redis)
moved to the newest of them: a restart resumes exactly where the last acknowledged
batch ended.

Spotify remembers only a listener's 50 most recent plays. A full page of plays all
newer than the cursor means we may have fallen behind; the poller then walks back
with ``before=`` until it meets the cursor (nothing lost) or Spotify's memory ends
(plays lost for good: reported, with the gap).

Failures, per listener unless said otherwise:

- 429: Retry-After is honoured for *every* listener (Spotify's rate limit is per
  app); a long one is logged as a warning, since plays may fall out of the window.
- 5xx, network errors, Kafka or Redis trouble: exponential backoff with full jitter,
  bounded by ``backoff_cap_s``.
- 401: the token is refreshed once and the request retried; a second 401 (or a
  refused refresh) marks the listener as needing ``encore auth`` again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import requests
import spotipy
from kafka.errors import KafkaError
from pydantic import AwareDatetime, TypeAdapter, ValidationError
from redis import RedisError
from spotipy.exceptions import SpotifyException

from models.events import PlayEvent
from producers.spotify import redact
from producers.spotify.auth import EncoreOAuth, NeedsReauth, TokenEndpointError
from producers.spotify.backoff import BackoffPolicy, Clock, RealClock, parse_retry_after
from producers.spotify.mapping import (
    RecentItem,
    RecentlyPlayedPage,
    parse_items,
    to_ms,
    to_play_event,
)
from producers.spotify.settings import SpotifySettings
from producers.spotify.sinks import CursorStore, PlaySink
from producers.spotify.tokens import ListenerTokenStore, TokenCache

log = logging.getLogger(__name__)
redact.install()


class Status(StrEnum):
    PENDING = "pending"
    OK = "ok"
    RATE_LIMITED = "rate-limited"
    BACKING_OFF = "backing-off"
    NEEDS_REAUTH = "needs-reauth"
    FAILED = "failed"


class RateLimited(Exception):
    def __init__(self, retry_after_s: float, stated: bool) -> None:
        super().__init__(f"429 Too Many Requests, retry after {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s
        self.stated = stated


class Transient(Exception):
    """Worth retrying later: 5xx, network, token endpoint hiccup, Kafka or Redis down."""


class _Unauthorized(Exception):
    pass


@dataclass(frozen=True)
class LossReport:
    """Plays between these instants may be gone: Spotify no longer shows them."""

    listener: str
    after: datetime
    before: datetime


@dataclass
class ListenerReport:
    listener: str
    status: Status = Status.PENDING
    produced_last_cycle: int = 0
    produced_total: int = 0
    cursor_ms: int | None = None
    rejected_total: int = 0
    losses: list[LossReport] = field(default_factory=list)
    failures_in_a_row: int = 0
    message: str = ""

    @property
    def cursor(self) -> datetime | None:
        if self.cursor_ms is None:
            return None
        return datetime.fromtimestamp(self.cursor_ms / 1000, tz=UTC)


@dataclass
class _Listener:
    name: str
    cache: TokenCache
    report: ListenerReport
    next_due: float = 0.0
    done: bool = False
    auth: EncoreOAuth | None = None
    client: spotipy.Spotify | None = None
    grant: str | None = None  # fingerprint of the refresh token last seen


ClientFactory = Callable[[SpotifySettings, EncoreOAuth], spotipy.Spotify]


def make_client(settings: SpotifySettings, auth: EncoreOAuth) -> spotipy.Spotify:
    """spotipy with its own retries off and a plain session: real statuses and headers."""
    client = spotipy.Spotify(
        auth_manager=auth,
        requests_session=requests.Session(),
        retries=0,
        status_retries=0,
        requests_timeout=settings.request_timeout_s,
    )
    client.prefix = settings.api_base_url
    return client


class Poller:
    """Polls listeners' recently-played into a :class:`PlaySink`, cursors in a CursorStore."""

    def __init__(
        self,
        settings: SpotifySettings,
        listeners: Iterable[str],
        *,
        tokens: ListenerTokenStore,
        sink: PlaySink,
        cursors: CursorStore,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        client_factory: ClientFactory = make_client,
        on_report: Callable[[ListenerReport], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.cursors = cursors
        self.clock: Clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.policy = BackoffPolicy(settings.backoff_base_s, settings.backoff_cap_s)
        self.client_factory = client_factory
        self.on_report = on_report
        self._stopped = False
        #: Earliest moment any request may go out (set by a 429, which is app-wide).
        self.not_before = 0.0
        names = list(dict.fromkeys(listeners))
        if not names:
            raise ValueError("no listeners to poll: run `encore auth --listener NAME` first")
        self._listeners = [
            _Listener(name=n, cache=tokens.handler(n), report=ListenerReport(listener=n))
            for n in names
        ]

    # --- public ---------------------------------------------------------------------

    @property
    def reports(self) -> dict[str, ListenerReport]:
        return {lst.name: lst.report for lst in self._listeners}

    def stop(self) -> None:
        """Finish the current request and return from :meth:`run` (thread-safe)."""
        self._stopped = True
        wake = getattr(self.clock, "wake", None)
        if wake:
            wake()

    def run(self, *, once: bool = False) -> dict[str, ListenerReport]:
        """Poll until stopped; with ``once``, until every listener is caught up or given up."""
        now = self.clock.now()
        for lst in self._listeners:
            lst.next_due = now
            lst.done = False
        while not self._stopped:
            active = [lst for lst in self._listeners if not lst.done]
            if not active:
                break
            lst = min(active, key=lambda x: x.next_due)
            due = max(lst.next_due, self.not_before)
            wait = due - self.clock.now()
            if wait > 0:
                self.clock.sleep(wait)
                continue
            self._poll(lst, once=once)
            if self.on_report:
                self.on_report(lst.report)
        return self.reports

    def close(self) -> None:
        self.sink.close()

    # --- one listener ---------------------------------------------------------------

    def _poll(self, lst: _Listener, *, once: bool) -> None:
        report = lst.report
        report.produced_last_cycle = 0
        interval = self.settings.poll_interval_s
        if report.status is Status.NEEDS_REAUTH and not self._grant_changed(lst):
            lst.next_due = self.clock.now() + interval
            lst.done = once
            return
        try:
            self._cycle(lst)
        except RateLimited as exc:
            self._failed(lst, once, Status.RATE_LIMITED, str(exc))
            self.not_before = max(self.not_before, self.clock.now() + exc.retry_after_s)
            lst.next_due = self.not_before
            if exc.retry_after_s > self.settings.long_retry_after_s:
                log.warning(
                    "Spotify asks us to wait %.0f s (Retry-After) before polling again; "
                    "a listener who plays more than 50 tracks meanwhile loses plays",
                    exc.retry_after_s,
                )
            else:
                log.info("rate limited: waiting %.1f s (Retry-After)", exc.retry_after_s)
        except Transient as exc:
            self._failed(lst, once, Status.BACKING_OFF, str(exc))
            delay = self.policy.delay(report.failures_in_a_row - 1, self.rng)
            lst.next_due = self.clock.now() + delay
            log.warning(
                "listener %s: %s; retry %d in %.1f s", lst.name, exc, report.failures_in_a_row, delay
            )
        except NeedsReauth as exc:
            report.status = Status.NEEDS_REAUTH
            report.message = f"{exc}; run: encore auth --listener {lst.name}"
            lst.client = lst.auth = None
            lst.next_due = self.clock.now() + interval
            lst.done = once
            log.error("listener %s needs re-authorisation: %s", lst.name, exc)
        except Exception as exc:  # a bug or a surprise must not stop the other listeners
            self._failed(lst, once, Status.BACKING_OFF, f"unexpected {type(exc).__name__}")
            delay = self.policy.delay(report.failures_in_a_row - 1, self.rng)
            lst.next_due = self.clock.now() + delay
            log.exception("listener %s: unexpected error; retry in %.1f s", lst.name, delay)
        else:
            report.status = Status.OK
            report.failures_in_a_row = 0
            report.message = ""
            lst.next_due = self.clock.now() + interval
            lst.done = once

    def _failed(self, lst: _Listener, once: bool, status: Status, message: str) -> None:
        report = lst.report
        report.status = status
        report.message = message
        report.failures_in_a_row += 1
        if once and report.failures_in_a_row >= self.settings.max_attempts:
            report.status = Status.FAILED
            lst.done = True
            log.error("listener %s: giving up for this run after %d attempts: %s",
                      lst.name, report.failures_in_a_row, message)

    def _grant_changed(self, lst: _Listener) -> bool:
        """Did someone run `encore auth` for this listener since it was marked?"""
        token = lst.cache.load()
        return token is not None and token.fingerprint() != lst.grant

    def _cycle(self, lst: _Listener) -> None:
        """Read pages after the cursor until caught up, producing before committing."""
        self._ensure_client(lst)
        limit = self.settings.page_limit
        cursor = self._get_cursor(lst.name)
        lst.report.cursor_ms = cursor
        for _ in range(1000):  # bounded: each round moves the cursor forward or stops
            page = self._fetch(lst, after=cursor)
            if not page.items:
                return
            fresh = self._parse(lst, page.items, cursor)
            full = len(page.items) >= limit
            if full and cursor is not None:
                fresh += self._walk_back(lst, cursor, fresh)
            if fresh:
                self._publish(lst, fresh)
            # Newest instant on the page, unreadable items included (we step past them);
            # Spotify's own cursor only when no item carries a readable time.
            times = [i.played_at_ms for i in fresh] + _played_at_ms(page.items)
            stated = _int_or_none(page.cursors.after if page.cursors else None)
            new_cursor = max(times) if times else stated
            if new_cursor is None or (cursor is not None and new_cursor <= cursor):
                return  # nothing newer (or only unreadable items): caught up
            self._set_cursor(lst.name, new_cursor)
            cursor = new_cursor
            lst.report.cursor_ms = cursor
            if not full:
                return

    def _walk_back(self, lst: _Listener, cursor: int, page: list[RecentItem]) -> list[RecentItem]:
        """A full page newer than the cursor: fetch what is still readable behind it."""
        recovered: list[RecentItem] = []
        oldest = min((i.played_at_ms for i in page), default=None)
        for _ in range(self.settings.max_backfill_pages):
            if oldest is None:
                break
            back = self._fetch(lst, before=oldest)
            items = self._parse(lst, back.items, None)
            newer = [i for i in items if i.played_at_ms > cursor]
            recovered += newer
            if len(newer) < len(items):
                return recovered  # met the cursor: no gap
            if len(back.items) < self.settings.page_limit:
                break  # Spotify's memory ends here
            oldest = min((i.played_at_ms for i in items), default=None)
        gap_end = min([i.played_at_ms for i in page + recovered], default=cursor)
        loss = LossReport(lst.name, _from_ms(cursor), _from_ms(gap_end))
        lst.report.losses.append(loss)
        log.warning(
            "listener %s: more than %d plays since the last poll; plays between %s and %s "
            "are lost for good (Spotify keeps only the most recent %d)",
            lst.name, self.settings.page_limit, loss.after.isoformat(), loss.before.isoformat(),
            self.settings.page_limit,
        )
        return recovered

    def _parse(
        self, lst: _Listener, raw: list[dict[str, Any]], cursor: int | None
    ) -> list[RecentItem]:
        items, bad = parse_items(raw)
        for reason in bad:
            log.warning("listener %s: skipped an unreadable recently-played %s", lst.name, reason)
        lst.report.rejected_total += len(bad)
        if cursor is not None:
            items = [i for i in items if i.played_at_ms > cursor]  # defensive: `after` excludes
        return items

    def _publish(self, lst: _Listener, items: Sequence[RecentItem]) -> None:
        plays: dict[str, PlayEvent] = {}
        for item in sorted(items, key=lambda i: i.played_at_ms):
            try:
                play = to_play_event(lst.name, item)
            except ValidationError as exc:
                fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
                log.warning("listener %s: play refused by the contract (%s)", lst.name, fields)
                lst.report.rejected_total += 1
                continue
            plays.setdefault(play.event_id, play)
        try:
            self.sink.publish(list(plays.values()))
        except KafkaError as exc:
            raise Transient(f"Kafka: {type(exc).__name__}: {exc}") from exc
        lst.report.produced_last_cycle += len(plays)
        lst.report.produced_total += len(plays)
        log.debug("listener %s: produced %d plays", lst.name, len(plays))

    def _get_cursor(self, listener: str) -> int | None:
        try:
            return self.cursors.get(listener)
        except RedisError as exc:
            raise Transient(f"Redis: {type(exc).__name__}") from exc

    def _set_cursor(self, listener: str, value: int) -> None:
        try:
            self.cursors.set(listener, value)
        except RedisError as exc:
            raise Transient(f"Redis: {type(exc).__name__}") from exc

    # --- HTTP -----------------------------------------------------------------------

    def _ensure_client(self, lst: _Listener) -> None:
        token = lst.cache.load()
        if token is None:
            raise NeedsReauth(f"no stored token for listener {lst.name!r}")
        lst.grant = token.fingerprint()
        if lst.client is None or lst.auth is None:
            lst.auth = EncoreOAuth(self.settings, lst.cache)
            lst.client = self.client_factory(self.settings, lst.auth)

    def _fetch(
        self, lst: _Listener, *, after: int | None = None, before: int | None = None
    ) -> RecentlyPlayedPage:
        try:
            raw = self._request(lst, after=after, before=before)
        except _Unauthorized:
            self._refresh(lst)
            try:
                raw = self._request(lst, after=after, before=before)
            except _Unauthorized:
                raise NeedsReauth("Spotify refused the freshly refreshed token (401)") from None
        try:
            return RecentlyPlayedPage.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            raise Transient("recently-played answered something that is not a page") from exc

    def _refresh(self, lst: _Listener) -> None:
        assert lst.auth is not None
        log.info("listener %s: access token refused (401), refreshing it once", lst.name)
        try:
            lst.auth.force_refresh()
        except TokenEndpointError as exc:
            if exc.transient:
                raise Transient(f"token refresh: HTTP {exc.status}") from exc
            raise NeedsReauth(f"token refresh refused ({exc.status} {exc.error})") from exc
        except requests.RequestException as exc:
            raise Transient(f"token refresh: {type(exc).__name__}") from exc

    def _request(self, lst: _Listener, *, after: int | None, before: int | None) -> Any:
        assert lst.client is not None
        try:
            return lst.client.current_user_recently_played(
                limit=self.settings.page_limit, after=after, before=before
            )
        except SpotifyException as exc:
            status = exc.http_status
            if status == 429:
                header = exc.headers.get("Retry-After") if exc.headers else None
                seconds = parse_retry_after(header)
                if seconds is None:
                    raise RateLimited(self.settings.default_retry_after_s, stated=False) from exc
                raise RateLimited(seconds, stated=True) from exc
            if status == 401:
                raise _Unauthorized from exc
            if status == 403:
                raise NeedsReauth("Spotify answered 403: the grant lacks a scope?") from exc
            raise Transient(f"recently-played answered HTTP {status}") from exc
        except TokenEndpointError as exc:
            # spotipy refreshes a nearly expired token itself before the request.
            if exc.transient:
                raise Transient(f"token refresh: HTTP {exc.status}") from exc
            raise NeedsReauth(f"token refresh refused ({exc.status} {exc.error})") from exc
        except requests.RequestException as exc:
            raise Transient(f"network: {type(exc).__name__}") from exc


_STAMP: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _played_at_ms(raw_items: list[dict[str, Any]]) -> list[int]:
    """``played_at`` of raw items, whatever else is wrong with them."""
    out = []
    for raw in raw_items:
        try:
            out.append(to_ms(_STAMP.validate_python(raw.get("played_at"))))
        except (ValidationError, AttributeError):
            continue
    return out


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
