"""Apple Music's ``Apple Music Play Activity.csv``, from Apple's privacy export
(``Apple_Media_Services.zip``, folder ``Apple Music Activity``).

One row per *event* of the player, columns in alphabetical order: 31 of them in
2018-2020 exports, 118-143 since 2023. The ones read here, by name:

- ``Song Name`` (``Content Name`` in 2019-2021 exports) and ``Artist Name``. Exports
  since about 2023 have **no artist column**: the track id is then `track_key` of the
  album (``Album Name``, else ``Container Album Name``) and the song, so two songs of
  one name stay apart, but the same song from another service gets another id. With
  an artist, the id is `track_key` of artist and song, as for every other source.
- ``Event Type``: a ``PLAY_END`` row holds a listen; a ``PLAY_START`` row only says one
  began (skipped as ``play start``); ``LYRIC_DISPLAY`` and others are no play. Rows of
  2015-2016 have no event type and are plays.
- ``Event Start Timestamp`` / ``Event End Timestamp`` (``2018-01-07T10:34:13.327Z``,
  UTC), ``Play Duration Milliseconds``, ``Start Position In Milliseconds`` (where in
  the track the segment began) and ``End Reason Type``.
- ``Media Type`` ``VIDEO`` is skipped as ``video``; an ``Item Type`` that is no song in
  the catalogue (``AGGREGATE_NON_CATALOG_PLAY_TIME``, ``TIMED_METADATA_PING``,
  ``NON_SONG_CLIP``, ``AUDIO_AD``, ``INVALID``) as ``not a song``; a negative play
  duration (a seek backwards, ``SCRUB_END``) as ``scrub``.

**A listen is often several rows.** Every pause or seek ends a segment with its own
``PLAY_END`` row (``PLAYBACK_MANUALLY_PAUSED``, ``SCRUB_BEGIN``), and the next segment
starts where it stopped. Counted as plays, one listen paused once would be a replay
of itself, which is exactly what encore predicts. So a segment that starts inside
the track (start position > 0) at most :data:`RESUME_GAP_S` after the last listen of
the same song ended continues that listen (another song may have played in between):
the play is the first segment's start, its ``ms_played`` the segments' sum,
``skipped`` from the last one's end reason (``TRACK_SKIPPED_*`` true,
``NATURAL_END_OF_TRACK`` false, others unknown). Apple writes the rows out of time
order, so the file's segments are read whole, sorted by start time and joined: skips
and rejects come in file order, then the plays in time order. The listener is
``--user``, else the folder (Apple's own folder names pass).

>>> import io
>>> from pathlib import Path
>>> from models.events import track_key
>>> from models.parsers.context import ParseContext
>>> header = ("Event Start Timestamp,Event End Timestamp,Event Type,Play Duration Milliseconds,"
...           "Start Position In Milliseconds,End Reason Type,Album Name,Song Name\\n")
>>> rows = [
...   "2024-01-05T08:00:00Z,2024-01-05T08:01:40Z,PLAY_END,100000,0,PLAYBACK_MANUALLY_PAUSED,Homogenic,Jóga",
...   "2024-01-05T08:00:00Z,,PLAY_START,,0,,Homogenic,Jóga",
...   "2024-01-05T08:07:00Z,2024-01-05T08:10:25Z,PLAY_END,205000,100000,NATURAL_END_OF_TRACK,Homogenic,Jóga",
...   "2024-01-05T09:00:00Z,2024-01-05T09:00:12Z,PLAY_END,12000,0,TRACK_SKIPPED_FORWARDS,Homogenic,Jóga",
...   "soon,2024-01-05T10:00:00Z,PLAY_END,5000,0,,,Hunter",
... ]
>>> ctx = ParseContext(Path("ana/Apple_Media_Services/Apple Music Activity/Apple Music Play Activity.csv"))
>>> start, bad, listen, skipped = parse(io.StringIO(header + "\\n".join(rows)), ctx)
>>> start, print(bad.location, bad.reason)
line 6 bad Event Start Timestamp 'soon' (expected ISO-8601)
(Skip(reason='play start'), None)
>>> listen.user_id, listen.played_at.isoformat(), listen.ms_played, listen.skipped
('ana', '2024-01-05T08:00:00+00:00', 305000, False)
>>> listen.track_id == track_key("album: Homogenic", "Jóga"), listen.artist_name is None
(True, True)
>>> skipped.played_at.isoformat(), skipped.ms_played, skipped.skipped
('2024-01-05T09:00:00+00:00', 12000, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.records import build_event, name_key, parse_timestamp
from models.parsers.report import NO_TRACK, Reject, Skip
from models.parsers.tables import alias_delimiter, csv_table, find_columns, first_line, header_columns

FORMAT = "apple-music"
SOURCE = "apple-music"
#: Skip reasons of this format.
PLAY_START = "play start"
NOT_A_PLAY = "not a play"
VIDEO = "video"
NOT_A_SONG = "not a song"
SCRUB = "scrub"
#: A segment starting inside its track at most this long after the last listen of the
#: same song ended continues that listen (a pause, a seek).
RESUME_GAP_S = 30 * 60.0
_NOT_SONGS = frozenset(
    {"AGGREGATE_NON_CATALOG_PLAY_TIME", "TIMED_METADATA_PING", "NON_SONG_CLIP", "AUDIO_AD", "INVALID"}
)
_SKIPPED = {"TRACK_SKIPPED_FORWARDS": True, "TRACK_SKIPPED_BACKWARDS": True, "NATURAL_END_OF_TRACK": False}
#: Each field read, and the column names that hold it (as `column_key` spells them).
COLUMNS: dict[str, tuple[str, ...]] = {
    "song": ("song_name", "content_name"),
    "artist": ("artist_name",),
    "album": ("album_name", "container_album_name"),
    "start": ("event_start_timestamp",),
    "end": ("event_end_timestamp",),
    "event": ("event_type",),
    "duration": ("play_duration_milliseconds",),
    "position": ("start_position_in_milliseconds",),
    "end_reason": ("end_reason_type",),
    "media": ("media_type",),
    "item": ("item_type",),
}
_INTEGER = re.compile(r"\s*([+-]?\d{1,15})(?:\.0*)?\s*")


def looks_like(lines: list[str]) -> bool:
    """A header naming an event's start or end time, its play duration and the song."""
    header, _ = first_line(lines)
    if not header:
        return False
    found = header_columns(header, COLUMNS)
    return "song" in found and "duration" in found and bool({"start", "end"} & found.keys())


