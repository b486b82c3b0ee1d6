"""A CSV of plays written by some other tool: columns found by their usual names.

Datasets and exporters each name the same columns differently (Kaggle's Spotify
streaming history has ``ts,ms_played,track_name,artist_name,spotify_track_uri,skipped``;
others write ``timestamp,username,artist,title`` or ``date,time,artist,song``). A
header is read when it names a time and a track, in any of the names of
:data:`ALIASES` (case, spaces and hyphens do not matter); other columns are ignored.
Columns may be separated by commas, semicolons (Excel in European locales) or tabs:
the delimiter is the one that splits the header into the most known names.
The project's own CSV and Last.fm's exports have their own parsers and are told
apart first.

- Times: ISO-8601 (``2013-07-08 02:44:34``; naive is UTC, as Spotify writes it),
  Unix seconds or milliseconds, or Last.fm's ``31 Jan 2021 14:05``. Separate
  ``date`` and ``time`` columns are joined. Where a time has minutes but no seconds
  (Spotify's account data as CSV: ``endTime`` like ``2024-01-05 08:01``), the same
  track twice in one minute is two real plays, as in :mod:`models.parsers.spotify_account`:
  the k-th identical (listener, track, minute) row of a file gets ``seq=k``.
- The track id is `track_key` of the artist and track names, as for every other
  source, so the same song gets one id from all of them; a Spotify URI is kept as
  ``track_uri``. A file without names uses its ``track_id`` (or URI) column.
- The listener is the ``user`` column where there is one, else ``--user``, else the
  folder name.
- ``ms_played`` and ``skipped`` are read where present; a row without a track is
  skipped as ``no track or artist``, a podcast episode's (a CSV made from Spotify's
  JSON keeps ``episode_name``) as ``episode``.

>>> import io
>>> from pathlib import Path
>>> from models.events import track_key
>>> from models.parsers.context import ParseContext
>>> text = '''ts,platform,ms_played,track_name,artist_name,spotify_track_uri,skipped
... 2013-07-08 02:44:34,web player,3185,Say It Right,Nelly Furtado,spotify:track:7Kho,TRUE
... 1373251474,web player,61865,Maneater,Nelly Furtado,,False
... 2013-07-08 03:00:00,web player,,,,,
... yesterday,web player,1000,Jóga,Björk,,
... '''
>>> first, second, skip, bad = parse(io.StringIO(text), ParseContext(Path("ana/history.csv")))
>>> first.user_id, first.played_at.isoformat(), first.ms_played, first.skipped, first.track_uri
('ana', '2013-07-08T02:44:34+00:00', 3185, True, 'spotify:track:7Kho')
>>> first.track_id == track_key("Nelly Furtado", "Say It Right"), second.played_at.isoformat()
(True, '2013-07-08T02:44:34+00:00')
>>> skip
Skip(reason='no track or artist')
>>> print(bad)
ana/history.csv line 5: bad ts 'yesterday' (expected ISO-8601, Unix time or '31 Jan 2021 14:05')
>>> minutes = 'endTime,artistName,trackName,msPlayed\\n' + '2024-01-05 08:01,DODI,Intro,800\\n' * 2
>>> [p.seq for p in parse(io.StringIO(minutes), ParseContext(Path("ana/history.csv")))]
[0, 1]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.lastfm_scrobbles import lastfm_date
from models.parsers.records import SameMinute, build_event, checked, name_key, parse_timestamp
from models.parsers.report import EPISODE, NO_TRACK, Reject, Skip
from models.parsers.tables import (
    TRIED_DELIMITERS,
    alias_delimiter,
    column_key,
    csv_table,
    find_columns,
    first_line,
    flag_cell,
    split_line,
    whole_cell,
)

FORMAT = "named-csv"
SOURCE = "csv"

#: Each field the parser reads, and the column names that hold it, preferred first.
ALIASES: dict[str, tuple[str, ...]] = {
    "played_at": (
        "played_at", "ts", "timestamp", "listened_at", "scrobble_time", "played_time",
        "date_played", "end_time", "endtime", "datetime", "time", "date",
    ),
    "user_id": ("user_id", "userid", "user", "username", "user_name", "listener", "listener_id"),
    "track_name": (
        "track_name", "master_metadata_track_name", "trackname", "track", "track_title",
        "title", "song_name", "song", "name",
    ),
    "artist_name": (
        "artist_name", "master_metadata_album_artist_name", "artistname", "artist", "artists",
    ),
    "track_uri": ("spotify_track_uri", "track_uri", "uri"),
    "track_id": ("track_id", "song_id", "item_id"),
    "ms_played": ("ms_played", "msplayed", "played_ms", "play_duration_ms"),
    "skipped": ("skipped",),
    "episode": ("spotify_episode_uri", "episode_name", "podcastname", "podcast_name"),
}  # fmt: skip
_UNIX = re.compile(r"\s*(\d{9,13})(?:\.\d+)?\s*")


def columns(header: list[str]) -> dict[str, int]:
    """Where each field of :data:`ALIASES` is in ``header``; separate ``date`` and
    ``time`` columns are read together."""
    found = find_columns(header, ALIASES)
    at = {column_key(name): position for position, name in reversed(list(enumerate(header)))}
    if "date" in at and "time" in at and found["played_at"] in (at["date"], at["time"]):
        found["played_at"], found["time_of_day"] = at["date"], at["time"]
    return found


def _usable(found: dict[str, int]) -> bool:
    return "played_at" in found and (
        {"track_name", "artist_name"} <= found.keys() or bool({"track_id", "track_uri"} & found.keys())
    )




def delimiter(header: str) -> str:
    """The delimiter of a header line: the one that splits it into the most known names.

    >>> delimiter("Timestamp;Artist;Track;Album"), delimiter("ts\\tartist_name\\ttrack_name")
    (';', '\\t')
    """
    return alias_delimiter(header, ALIASES)


def looks_like(lines: list[str]) -> bool:
    """True when the first non-blank line is a header naming a time and a track
    (columns separated by commas, semicolons or tabs)."""
    header, _ = first_line(lines)
    return bool(header) and _usable(columns(split_line(header, delimiter(header))))


def played_at(text: str, name: str = "played_at") -> datetime:
    """A time in any of the module's forms; ``ValueError`` names the column."""
    unix = _UNIX.fullmatch(text)
    if unix is not None:
        value = int(unix.group(1))
        return datetime.fromtimestamp(value / 1000 if value >= 10**11 else value, tz=UTC)
    shown_by_lastfm = lastfm_date(text)
    if shown_by_lastfm is not None:
        return shown_by_lastfm
    try:
        return parse_timestamp(text)
    except ValueError:
        shown = text.strip()[:40]
        raise ValueError(
            f"bad {name} {shown!r} (expected ISO-8601, Unix time or '31 Jan 2021 14:05')"
        ) from None


