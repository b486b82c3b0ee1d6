"""Deezer's listening history: the ``10_listeningHistory`` sheet of the personal data
export ``deezer-data_<id>.xlsx`` (read as CSV by :mod:`models.parsers.workbook`), or
that sheet saved as a CSV.

``Song Title | Artist | ISRC | Album Title | IP Address | Listening Time |
Platform Name | Platform Model | Date`` (real exports of 2024 and 2025 have this
header, in English also for French accounts):

- ``Date`` is ``2025-09-13 09:57:22`` with no zone. Deezer does not say which; it is
  read as UTC, as most importers read it.
- ``Listening Time`` is whole seconds listened; ``-1`` (Deezer's "unknown", common on
  plays before 2015) leaves ``ms_played`` unknown.
- ``Artist`` may list several artists (``A, B``); it is kept as written, so the track
  id (`track_key` of artist and song) matches other sources for songs of one artist.
- Rows are not in time order and some are repeated word for word: a repeat is the
  same play (the same event id), and de-duplication downstream counts it once.
- A row without song or artist is skipped as ``no track or artist``. The listener is
  ``--user``, else the folder.

>>> import io
>>> from pathlib import Path
>>> from models.parsers.context import ParseContext
>>> text = '''Song Title,Artist,ISRC,Album Title,IP Address,Listening Time,Platform Name,Platform Model,Date
... Sunshine,Greyson Chance,USUM71212066,Sunshine,0.0.0.0,222,android,Pixel 4a,2025-09-13 09:57:22
... I'm Not a Girl,Britney Spears,USJI10100424,Greatest Hits,0.0.0.0,-1,None,None,2012-05-24 17:30:56
... Toxic,Britney Spears,USJI10301,In the Zone,0.0.0.0,200,web,,last week
... '''
>>> sunshine, girl, bad = parse(io.StringIO(text), ParseContext(Path("ana/deezer-data_1.xlsx")))
>>> sunshine.user_id, sunshine.played_at.isoformat(), sunshine.ms_played, girl.ms_played
('ana', '2025-09-13T09:57:22+00:00', 222000, None)
>>> print(bad.location, bad.reason)
line 4 bad Date 'last week' (expected 2025-09-13 09:57:22)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.records import build_event, name_key, parse_timestamp
from models.parsers.report import NO_TRACK, Reject, Skip
from models.parsers.tables import alias_delimiter, csv_table, find_columns, first_line, header_columns

FORMAT = "deezer"
SOURCE = "deezer"
COLUMNS: dict[str, tuple[str, ...]] = {
    "track": ("song_title",),
    "artist": ("artist",),
    "seconds": ("listening_time",),
    "when": ("date",),
}
_SECONDS = re.compile(r"\s*(-1|\d{1,9})(?:\.0*)?\s*")


def looks_like(lines: list[str]) -> bool:
    """A header naming ``Song Title``, ``Artist``, ``Listening Time`` and ``Date``."""
    header, _ = first_line(lines)
    return bool(header) and len(header_columns(header, COLUMNS)) == len(COLUMNS)


def _row(fields: list[str], found: dict[str, int], ctx: ParseContext) -> PlayEvent | Skip | str:
    track, artist, seconds, when = (fields[found[f]].strip() for f in ("track", "artist", "seconds", "when"))
    if not (track and artist):
        return Skip(NO_TRACK)
    problems: list[str] = []
    m = _SECONDS.fullmatch(seconds)
    if seconds and m is None:
        problems.append(f"bad Listening Time {seconds[:40]!r} (expected whole seconds, or -1)")
    ms_played = int(m.group(1)) * 1000 if m is not None and m.group(1) != "-1" else None
    played_at = None
    try:
        played_at = parse_timestamp(when)
    except ValueError:
        problems.append(f"bad Date {when[:40]!r} (expected 2025-09-13 09:57:22)")
    if problems or played_at is None:
        return "; ".join(problems)
    try:
        track_id = name_key(artist, track)
    except ValueError as error:
        return str(error)
    return build_event(
        user_id=ctx.fallback_user,
        track_id=track_id,
        played_at=played_at,
        ms_played=ms_played,
        track_name=track,
        artist_name=artist,
        source=SOURCE,
    )


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one listening history, in file order."""
    header, lines = first_line(stream)
    split_at = alias_delimiter(header, COLUMNS)
    found: dict[str, int] | None = None
    for record in csv_table(lines, split_at, ctx):
        if isinstance(record, Reject):
            yield record
            continue
        where, fields = record
        if found is None:
            found = find_columns(fields, COLUMNS)
            if len(found) != len(COLUMNS):
                reason = "no header naming Song Title, Artist, Listening Time and Date"
                yield ctx.reject(where, reason, split_at.join(fields))
                return
            continue
        outcome = _row(fields, found, ctx)
        yield ctx.reject(where, outcome, split_at.join(fields)) if isinstance(outcome, str) else outcome
