"""Spotify account-data export: ``StreamingHistory*.json`` / ``StreamingHistory_music_*.json``.

A JSON array of ``{endTime "YYYY-MM-DD HH:MM" (UTC, end of play), artistName,
trackName, msPlayed}``. There is no track id and no listener id: the track id is
`track_key` of the names (the same as extended history gives), the listener is the
caller's ``user`` or the folder name. ``endTime`` has minute resolution and the same
track twice in one minute is two real plays, so the k-th identical
(listener, track, minute) row of a file gets ``seq=k`` and thus its own event id.
Rows of ``StreamingHistory_podcast_*.json`` (``podcastName``/``episodeName``) are
skipped as ``podcast``; rows without a track or artist as ``no track or artist``.

>>> import io
>>> from pathlib import Path
>>> from models.parsers.context import ParseContext
>>> text = '''[{"endTime": "2024-01-05 08:01", "artistName": "DODI", "trackName": "Intro", "msPlayed": 800},
... {"endTime": "2024-01-05 08:01", "artistName": "Dodi ", "trackName": "intro", "msPlayed": 700},
... {"endTime": "2024-01-05 08:30", "podcastName": "Radiolab", "episodeName": "Colors", "msPlayed": 9},
... {"endTime": "5 January", "artistName": "DODI", "trackName": "Intro", "msPlayed": 1}]'''
>>> ctx = ParseContext(Path("exports/ana/StreamingHistory_music_0.json"))
>>> out = list(parse(io.StringIO(text), ctx))
>>> [(e.user_id, e.seq) for e in out[:2]], out[0].track_id == out[1].track_id
([('ana', 0), ('ana', 1)], True)
>>> out[2]
Skip(reason='podcast')
>>> print(out[3])
exports/ana/StreamingHistory_music_0.json record 4 (line 4): bad endTime '5 January' (expected ISO-8601)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any, TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.json_stream import each_record
from models.parsers.records import (
    SameMinute,
    build_event,
    name_key,
    parse_timestamp,
    text_field,
    username,
    whole_ms,
)
from models.parsers.report import NO_TRACK, PODCAST, Reject, Skip

FORMAT = "spotify-account"
SOURCE = "spotify-account"
_FILE_NAME = re.compile(r"StreamingHistory", re.IGNORECASE)
_KEYS = frozenset({"msPlayed", "artistName", "trackName", "podcastName", "episodeName"})


def looks_like(records: list[dict[str, Any]], name: str) -> bool:
    """Rows with ``endTime`` and account-data fields; an empty file goes by its name."""
    if not records:
        return bool(_FILE_NAME.search(name))
    return any("endTime" in record and _KEYS & record.keys() for record in records)



def _play(record: dict[str, Any], ctx: ParseContext, seen: SameMinute) -> PlayEvent | Skip | str:
    try:
        if text_field(record, "podcastName") or text_field(record, "episodeName"):
            return Skip(PODCAST)
        artist = text_field(record, "artistName")
        track = text_field(record, "trackName")
        stamp = text_field(record, "endTime")
        ms_played = whole_ms(record.get("msPlayed"), "msPlayed")
        user = username(record) or ctx.fallback_user
    except ValueError as error:
        return str(error)
    if artist is None or track is None:
        return Skip(NO_TRACK)
    if stamp is None:
        return "missing endTime"
    try:
        played_at = parse_timestamp(stamp)
        track_id = name_key(artist, track)
    except ValueError as error:
        return str(error).replace("bad timestamp", "bad endTime", 1)
    key = (user.strip(), track_id, played_at)
    event = build_event(
        user_id=user,
        track_id=track_id,
        played_at=played_at,
        ms_played=ms_played,
        track_name=track,
        artist_name=artist,
        source=SOURCE,
        seq=seen[key],
    )
    if isinstance(event, PlayEvent):
        seen[key] += 1
    return event


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one account-data file, in file order."""
    seen: SameMinute = Counter()
    yield from each_record(stream, ctx, lambda record: _play(record, ctx, seen))
