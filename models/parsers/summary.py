"""Running totals over a stream of plays: listeners, tracks, duplicates, short plays, time span.

>>> from datetime import datetime, UTC
>>> from models.events import PlayEvent
>>> t = datetime(2024, 3, 1, 20, 15, tzinfo=UTC)
>>> summary = PlaySummary(min_play_ms=30_000)
>>> for ms in (200_000, 200_000, 4_000):
...     summary.add(PlayEvent(user_id="ana", track_id="t1", played_at=t, ms_played=ms))
>>> summary.add(PlayEvent(user_id="bo", track_id="t2", played_at=t.replace(hour=9)))
>>> summary.plays, summary.users, summary.tracks, summary.duplicate_event_ids, summary.duplicates_differing
(4, 2, 2, 2, 1)
>>> summary.short_plays, summary.with_ms_played, summary.first_played_at
(1, 3, '2024-03-01T09:15:00Z')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from models.events import PlayEvent


def iso_z(moment: datetime | None) -> str | None:
    """UTC ISO-8601 with a ``Z``, or ``None``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class PlaySummary:
    """Adds up what `encore validate` and `encore import` report about accepted plays."""

    min_play_ms: int
    plays: int = 0
    #: Plays whose ``event_id`` was already seen; consumers keep one play per id.
    duplicate_event_ids: int = 0
    #: Of those, the ones whose other fields (duration, skipped, names...) differ from
    #: the first: Spotify writes a 0 ms twin of some plays at the same second.
    duplicates_differing: int = 0
    #: Plays with a known duration, and those of them shorter than ``min_play_ms``.
    with_ms_played: int = 0
    short_plays: int = 0
    first: datetime | None = None
    last: datetime | None = None
    _users: set[str] = field(default_factory=set, repr=False)
    _tracks: set[str] = field(default_factory=set, repr=False)
    _ids: dict[str, int] = field(default_factory=dict, repr=False)

    def add(self, event: PlayEvent) -> None:
        self.plays += 1
        self._users.add(event.user_id)
        self._tracks.add(event.track_id)
        event_id = event.event_id
        fingerprint = hash(
            (
                event.ms_played,
                event.skipped,
                event.track_name,
                event.artist_name,
                event.track_uri,
                event.source,
            )
        )
        first = self._ids.get(event_id)
        if first is None:
            self._ids[event_id] = fingerprint
        else:
            self.duplicate_event_ids += 1
            self.duplicates_differing += first != fingerprint
        if event.ms_played is not None:
            self.with_ms_played += 1
            if event.ms_played < self.min_play_ms:
                self.short_plays += 1
        if self.first is None or event.played_at < self.first:
            self.first = event.played_at
        if self.last is None or event.played_at > self.last:
            self.last = event.played_at

    @property
    def users(self) -> int:
        return len(self._users)

    @property
    def tracks(self) -> int:
        return len(self._tracks)

    @property
    def first_played_at(self) -> str | None:
        return iso_z(self.first)

    @property
    def last_played_at(self) -> str | None:
        return iso_z(self.last)

    def as_dict(self) -> dict[str, object]:
        """The totals as JSON-ready values (``short_plays`` is ``None`` when no duration is known)."""
        return {
            "users": self.users,
            "tracks": self.tracks,
            "duplicate_event_ids": self.duplicate_event_ids,
            "duplicates_differing": self.duplicates_differing,
            "distinct_events": self.plays - self.duplicate_event_ids,
            "short_plays": self.short_plays if self.with_ms_played else None,
            "plays_with_ms_played": self.with_ms_played,
            "min_play_ms": self.min_play_ms,
            "first_played_at": self.first_played_at,
            "last_played_at": self.last_played_at,
        }