@dataclass(frozen=True, slots=True)
class _Segment:
    """One ``PLAY_END`` row: a stretch of one listen."""

    start: datetime
    end: datetime | None
    ms: int | None
    position: int
    end_reason: str
    song: str
    artist: str
    album: str
    where: str


def _integer(text: str, name: str) -> int | None:
    if not text.strip():
        return None
    m = _INTEGER.fullmatch(text)
    if m is None:
        raise ValueError(f"bad {name} {text.strip()[:40]!r} (expected a whole number)")
    return int(m.group(1))


def _time(text: str, name: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        raise ValueError(f"bad {name} {text.strip()[:40]!r} (expected ISO-8601)") from None


def _segment(fields: list[str], found: dict[str, int], where: str) -> _Segment | Skip | str:
    def get(field: str) -> str:
        at = found.get(field)
        return fields[at].strip() if at is not None else ""

    event = get("event").upper()
    if event == "PLAY_START":
        return Skip(PLAY_START)
    if event not in ("", "PLAY_END"):
        return Skip(NOT_A_PLAY)
    if get("media").upper() == "VIDEO":
        return Skip(VIDEO)
    if get("item").upper() in _NOT_SONGS:
        return Skip(NOT_A_SONG)
    song = get("song")
    if not song:
        return Skip(NO_TRACK)
    try:
        ms = _integer(get("duration"), "Play Duration Milliseconds")
        position = _integer(get("position"), "Start Position In Milliseconds") or 0
        start = _time(get("start"), "Event Start Timestamp")
        end = _time(get("end"), "Event End Timestamp")
    except ValueError as error:
        return str(error)
    if ms is not None and ms < 0:
        return Skip(SCRUB)
    if start is None:
        if end is None or ms is None:
            return "no Event Start Timestamp, and no Event End Timestamp with a play duration"
        start = end - timedelta(milliseconds=ms)
    return _Segment(start, end, ms, position, get("end_reason").upper(), song, get("artist"),
                    get("album"), where)  # fmt: skip


def _track_id(segment: _Segment) -> str:
    if segment.artist:
        return name_key(segment.artist, segment.song)
    return name_key(f"album: {segment.album}", segment.song)


def _continues(previous: _Segment, segment: _Segment) -> bool:
    """Does ``segment`` go on with the listen of its song that ``previous`` ended?"""
    if segment.position <= 0:
        return False
    ended = previous.end
    if ended is None:
        ended = previous.start + timedelta(milliseconds=previous.ms or 0)
    return (segment.start - ended).total_seconds() <= RESUME_GAP_S


def _listens(segments: list[_Segment]) -> list[list[_Segment]]:
    """The segments joined into listens, in time order of their first segment."""
    listens: list[list[_Segment]] = []
    latest: dict[tuple[str, str, str], list[_Segment]] = {}  # per song, its last listen
    for segment in sorted(segments, key=lambda s: s.start):  # stable: ties stay in file order
        song = (segment.song, segment.artist, segment.album)
        listen = latest.get(song)
        if listen is not None and _continues(listen[-1], segment):
            listen.append(segment)
            continue
        latest[song] = [segment]
        listens.append(latest[song])
    return listens


def _play(listen: list[_Segment], ctx: ParseContext) -> PlayEvent | str:
    first, last = listen[0], listen[-1]
    known = [s.ms for s in listen if s.ms is not None]
    try:
        track_id = _track_id(first)
    except ValueError as error:
        return str(error)
    return build_event(
        user_id=ctx.fallback_user,
        track_id=track_id,
        played_at=first.start,
        ms_played=sum(known) if known else None,
        track_name=first.song,
        artist_name=first.artist or None,
        source=SOURCE,
        skipped=_SKIPPED.get(last.end_reason),
    )


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Skips and rejects in file order, then the plays in time order (module doc)."""
    header, lines = first_line(stream)
    split_at = alias_delimiter(header, COLUMNS)
    found: dict[str, int] | None = None
    segments: list[_Segment] = []
    for record in csv_table(lines, split_at, ctx):
        if isinstance(record, Reject):
            yield record
            continue
        where, fields = record
        if found is None:
            found = find_columns(fields, COLUMNS)
            if "song" not in found or not {"start", "end"} & found.keys():
                reason = "no Song Name and Event Start/End Timestamp columns"
                yield ctx.reject(where, reason, split_at.join(fields))
                return
            continue
        outcome = _segment(fields, found, where)
        if isinstance(outcome, _Segment):
            segments.append(outcome)
        elif isinstance(outcome, Skip):
            yield outcome
        else:
            yield ctx.reject(where, outcome, split_at.join(fields))
    for listen in _listens(segments):
        play = _play(listen, ctx)
        if isinstance(play, str):
            yield ctx.reject(listen[0].where, play)
        else:
            yield play
