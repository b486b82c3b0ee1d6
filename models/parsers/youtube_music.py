"""YouTube Music history from Google Takeout: ``watch-history.json``.

One JSON array of activity records, newest first: ``{"header": "YouTube Music",
"title": "Watched Solar", "titleUrl": "https://www.youtube.com/watch?v=-e8N...",
"subtitles": [{"name": "Sault - Topic", ...}], "time": "2022-04-25T18:09:04.784Z",
"products": ["YouTube"], ...}``. The same file holds plain YouTube videos.

- A record is a play when its header is ``YouTube Music``, or when it is a YouTube
  video of an artist's auto-generated ``- Topic`` channel (music played on YouTube).
  Other videos are skipped as ``video``; a video since removed (no channel, the URL
  for a title) as ``no track or artist``.
- A search (``Searched for ...``, as in Takeout's ``search-history.json``, whose
  records look the same) is skipped as ``search``, and an ad (``details`` say ``From
  Google Ads``; no channel, or the advertiser's) as ``ad``, under either header.
- The track is the title without Takeout's English ``Watched`` prefix; the artist is
  the channel name without `` - Topic``. The track id is `track_key` of the names,
  as for every other source (a song's music video and its audio share it). A record
  without a channel uses the video id (``yt:<id>``).
- Takeout says when a video started, not how long it played: ``ms_played`` is unknown.
- The listener is ``--user``, else the nearest folder that is not Takeout's own.

>>> import io
>>> from pathlib import Path
>>> from models.events import track_key
>>> from models.parsers.context import ParseContext
>>> text = '''[{"header": "YouTube Music", "title": "Watched Solar",
...   "titleUrl": "https://www.youtube.com/watch?v=-e8Nfjl_AKk",
...   "subtitles": [{"name": "Sault - Topic"}], "time": "2022-04-25T18:09:04.784Z"},
...  {"header": "YouTube", "title": "Watched How to tie a tie", "subtitles": [{"name": "Ties"}],
...   "time": "2022-04-25T18:00:00Z"},
...  {"header": "YouTube Music", "title": "Watched Air", "subtitles": [{"name": "Sault - Topic"}],
...   "time": "yesterday"},
...  {"header": "YouTube Music", "title": "Watched Buy Now Super Shoes",
...   "titleUrl": "https://music.youtube.com/watch?v=ad1", "time": "2022-04-25T17:00:00Z",
...   "details": [{"name": "From Google Ads"}]},
...  {"header": "YouTube", "title": "Searched for sault solar",
...   "titleUrl": "https://www.youtube.com/results?search_query=sault+solar",
...   "time": "2022-04-25T16:00:00Z"}]'''
>>> ctx = ParseContext(Path("ana/Takeout/YouTube and YouTube Music/history/watch-history.json"))
>>> play, video, bad, ad, search = parse(io.StringIO(text), ctx)
>>> play.user_id, play.played_at.isoformat(), play.track_id == track_key("Sault", "Solar")
('ana', '2022-04-25T18:09:04.784000+00:00', True)
>>> video, ad, search
(Skip(reason='video'), Skip(reason='ad'), Skip(reason='search'))
>>> print(bad.reason)
bad time 'yesterday' (expected ISO-8601)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TextIO
from urllib.parse import parse_qs, urlparse

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.json_stream import each_record
from models.parsers.records import build_event, name_key, parse_timestamp, text_field
from models.parsers.report import NO_TRACK, Reject, Skip

FORMAT = "youtube-music"
SOURCE = "youtube-music"
MUSIC = "YouTube Music"
#: Skip reasons: a video that is no music, an ad, a search.
VIDEO = "video"
AD = "ad"
SEARCH = "search"
_WATCHED = "Watched "
_SEARCHED = "Searched for "
_AD_DETAIL = "From Google Ads"
_TOPIC = " - Topic"


def looks_like(records: list[dict[str, Any]]) -> bool:
    """Takeout activity records of YouTube (``header``, ``title``, ``time``)."""
    return any(
        isinstance(r.get("header"), str)
        and r["header"].startswith("YouTube")
        and "time" in r
        and "title" in r
        for r in records
    )


def _channel(record: dict[str, Any]) -> str | None:
    subtitles = record.get("subtitles")
    if isinstance(subtitles, list) and subtitles and isinstance(subtitles[0], dict):
        name = subtitles[0].get("name")
        return name.strip() or None if isinstance(name, str) else None
    return None


def _video_id(record: dict[str, Any]) -> str | None:
    url = record.get("titleUrl")
    if not isinstance(url, str):
        return None
    ids = parse_qs(urlparse(url).query).get("v")
    return ids[0] if ids else None


def _is_ad(record: dict[str, Any]) -> bool:
    """True when Takeout's ``details`` say the video was an ad.

    >>> _is_ad({"details": [{"name": "From Google Ads"}]}), _is_ad({"details": "From Google Ads"})
    (True, False)
    """
    details = record.get("details")
    return isinstance(details, list) and any(
        isinstance(d, dict) and isinstance(d.get("name"), str) and d["name"].strip() == _AD_DETAIL
        for d in details
    )


def _play(record: dict[str, Any], user: str) -> PlayEvent | Skip | str:
    try:
        header, title, stamp = (text_field(record, k) for k in ("header", "title", "time"))
    except ValueError as error:
        return str(error)
    if title is not None and title.startswith(_SEARCHED):
        return Skip(SEARCH)
    if _is_ad(record):
        return Skip(AD)
    channel = _channel(record)
    topic = channel is not None and channel.endswith(_TOPIC)
    if header != MUSIC and not (header == "YouTube" and topic):
        return Skip(VIDEO)
    track = title.removeprefix(_WATCHED).strip() if title else None
    artist = channel.removesuffix(_TOPIC).strip() if channel else None
    video = _video_id(record)
    if not track or track.startswith("http") or (artist is None and video is None):
        return Skip(NO_TRACK)
    if stamp is None:
        return "missing time"
    try:
        played_at = parse_timestamp(stamp)
        track_id = name_key(artist, track) if artist else f"yt:{video}"
    except ValueError as error:
        return str(error).replace("bad timestamp", "bad time", 1)
    return build_event(
        user_id=user,
        track_id=track_id,
        played_at=played_at,
        track_name=track,
        artist_name=artist,
        source=SOURCE,
    )


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one watch history, in file order."""
    yield from each_record(stream, ctx, lambda record: _play(record, ctx.fallback_user))
