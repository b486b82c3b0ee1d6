"""Domain settings: the label rule and what counts as a believable play.

Every field reads from the environment with the ``ENCORE_`` prefix, e.g.
``ENCORE_HORIZON_DAYS=14``.

>>> s = ModelSettings()
>>> s.horizon_days, s.min_play_ms
(30, 30000)
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelSettings(BaseSettings):
    """Settings of the label rule and of play validation."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_", extra="ignore")

    #: A play shorter than this does not count as a stream (Spotify's own 30 s rule).
    min_play_ms: int = 30_000
    #: A play is positive when the listener replays the track within this many days.
    horizon_days: int = 30
    #: The event-time watermark trails the highest event time seen by this much.
    allowed_lateness_s: int = 3600
    #: Origin of the JODIE TSV's "seconds since start" column.
    jodie_origin: datetime = datetime(2009, 1, 1, tzinfo=UTC)
    #: Plays before this instant are impossible (hostile or broken clocks).
    earliest_play: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    #: Plays more than this many seconds after the wall clock are impossible.
    max_future_s: int = 86_400
