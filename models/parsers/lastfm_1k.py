"""The Last.fm 1K dataset TSV: one scrobble per line, no header.

Columns: user id, timestamp (ISO-8601 UTC), artist MusicBrainz id, artist name, track
MusicBrainz id, track name. The track id is the track's MBID when the row has one,
else `track_key` of the names (the same id a Spotify export gives that song). A row
with neither an MBID nor both names is skipped as ``no track or artist``.

>>> import io
>>> from models.events import track_key
>>> from pathlib import Path
>>> from models.parsers.context import ParseContext
>>> rows = io.StringIO(
...     "user_000001\\t2009-05-04T23:08:57Z\\tf1b1cf71-bd35\\tDeep Dish\\t\\tFuck Me Im Famous\\n"
...     "user_000001\\t2009-05-04T13:54:10Z\\ta7f7df4a-77d8\\t坂本龍一\\tf7c1f8f8-b935\\tComposition 0919\\n"
...     "user_000001\\t2009-05-04\\n"
... )
>>> first, second, third = parse(rows, ParseContext(Path("lastfm.tsv")))
>>> first.track_id == track_key("Deep Dish", "Fuck Me Im Famous"), second.track_id
(True, 'f7c1f8f8-b935')
>>> print(third)
lastfm.tsv line 3: expected 6 tab-separated columns, got 2
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.records import build_event, name_key, parse_timestamp
from models.parsers.report import NO_TRACK, Reject, Skip

FORMAT = "lastfm-1k"
SOURCE = "lastfm-1k"
WIDTH = 6


def looks_like(lines: list[str]) -> bool:
    """True when most sampled lines have six tab-separated columns and a time second."""
    rows = [line.rstrip("\r\n").split("\t") for line in lines if line.strip()]
    if not rows:
        return False
    good = 0
    for row in rows:
        if len(row) == WIDTH:
            try:
                parse_timestamp(row[1])
            except ValueError:
                continue
            good += 1
    return good * 2 > len(rows)


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of a Last.fm 1K TSV, in file order."""
    for number, line in enumerate(stream, 1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        row = text.split("\t")
        if len(row) != WIDTH:
            reason = f"expected {WIDTH} tab-separated columns, got {len(row)}"
            yield ctx.reject(ctx.where(number), reason, text)
            continue
        user, stamp, _artist_mbid, artist, track_mbid, track = row
        try:
            played_at = parse_timestamp(stamp)
        except ValueError as error:
            yield ctx.reject(ctx.where(number), str(error), text)
            continue
        if track_mbid.strip():
            track_id = track_mbid.strip()
        elif artist.strip() and track.strip():
            try:
                track_id = name_key(artist, track)
            except ValueError as error:
                yield ctx.reject(ctx.where(number), str(error), text)
                continue
        else:
            yield Skip(NO_TRACK)
            continue
        event = build_event(
            user_id=user,
            track_id=track_id,
            played_at=played_at,
            track_name=track,
            artist_name=artist,
            source=SOURCE,
        )
        if isinstance(event, str):
            yield ctx.reject(ctx.where(number), event, text)
        else:
            yield event
