"""A Last.fm listener's scrobble export, in the two CSV layouts people download.

- **lastfm.ghan.nl** ("Recent Tracks"): header
  ``uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid``, values often
  quoted, newest scrobble first. ``uts`` (Unix seconds) is the time; ``utc_time``
  ("17 May 2026, 12:54") is read only where ``uts`` is empty.
- **benjaminbenben's lastfm-to-csv**: ``artist,album,track,date`` with no header (its
  newer service worker writes the header ``artist,album,name,date``). Commas and
  quotes are stripped from every value and the date is UTC to the minute ("31 Jan
  2021 14:05"); the row of a track still playing has no date and is skipped as
  ``now playing``.

Columns are found by their header name where there is a header. Both layouts are one
format, ``lastfm-scrobbles``:

- A scrobble is a counted play: Last.fm takes one after half the track or four
  minutes, so ``ms_played`` is unknown.
- The track id is `track_key` of the names, as for Spotify exports, ListenBrainz and
  the live poller. One listener's history carries the same song with and without an
  MBID, depending on the client that scrobbled it, so an MBID id would split the song
  in two.
- The listener is ``--user`` when given. Otherwise it is the name in the export's own
  file name (``scrobbles-{user}-{unix time}.csv`` from ghan, ``{user}.csv`` from
  lastfm-to-csv), less a browser's copy suffix (``jdoe (1).csv`` is a second download
  of ``jdoe.csv``), else the folder name.
- A row without a track or artist name is skipped as ``no track or artist``.

>>> import io
>>> from pathlib import Path
>>> from models.events import track_key
>>> from models.parsers.context import ParseContext, without_copy_suffix
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

lastfm-to-csv's layout, named after its listener:

>>> text = '''Nelly Furtado,Loose,Say It Right,
... Nelly Furtado,Loose,Say It Right,17 May 2026 12:54
... Björk,Homogenic,Jóga,17 May 2026 1254
... '''
>>> playing, first, bad = parse(io.StringIO(text), ParseContext(Path("downloads/jbtwaalf.csv")))
>>> playing, first.user_id, first.played_at.isoformat()
(Skip(reason='now playing'), 'jbtwaalf', '2026-05-17T12:54:00+00:00')
>>> first.track_id == track_key("Nelly Furtado", "Say It Right")
True
>>> print(bad)
downloads/jbtwaalf.csv line 3: bad date '17 May 2026 1254' (expected like '31 Jan 2021 14:05')

The same exports downloaded again:

>>> listener(ParseContext(Path("downloads/jbtwaalf (1).csv")), to_csv=True)
'jbtwaalf'
>>> listener(ParseContext(Path("downloads/scrobbles-jbtwaalf-1779100000(2).csv")))
'jbtwaalf'
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext, without_copy_suffix
from models.parsers.records import build_event, name_key
from models.parsers.report import NO_TRACK, NOW_PLAYING, Reject, Skip
from models.parsers.tables import csv_records, has_header, header_names

FORMAT = "lastfm-scrobbles"
SOURCE = "lastfm"
#: Columns of lastfm.ghan.nl's header that the parser reads.
REQUIRED = ("uts", "utc_time", "artist", "track")
#: lastfm-to-csv's columns: its header where it writes one, else their order.
TO_CSV_COLUMNS = ("artist", "album", "name", "date")
#: ghan's file name without its extension (and copy suffix): ``scrobbles-{user}-{time}``.
_FILE_USER = re.compile(r"scrobbles-(.+)-\d{9,}", re.IGNORECASE)
#: A Unix time in seconds as Last.fm writes it.
UTS = re.compile(r"\s*(\d{9,11})\s*")
#: lastfm-to-csv strips the comma Last.fm puts after the year; both are read.
_DATES = ("%d %b %Y %H:%M", "%d %b %Y, %H:%M")
#: Scrobbles before Last.fm existed are no real scrobbles.
_FIRST = datetime(2002, 1, 1, tzinfo=UTC)


def lastfm_date(text: str) -> datetime | None:
    """A date as Last.fm shows it ("31 Jan 2021 14:05" or "31 Jan 2021, 14:05", UTC), or
    ``None`` if ``text`` is none."""
    for layout in _DATES:
        try:
            return datetime.strptime(text.strip(), layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _headerless(fields: list[str]) -> bool:
    """A lastfm-to-csv row: four columns, the last a date or empty (now playing)."""
    return len(fields) == 4 and (not fields[3].strip() or lastfm_date(fields[3]) is not None)


def looks_like(lines: list[str]) -> bool:
    """True when the first non-blank line is either header, or is a headerless
    lastfm-to-csv row and at least half the sampled lines are such rows with a date
    (a few broken rows do not hide the format; their parse rejects them one by one)."""
    if has_header(lines, REQUIRED) or has_header(lines, TO_CSV_COLUMNS):
        return True
    try:
        rows = list(csv.reader(line for line in lines if line.strip()))
    except csv.Error:
        return False
    dated = sum(1 for row in rows if _headerless(row) and row[3].strip())
    return bool(rows) and _headerless(rows[0]) and 2 * dated >= len(rows)


def _columns(fields: list[str]) -> tuple[dict[str, int], bool] | None:
    """Where ``artist``, ``track`` and the time are in a file whose first record is
    ``fields``, and whether that record is a header; ``None`` for neither layout."""
    names = header_names(fields)
    if set(REQUIRED) <= set(names):
        return {name: at for at, name in enumerate(names)}, True
    if set(TO_CSV_COLUMNS) <= set(names):
        index = {name: at for at, name in enumerate(names)}
        return index | {"track": index["name"]}, True
    if _headerless(fields):
        return {"artist": 0, "album": 1, "track": 2, "date": 3}, False
    return None


def listener(ctx: ParseContext, *, to_csv: bool = False) -> str:
    """``--user``, else the export's file name, else the folder (see the module)."""
    if ctx.user is None or not ctx.user.strip():
        stem = without_copy_suffix(ctx.path.name.split(".", 1)[0])
        if to_csv:
            return stem or ctx.fallback_user
        m = _FILE_USER.fullmatch(stem)
        if m is not None:
            return m.group(1)
    return ctx.fallback_user


