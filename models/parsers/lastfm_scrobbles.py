"""A Last.fm listener's scrobble export: the "Recent Tracks" CSV that lastfm.ghan.nl (and
benjaminbenben's lastfm-to-csv) write.

Header ``uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid``, values
often quoted, newest scrobble first. Columns are found by their header name.

- ``uts`` (Unix seconds) is the time. ``utc_time`` ("17 May 2026, 12:54") is read
  only where ``uts`` is empty.
- A scrobble is a counted play: Last.fm takes one after half the track or four
  minutes, so ``ms_played`` is unknown.
- The track id is `track_key` of the names, as for Spotify exports, ListenBrainz and
  the live poller. One listener's history carries the same song with and without an
  MBID, depending on the client that scrobbled it, so an MBID id would split the song
  in two.
- The listener is ``--user`` when given. Otherwise it is the name in the export's own
  file name (``scrobbles-{user}-{unix time}.csv``), else the folder name.
- A row without a track or artist name is skipped as ``no track or artist``.

>>> import io
>>> from pathlib import Path
>>> from models.events import track_key
>>> from models.parsers.context import ParseContext
>>> text = '''uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid
... "1779022496","17 May 2026, 12:54","Nelly Furtado","mb1","Loose","mb2","Say It Right",""
... "","17 May 2026, 12:50","Nelly Furtado","","Loose","","Maneater",""
... "1779022000","","","","","","",""
... "soon","","Björk","","","","Jóga",""
... '''
>>> ctx = ParseContext(Path("exports/scrobbles-jbtwaalf-1779100000.csv"))
>>> first, second, skip, bad = parse(io.StringIO(text), ctx)
>>> first.user_id, first.played_at.isoformat(), first.track_id == track_key("Nelly Furtado", "Say It Right")
('jbtwaalf', '2026-05-17T12:54:56+00:00', True)
>>> second.played_at.isoformat(), skip
('2026-05-17T12:50:00+00:00', Skip(reason='no track or artist'))
>>> print(bad)
exports/scrobbles-jbtwaalf-1779100000.csv line 5: bad uts 'soon' (expected Unix seconds)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from models.events import PlayEvent
from models.parsers.canonical_csv import csv_records, has_header, header_names
from models.parsers.context import ParseContext
from models.parsers.records import build_event, name_key
from models.parsers.report import NO_TRACK, Reject, Skip

FORMAT = "lastfm-scrobbles"
SOURCE = "lastfm"
REQUIRED = ("uts", "utc_time", "artist", "track")
_FILE_USER = re.compile(r"^scrobbles-(.+)-\d{9,}\.csv", re.IGNORECASE)
_UTS = re.compile(r"\s*(\d{9,11})\s*")
#: Scrobbles before Last.fm existed are no real scrobbles.
_FIRST = datetime(2002, 1, 1, tzinfo=UTC)


def looks_like(lines: list[str]) -> bool:
    """True when the first non-blank line is the export's header."""
    return has_header(lines, REQUIRED)


def listener(ctx: ParseContext) -> str:
    """``--user``, else the export's file name, else the folder (see the module)."""
    if ctx.user is None or not ctx.user.strip():
        m = _FILE_USER.match(ctx.path.name)
        if m is not None:
            return m.group(1)
    return ctx.fallback_user


def _played_at(uts: str, utc_time: str) -> datetime:
    if uts.strip():
        m = _UTS.fullmatch(uts)
        if m is None:
            raise ValueError(f"bad uts {uts.strip()[:40]!r} (expected Unix seconds)")
        stamp = datetime.fromtimestamp(int(m.group(1)), tz=UTC)
    else:
        try:
            stamp = datetime.strptime(utc_time.strip(), "%d %b %Y, %H:%M").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"no uts, and bad utc_time {utc_time.strip()[:40]!r}") from None
    if stamp < _FIRST:
        raise ValueError(f"scrobble time {stamp.isoformat()} is before 2002")
    return stamp


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one scrobble export, in file order."""
    index: dict[str, int] | None = None
    user = listener(ctx)
    for number, fields in csv_records(stream):
        where = ctx.where(number)
        if isinstance(fields, str):
            yield ctx.reject(where, fields)
            continue
        if index is None:
            names = header_names(fields)
            if not set(REQUIRED) <= set(names):
                yield ctx.reject(where, f"no header naming {','.join(REQUIRED)}", ",".join(fields))
                return
            index = {name: at for at, name in enumerate(names)}
            continue
        if len(fields) != len(index):
            yield ctx.reject(where, f"expected {len(index)} columns, got {len(fields)}", ",".join(fields))
            continue
        artist, track = fields[index["artist"]], fields[index["track"]]
        if not artist.strip() or not track.strip():
            yield Skip(NO_TRACK)
            continue
        try:
            played_at = _played_at(fields[index["uts"]], fields[index["utc_time"]])
            track_id = name_key(artist, track)
        except ValueError as error:
            yield ctx.reject(where, str(error), ",".join(fields))
            continue
        event = build_event(
            user_id=user,
            track_id=track_id,
            played_at=played_at,
            track_name=track,
            artist_name=artist,
            source=SOURCE,
        )
        yield ctx.reject(where, event, ",".join(fields)) if isinstance(event, str) else event
