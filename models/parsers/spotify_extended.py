"""Spotify extended streaming history: ``Streaming_History_Audio_*.json``, ``..._Video_*.json``,
``endsong_*.json``.

A JSON array of ``{ts (ISO-8601 UTC, end of play), username, ms_played,
master_metadata_track_name, master_metadata_album_artist_name, spotify_track_uri,
episode_name, episode_show_name, spotify_episode_uri, skipped, ...}``; compact or
pretty, sorted or not, with or without ``username``, ``ip_addr`` or
``ip_addr_decrypted`` (only the fields above are read). The track id is `track_key`
of the names, as for account data, so the same song gets the same id from both
layouts; the URI is kept in ``track_uri``. Podcast and video episodes are skipped as
``episode``, audiobook chapters as ``audiobook``, rows without a track or artist name
as ``no track or artist``. Exact duplicate records are both emitted (same event id):
consumers count a play once per event id.

>>> import io
>>> from pathlib import Path
>>> from models.parsers.context import ParseContext
>>> text = ('[{"ts":"2023-06-26T22:56:26Z","username":"ana","ms_played":135625,'
...         '"master_metadata_track_name":"Easy On Them Turns","master_metadata_album_artist_name":"Baird",'
...         '"spotify_track_uri":"spotify:track:2UR2cDcRfLiQzPvEV5hWtP","skipped":false},'
...         '{"ts":"2023-06-27T08:00:00Z","ms_played":0,"master_metadata_track_name":null,'
...         '"episode_name":"Colors","spotify_episode_uri":"spotify:episode:x"}]')
>>> play, episode = parse(io.StringIO(text), ParseContext(Path("Streaming_History_Audio_2023.json")))
>>> play.user_id, play.ms_played, play.skipped, play.track_uri
('ana', 135625, False, 'spotify:track:2UR2cDcRfLiQzPvEV5hWtP')
>>> from models.events import track_key
>>> play.track_id == track_key("Baird", "Easy On Them Turns"), episode
(True, Skip(reason='episode'))
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.json_stream import each_record
from models.parsers.records import build_event, name_key, parse_timestamp, text_field, username, whole_ms
from models.parsers.report import AUDIOBOOK, EPISODE, NO_TRACK, Reject, Skip

FORMAT = "spotify-extended"
SOURCE = "spotify-extended"
_FILE_NAME = re.compile(r"(Streaming_History_(Audio|Video)|endsong)", re.IGNORECASE)
_KEYS = frozenset(
    {
        "ms_played",
        "master_metadata_track_name",
        "master_metadata_album_artist_name",
        "spotify_track_uri",
        "episode_name",
        "spotify_episode_uri",
    }
)
_EPISODE_KEYS = ("episode_name", "episode_show_name", "spotify_episode_uri")
_AUDIOBOOK_KEYS = ("audiobook_title", "audiobook_uri", "audiobook_chapter_uri", "audiobook_chapter_title")


def looks_like(records: list[dict[str, Any]], name: str) -> bool:
    """Rows with ``ts`` and extended-history fields; an empty file goes by its name."""
    if not records:
        return bool(_FILE_NAME.search(name))
    return any("ts" in record and _KEYS & record.keys() for record in records)


def _set(record: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return any(record.get(key) not in (None, "") for key in keys)


def _skipped_flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in (0, 1) and isinstance(value, int):
        return bool(value)
    return None


def _play(record: dict[str, Any], ctx: ParseContext) -> PlayEvent | Skip | str:
    if _set(record, _EPISODE_KEYS):
        return Skip(EPISODE)
    if _set(record, _AUDIOBOOK_KEYS):
        return Skip(AUDIOBOOK)
    try:
        track = text_field(record, "master_metadata_track_name")
        artist = text_field(record, "master_metadata_album_artist_name")
        if track is None or artist is None:
            return Skip(NO_TRACK)
        stamp = text_field(record, "ts")
        ms_played = whole_ms(record.get("ms_played"))
        user = username(record) or ctx.fallback_user
        uri = text_field(record, "spotify_track_uri")
    except ValueError as error:
        return str(error)
    if stamp is None:
        return "missing ts"
    try:
        played_at = parse_timestamp(stamp)
        track_id = name_key(artist, track)
    except ValueError as error:
        return str(error).replace("bad timestamp", "bad ts", 1)
    return build_event(
        user_id=user,
        track_id=track_id,
        played_at=played_at,
        ms_played=ms_played,
        track_name=track,
        artist_name=artist,
        source=SOURCE,
        track_uri=uri,
        skipped=_skipped_flag(record.get("skipped")),
    )


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one extended-history file, in file order."""
    yield from each_record(stream, ctx, lambda record: _play(record, ctx))
