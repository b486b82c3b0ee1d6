"""The play-event contract: what every producer writes to `plays` and every consumer reads.

A play is one listener hearing one track, stamped with the time the play *ended*
(Spotify's ``ts``/``endTime``/``played_at`` are all end times) in UTC.

>>> from datetime import datetime, UTC
>>> play = PlayEvent(
...     user_id="ana", track_id=track_key("Daft Punk", "One More Time"),
...     played_at=datetime(2024, 3, 1, 20, 15, tzinfo=UTC), ms_played=320_000,
...     track_name="One More Time", artist_name="Daft Punk", source="csv",
... )
>>> play.track_id == track_key("  DAFT  punk", "one more time ")
True
>>> PlayEvent.from_json(play.to_json()) == play
True
>>> len(play.event_id)
32

The same play ingested twice has the same id, so consumers can count it once:

>>> twin = play.model_copy(update={"source": "spotify-extended"})
>>> twin.event_id == play.event_id
True

A blank name is no name:

>>> play.model_copy(update={"track_name": None}) == PlayEvent(**{**play.model_dump(), "track_name": "  "})
True
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
    field_validator,
    model_validator,
)

from models.settings import ModelSettings

#: Longest id or name we accept; a 1 MB string is an attack, not a track.
MAX_TEXT = 512

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT)]

_SETTINGS = ModelSettings()


def normalise_name(text: str) -> str:
    """Fold a track or artist name so case, width and spacing variants agree.

    >>> normalise_name("  DODI ") == normalise_name("Dodi")
    True
    >>> normalise_name("Ｂｅｙｏｎｃé   Knowles")
    'beyoncé knowles'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split())


def track_key(artist_name: str, track_name: str) -> str:
    """Stable track id from names, for sources that carry no id.

    The same song from a Spotify account-data export and an extended-history export
    gets the same key.

    >>> track_key("Björk", "Jóga") == track_key("björk ", "JÓGA")
    True
    >>> track_key("Björk", "Jóga").startswith("t:")
    True
    """
    raw = f"{normalise_name(artist_name)}\x1f{normalise_name(track_name)}"
    return "t:" + hashlib.sha1(raw.encode("utf-8")).hexdigest()[:32]


def make_event_id(user_id: str, track_id: str, played_at: datetime, seq: int = 0) -> str:
    """Deterministic id of a play: same (listener, track, time[, seq]) -> same id.

    The time enters as UTC ISO 8601 with microseconds (``...T20:00:00.000000+00:00``).

    >>> from datetime import timedelta, timezone
    >>> t = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
    >>> make_event_id("ana", "a", t) == make_event_id("ana", "a", t.astimezone(timezone(timedelta(hours=2))))
    True
    """
    if played_at.tzinfo is not UTC:
        played_at = played_at.astimezone(UTC)
    # isoformat() spells microseconds only when there are some; its timespec keyword
    # costs half again as much, so it is asked for only when they are zero.
    stamp = played_at.isoformat() if played_at.microsecond else played_at.isoformat(timespec="microseconds")
    raw = f"{user_id}\x1f{track_id}\x1f{stamp}"
    if seq:
        raw += f"\x1f{seq}"
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=16).hexdigest()


def event_time_order(plays: Iterable[PlayEvent]) -> list[PlayEvent]:
    """Plays sorted by ``played_at``, the order every path replays them in.

    Among plays at the same instant the longest comes first: Spotify writes a 0 ms
    twin beside a real play with the same id, and consumers keep the first copy of an
    id. Otherwise ties keep their input order (stable sort).

    >>> from datetime import datetime, UTC
    >>> t = datetime(2024, 1, 1, tzinfo=UTC)
    >>> twin, real = (PlayEvent(user_id="a", track_id="x", played_at=t, ms_played=ms) for ms in (0, 200_000))
    >>> [p.ms_played for p in event_time_order([twin, real])]
    [200000, 0]
    """
    return sorted(plays, key=lambda play: (play.played_at, -(play.ms_played or 0)))


class PlayEvent(BaseModel):
    """One play of one track by one listener."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: Identifier
    track_id: Identifier
    #: End of the play, UTC-aware.
    played_at: datetime
    #: How long the track played; ``None`` when the source does not say.
    ms_played: int | None = Field(default=None, ge=0, le=24 * 3600 * 1000)
    track_name: Name | None = None
    artist_name: Name | None = None
    #: Which parser or producer made the event (``csv``, ``jodie``, ``spotify-api``...).
    source: Annotated[str, StringConstraints(max_length=64)] = "unknown"
    #: Only for minute-resolution sources: n-th identical play in the same minute.
    seq: int = Field(default=0, ge=0, le=10_000)
    #: Spotify URI where the source has one (the track id itself is name-based).
    track_uri: Name | None = None
    #: Whether the listener skipped the track, where the source says.
    skipped: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_derived_id(cls, data: Any) -> Any:
        # event_id is derived from the fields; a message carries it for readers only.
        if isinstance(data, dict) and "event_id" in data:
            data = {k: v for k, v in data.items() if k != "event_id"}
        return data

    @field_validator("track_name", "artist_name", "track_uri")
    @classmethod
    def _blank_is_unknown(cls, value: str | None) -> str | None:
        # A blank name says no more than a missing one; one spelling keeps round-trips exact.
        return value or None

    @field_validator("played_at")
    @classmethod
    def _believable_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("played_at must carry a timezone (UTC)")
        value = value.astimezone(UTC)
        if value < _SETTINGS.earliest_play:
            raise ValueError(f"played_at {value.isoformat()} is before {_SETTINGS.earliest_play:%Y-%m-%d}")
        latest = datetime.now(UTC) + timedelta(seconds=_SETTINGS.max_future_s)
        if value > latest:
            raise ValueError(f"played_at {value.isoformat()} is in the future")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def event_id(self) -> str:
        return make_event_id(self.user_id, self.track_id, self.played_at, self.seq)

    @cached_property
    def ts(self) -> float:
        """Event time as POSIX seconds, the unit feature code works in (computed once:
        the features, labels and scorer read it several times per play)."""
        return self.played_at.timestamp()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> PlayEvent:
        """A copy; with ``update``, its ``event_id`` and ``ts`` are derived again
        (pydantic copies cached properties as they are: a copy for another listener
        kept the original's event id).

        >>> from datetime import datetime, UTC
        >>> play = PlayEvent(user_id="ana", track_id="t", played_at=datetime(2024, 1, 1, tzinfo=UTC))
        >>> play.event_id == play.model_copy(update={"user_id": "bo"}).event_id
        False
        """
        copy = super().model_copy(update=update, deep=deep)
        if update:
            for derived in ("event_id", "ts"):
                copy.__dict__.pop(derived, None)
        return copy

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> PlayEvent:
        """Decode a `plays` message; raises ``pydantic.ValidationError`` on a bad one."""
        return cls.model_validate_json(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlayEvent:
        return cls.model_validate(data)