def _played_at(uts: str, utc_time: str) -> datetime:
    if uts.strip():
        m = UTS.fullmatch(uts)
        if m is None:
            raise ValueError(f"bad uts {uts.strip()[:40]!r} (expected Unix seconds)")
        stamp = datetime.fromtimestamp(int(m.group(1)), tz=UTC)
    else:
        try:
            stamp = datetime.strptime(utc_time.strip(), "%d %b %Y, %H:%M").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"no uts, and bad utc_time {utc_time.strip()[:40]!r}") from None
    return _checked(stamp)


def _dated(date: str) -> datetime:
    stamp = lastfm_date(date)
    if stamp is None:
        raise ValueError(f"bad date {date.strip()[:40]!r} (expected like '31 Jan 2021 14:05')")
    return _checked(stamp)


def _checked(stamp: datetime) -> datetime:
    if stamp < _FIRST:
        raise ValueError(f"scrobble time {stamp.isoformat()} is before 2002")
    return stamp


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one scrobble export, in file order."""
    index: dict[str, int] | None = None
    width = 0
    user = ctx.fallback_user
    for number, fields in csv_records(stream):
        where = ctx.where(number)
        if isinstance(fields, str):
            yield ctx.reject(where, fields)
            continue
        if index is None:
            found = _columns(fields)
            if found is None:
                yield ctx.reject(
                    where,
                    f"no header naming {','.join(REQUIRED)} (or {','.join(TO_CSV_COLUMNS)}), "
                    "and no artist,album,track,date row",
                    ",".join(fields),
                )
                return
            index, is_header = found
            width = len(fields)
            user = listener(ctx, to_csv="date" in index)
            if is_header:
                continue
        if len(fields) != width:
            yield ctx.reject(where, f"expected {width} columns, got {len(fields)}", ",".join(fields))
            continue
        artist, track = fields[index["artist"]], fields[index["track"]]
        if not artist.strip() or not track.strip():
            yield Skip(NO_TRACK)
            continue
        if "date" in index and not fields[index["date"]].strip():
            yield Skip(NOW_PLAYING)
            continue
        try:
            if "date" in index:
                played_at = _dated(fields[index["date"]])
            else:
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
