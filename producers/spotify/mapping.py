"""Recently-played responses (pydantic) and their mapping to :class:`PlayEvent`.

The track id is ``track_key(first artist, track name)``, as for every Spotify source,
so a live play joins the same listener's exported history; the Spotify URI is kept in
``track_uri``. Recently-played does not say how long a track played (the track's
``duration_ms`` is its length, not the play), so ``ms_played`` stays ``None``.

>>> item = RecentItem.model_validate({
...     "played_at": "2024-03-01T20:15:00.123Z",
...     "track": {"id": "4uLU6hMCjMI75M1A2tKUQC", "name": "One More Time",
...               "artists": [{"name": "Daft Punk"}, {"name": "Romanthony"}],
...               "duration_ms": 320357},
... })
>>> play = to_play_event("ana", item)
>>> play.track_id == track_key("Daft Punk", "One More Time"), play.track_uri
(True, 'spotify:track:4uLU6hMCjMI75M1A2tKUQC')
>>> play.ms_played is None, play.source, play.played_at.isoformat()
(True, 'spotify-api', '2024-03-01T20:15:00.123000+00:00')
>>> item.played_at_ms
1709324100123
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.events import PlayEvent, track_key

SOURCE = "spotify-api"


class Artist(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    id: str | None = None


class Track(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None  # local files have no id
    name: str = Field(min_length=1)
    artists: list[Artist] = Field(min_length=1)
    uri: str | None = None
    duration_ms: int | None = None

    @property
    def spotify_uri(self) -> str | None:
        if self.uri:
            return self.uri
        return f"spotify:track:{self.id}" if self.id else None


class RecentItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    track: Track
    played_at: datetime

    @field_validator("played_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("played_at without a timezone")
        return value.astimezone(UTC)

    @property
    def played_at_ms(self) -> int:
        return to_ms(self.played_at)


class Cursors(BaseModel):
    model_config = ConfigDict(extra="ignore")
    after: str | None = None
    before: str | None = None


class RecentlyPlayedPage(BaseModel):
    """One page; ``items`` stay raw so one bad item cannot hide the rest."""

    model_config = ConfigDict(extra="ignore")
    items: list[dict[str, Any]] = Field(default_factory=list)
    cursors: Cursors | None = None
    limit: int | None = None
    next: str | None = None


def to_ms(when: datetime) -> int:
    """POSIX milliseconds, exact (no float rounding)."""
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_play_event(user_id: str, item: RecentItem) -> PlayEvent:
    track = item.track
    artist = track.artists[0].name
    return PlayEvent(
        user_id=user_id,
        track_id=track_key(artist, track.name),
        played_at=item.played_at,
        ms_played=None,
        track_name=track.name,
        artist_name=artist,
        source=SOURCE,
        track_uri=track.spotify_uri,
    )


def parse_items(raw_items: list[dict[str, Any]]) -> tuple[list[RecentItem], list[str]]:
    """Valid items, and a short reason (field names only) for each one that is not."""
    good: list[RecentItem] = []
    bad: list[str] = []
    for index, raw in enumerate(raw_items):
        try:
            good.append(RecentItem.model_validate(raw))
        except ValidationError as exc:
            fields = sorted({".".join(map(str, e["loc"])) or "<root>" for e in exc.errors()})
            bad.append(f"item {index}: invalid {', '.join(fields)}")
    return good, bad
