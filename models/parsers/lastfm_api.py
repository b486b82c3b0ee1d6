"""Last.fm API dumps: what ``user.getRecentTracks`` returns, as backup scripts save it.

A file holds one page (``{"recenttracks": {"track": [...], "@attr": {"user": ...}}}``),
an array of pages, or the pages' track objects themselves (an array or JSON Lines).
A track is ``{"artist": {"#text": name, "mbid": ...}, "name": title, "album": {...},
"date": {"uts": "1700000000", "#text": "14 Nov 2023, 22:13"}, ...}``; with
``extended=1`` the artist is ``{"name": ...}`` instead.

- A scrobble is a counted play (Last.fm takes one after half the track or four
  minutes), so ``ms_played`` is unknown.
- The track id is `track_key` of the names, as for every other source.
- The listener is the page's ``@attr.user``. Otherwise it is ``--user``, else the
  folder name.
- The track playing when the page was fetched (``"@attr": {"nowplaying": "true"}``, no
  date) is skipped as ``now playing``; a track without names as ``no track or artist``.

>>> import io
>>> from pathlib import Path
>>> from models.events import track_key
>>> from models.parsers.context import ParseContext
>>> page = '''{"recenttracks": {"@attr": {"user": "jbtwaalf", "page": "1"}, "track": [
...   {"artist": {"mbid": "", "#text": "Björk"}, "name": "Jóga", "@attr": {"nowplaying": "true"}},
...   {"artist": {"mbid": "", "#text": "Björk"}, "name": "Jóga", "date": {"uts": "1700000000"}},
...   {"artist": {"name": "Björk"}, "name": "Hunter", "date": {"uts": "soon"}}]}}'''
>>> playing, play, bad = parse(io.StringIO(page), ParseContext(Path("backup/page1.json")))
>>> playing, play.user_id, play.played_at.isoformat(), play.track_id == track_key("Björk", "Jóga")
(Skip(reason='now playing'), 'jbtwaalf', '2023-11-14T22:13:20+00:00', True)
>>> print(bad)
backup/page1.json record 1 (line 1), track 3: bad date.uts 'soon' (expected Unix seconds)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.json_stream import Page, each_record_or_page
from models.parsers.lastfm_scrobbles import UTS
from models.parsers.records import build_event, name_key
from models.parsers.report import NO_TRACK, NOW_PLAYING, Reject, Skip

FORMAT = "lastfm-api"
SOURCE = "lastfm"
#: A page's opening, for a sample too short to hold one whole page.
PAGE_START = re.compile(r'^\s*\[?\s*\{\s*"recenttracks"\s*:')


def _is_track(record: dict[str, Any]) -> bool:
    return (
        isinstance(record.get("artist"), dict)
        and "name" in record
        and ("date" in record or "@attr" in record)
    )


def looks_like(records: list[dict[str, Any]]) -> bool:
    """Pages of ``recenttracks``, or their track objects."""
    return any("recenttracks" in record or _is_track(record) for record in records)


def _text(value: object, *keys: str) -> str | None:
    """A name that the API gives as text or as an object's ``#text`` / ``name``."""
    if isinstance(value, dict):
        value = next((value[k] for k in keys if isinstance(value.get(k), str)), None)
    return value.strip() or None if isinstance(value, str) else None


def _play(track: dict[str, Any], user: str) -> PlayEvent | Skip | str:
    attr = track.get("@attr")
    if isinstance(attr, dict) and str(attr.get("nowplaying", "")).casefold() == "true":
        return Skip(NOW_PLAYING)
    artist, title = _text(track.get("artist"), "#text", "name"), _text(track.get("name"))
    if artist is None or title is None:
        return Skip(NO_TRACK)
    date = track.get("date")
    uts = date.get("uts") if isinstance(date, dict) else None
    m = UTS.fullmatch(str(uts)) if isinstance(uts, str | int) and not isinstance(uts, bool) else None
    if m is None:
        return f"bad date.uts {str(uts)[:40]!r} (expected Unix seconds)"
    try:
        track_id = name_key(artist, title)
    except ValueError as error:
        return str(error)
    return build_event(
        user_id=user,
        track_id=track_id,
        played_at=datetime.fromtimestamp(int(m.group(1)), tz=UTC),
        track_name=title,
        artist_name=artist,
        source=SOURCE,
    )


def _page(record: dict[str, Any]) -> Page | str | None:
    """The tracks and listener of a page object, or why it is none (``None``: a track)."""
    if "recenttracks" not in record:
        return None
    recent = record["recenttracks"]
    if not isinstance(recent, dict):
        return "recenttracks is not an object"
    tracks = recent.get("track", [])
    attr = recent.get("@attr")
    user = _text(attr.get("user")) if isinstance(attr, dict) else None
    return "track", (tracks if isinstance(tracks, list) else [tracks]), user


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one dump, in file order."""
    yield from each_record_or_page(stream, ctx, lambda r, user: _play(r, user or ctx.fallback_user), _page)
