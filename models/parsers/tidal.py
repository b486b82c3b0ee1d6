"""TIDAL's streaming history: ``streaming.csv`` from TIDAL's personal data export.

``artist_name,track_title,entry_date,stream_duration_ms,product_type,ip_address,
client_name_from_session,country_name,region_name,city_name,postal_code,time_zone``
(the layout ListenBrainz imports; its test data holds real rows):

- ``entry_date`` is day first, to the minute, in the listener's local time:
  ``08/03/2022 19:01`` (hours not zero-padded: ``9/03/2022 0:00``), in the IANA zone of
  ``time_zone`` (``America/Toronto``); an empty or ``null`` zone is UTC, as ListenBrainz
  reads it. A zone name no one knows is a reject, not a guess. An ISO-8601 time is
  read too.
- ``stream_duration_ms`` is milliseconds written as a float (``270000.0``).
- ``null`` stands for a missing value in any column. A row without a track or artist
  is skipped as ``no track or artist``; a ``product_type`` of ``VIDEO`` as ``video``.
- Lines before the header (a note, a blank line) are passed over; the header is the
  first line naming ``artist_name``, ``track_title`` and ``entry_date``.
- Times are to the minute, so the same track twice in one minute is numbered
  ``seq`` 0, 1, ... (:class:`~models.parsers.records.SameMinute`), as for Spotify's
  account data. The track id is `track_key` of the names; the listener is ``--user``,
  else the folder.

>>> import io
>>> from pathlib import Path
>>> from models.parsers.context import ParseContext
>>> text = '''artist_name,track_title,entry_date,stream_duration_ms,product_type,time_zone
... Barrie,Canyons,25/04/2025 17:11,4819.0,TRACK,null
... Kid Cudi,Pursuit Of Happiness,8/03/2022 19:01,270000.0,TRACK,America/Toronto
... null,null,09/03/2022 0:00,120000.0,TRACK,null
... Barrie,Canyons,25/04/2025 17:11,2000.0,TRACK,Mars/Olympus_Mons
... '''
>>> canyons, cudi, skip, bad = parse(io.StringIO(text), ParseContext(Path("ana/streaming.csv")))
>>> canyons.user_id, canyons.played_at.isoformat(), canyons.ms_played
('ana', '2025-04-25T17:11:00+00:00', 4819)
>>> cudi.played_at.isoformat(), skip
('2022-03-09T00:01:00+00:00', Skip(reason='no track or artist'))
>>> print(bad.location, bad.reason)
line 5 unknown time_zone 'Mars/Olympus_Mons' (expected an IANA name like Europe/Oslo)
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.records import SameMinute, build_event, name_key, parse_timestamp
from models.parsers.report import NO_TRACK, Reject, Skip
from models.parsers.tables import csv_table, find_columns, split_line

FORMAT = "tidal"
SOURCE = "tidal"
VIDEO = "video"
COLUMNS: dict[str, tuple[str, ...]] = {
    "artist": ("artist_name",),
    "track": ("track_title",),
    "when": ("entry_date",),
    "ms": ("stream_duration_ms",),
    "product": ("product_type",),
    "zone": ("time_zone",),
}
_REQUIRED = ("artist", "track", "when")
_DAY_FIRST = re.compile(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s+(\d{1,2}):(\d{2})\s*")
_MS = re.compile(r"\s*(\d{1,15})(?:\.\d*)?\s*")
_NULL = "null"


def _is_header(line: str) -> bool:
    return all(field in find_columns(split_line(line), COLUMNS) for field in _REQUIRED)


def looks_like(lines: list[str]) -> bool:
    """One of the first lines is TIDAL's header."""
    return any(_is_header(line) for line in lines if line.strip())


def _zone(name: str) -> tzinfo:
    if not name or name.casefold() == _NULL:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        reason = f"unknown time_zone {name[:60]!r} (expected an IANA name like Europe/Oslo)"
        raise ValueError(reason) from None


def _when(text: str, zone: tzinfo) -> datetime:
    m = _DAY_FIRST.fullmatch(text)
    if m is None:
        try:
            return parse_timestamp(text)
        except ValueError:
            raise ValueError(f"bad entry_date {text.strip()[:40]!r} (expected 25/04/2025 17:11)") from None
    day, month, year, hour, minute = map(int, m.groups())
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=zone)
    except ValueError:
        raise ValueError(f"bad entry_date {text.strip()[:40]!r} (no such day or time)") from None
    return local.astimezone(UTC)


def _ms(text: str) -> int | None:
    if not text or text.casefold() == _NULL:
        return None
    m = _MS.fullmatch(text)
    if m is None:
        raise ValueError(f"bad stream_duration_ms {text.strip()[:40]!r} (expected milliseconds)")
    return int(m.group(1))


def _row(
    fields: list[str], found: dict[str, int], ctx: ParseContext, seen: SameMinute
) -> PlayEvent | Skip | str:
    def get(field: str) -> str:
        at = found.get(field)
        value = fields[at].strip() if at is not None else ""
        return "" if value.casefold() == _NULL else value

    if get("product").upper() == "VIDEO":
        return Skip(VIDEO)
    artist, track = get("artist"), get("track")
    if not (artist and track):
        return Skip(NO_TRACK)
    try:
        played_at = _when(get("when"), _zone(get("zone")))
        ms_played = _ms(get("ms"))
        track_id = name_key(artist, track)
    except ValueError as error:
        return str(error)
    user = ctx.fallback_user
    key = (user, track_id, played_at)
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
    if not isinstance(event, str):
        seen[key] += 1
    return event


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one ``streaming.csv``, in file order."""
    lines = iter(stream)
    passed_over: list[str] = []
    for line in lines:
        if _is_header(line):
            break
        passed_over.append("\n")  # blank: the records keep their line numbers
    else:
        yield ctx.reject(ctx.where(1), "no header naming artist_name, track_title and entry_date")
        return
    found: dict[str, int] | None = None
    seen: SameMinute = Counter()
    for record in csv_table(itertools.chain(passed_over, [line], lines), ",", ctx):
        if isinstance(record, Reject):
            yield record
            continue
        where, fields = record
        if found is None:
            found = find_columns(fields, COLUMNS)
            continue
        outcome = _row(fields, found, ctx, seen)
        yield ctx.reject(where, outcome, ",".join(fields)) if isinstance(outcome, str) else outcome