#: A time of day in hours and minutes, and one with seconds too.
_HH_MM = re.compile(r"\d:\d\d")
_HH_MM_SS = re.compile(r"\d:\d\d:\d")


def minutes_only(when: str) -> bool:
    """True for a time written to the minute (no seconds, no Unix number).

    >>> [minutes_only(t) for t in ("2024-01-05 08:01", "31 Jan 2021 14:05", "2024-01-05 08:01+01:00")]
    [True, True, True]
    >>> [minutes_only(t) for t in ("2024-01-05T08:01:00Z", "1700000040")]
    [False, False]
    """
    return _HH_MM.search(when) is not None and _HH_MM_SS.search(when) is None


def _row(
    fields: list[str], found: dict[str, int], names: list[str], ctx: ParseContext, seen: SameMinute
) -> PlayEvent | Skip | str:
    def get(field: str) -> str:
        at = found.get(field)
        return fields[at].strip() if at is not None else ""

    if get("episode"):
        return Skip(EPISODE)
    track, artist = get("track_name"), get("artist_name")
    given_id = get("track_id") or get("track_uri")
    if not (track and artist) and not given_id:
        return Skip(NO_TRACK)
    problems: list[str] = []
    moment = ctx.settings.earliest_play
    when = get("played_at") + (" " + get("time_of_day") if "time_of_day" in found else "")
    try:
        moment = played_at(when, names[found["played_at"]].strip())
    except ValueError as error:
        problems.append(str(error))
    ms_played = checked(problems, whole_cell, get("ms_played"), "ms_played")
    skipped = checked(problems, flag_cell, get("skipped"))
    try:
        track_id = name_key(artist, track) if track and artist else given_id
    except ValueError as error:
        return str(error)
    uri = get("track_uri")
    user = get("user_id") or ctx.fallback_user
    key = (user.strip(), track_id, moment) if minutes_only(when) else None
    event = build_event(
        user_id=user,
        track_id=track_id,
        played_at=moment,
        ms_played=ms_played,
        track_name=track or None,
        artist_name=artist or None,
        source=SOURCE,
        track_uri=uri if uri.startswith("spotify:track:") else None,
        skipped=skipped,
        seq=seen[key] if key is not None else 0,
    )
    if isinstance(event, str):
        problems.insert(0, event)
    if problems:
        return "; ".join(problems)
    if key is not None:
        seen[key] += 1
    return event


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one CSV, in file order."""
    found: dict[str, int] | None = None
    names: list[str] = []
    seen: SameMinute = Counter()
    header, lines = first_line(stream)
    split_at = delimiter(header)
    for record in csv_table(lines, split_at, ctx):
        if isinstance(record, Reject):
            yield record
            continue
        where, fields = record
        if found is None:
            found, names = columns(fields), fields
            if not _usable(found):
                reason = (
                    "no header naming a time and a track "
                    f"(artist and title, or a track id; {TRIED_DELIMITERS})"
                )
                yield ctx.reject(where, reason, split_at.join(fields))
                return
            continue
        outcome = _row(fields, found, names, ctx, seen)
        yield ctx.reject(where, outcome, split_at.join(fields)) if isinstance(outcome, str) else outcome
