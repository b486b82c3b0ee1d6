"""ListenBrainz listens: the export's ``listens/YYYY/M.jsonl`` files, an older export's
single JSON array, or a saved answer of the API's ``/1/user/{name}/listens`` (or
``playing-now``): ``{"payload": {"listens": [...], "user_id": name, ...}}``, or its
``listens`` array alone.

One object per listen: ``{listened_at (Unix seconds), track_metadata {artist_name,
track_name, release_name, additional_info {spotify_id, duration_ms, ...},
mbid_mapping}, recording_msid, inserted_at, user_name}``. ``listened_at`` may also be
ISO-8601 text (some third-party exporters write it so). Only the fields above are
read, and the export's other files (``user.json``, ``feedback.jsonl``) are no listens,
so the export's zip, or the folder it unzips to, reads as its listens.

- ListenBrainz, like Last.fm, takes a listen only after half the track or four
  minutes were played, so every listen is a counted play (``ms_played`` unknown).
- The track id is `track_key` of the names, as for Spotify exports and the live
  poller: the same song gets one id from all of them. A Spotify link in
  ``additional_info.spotify_id`` is kept as ``track_uri``.
- The listener is ``user_name`` where the record has it. Otherwise it is the
  ``--user`` given, else the API answer's ``payload.user_id``, else the ``username``
  in the export's ``user.json``, else the name of the folder holding ``listens/`` (or
  the file).
- A listen without a track or artist name is skipped as ``no track or artist``; a
  ``playing_now`` entry (API payloads) as ``now playing``.

>>> import io
>>> from pathlib import Path
>>> from models.events import track_key
>>> from models.parsers.context import ParseContext
>>> text = '''{"listened_at": 1700000000, "user_name": "ana", "recording_msid": "m1",
...   "track_metadata": {"artist_name": "Björk", "track_name": "Jóga", "release_name": "Homogenic",
...   "additional_info": {"duration_ms": 305000, "spotify_id": "https://open.spotify.com/track/2ok8"}}}
... {"listened_at": 1700000400, "track_metadata": {"artist_name": "", "track_name": "Untitled"}}
... {"listened_at": "yesterday", "track_metadata": {"artist_name": "Björk", "track_name": "Hunter"}}'''
>>> play, skip, bad = parse(io.StringIO(text), ParseContext(Path("ana/listens/2023/11.jsonl")))
>>> play.user_id, play.played_at.isoformat(), play.ms_played, play.track_uri
('ana', '2023-11-14T22:13:20+00:00', None, 'spotify:track:2ok8')
>>> play.track_id == track_key("Björk", "Jóga"), skip
(True, Skip(reason='no track or artist'))
>>> print(bad)
ana/listens/2023/11.jsonl record 3 (line 5): bad listened_at 'yesterday' (expected Unix seconds or ISO-8601)

A saved API answer names its listener in the payload; each listen is placed within it:

>>> answer = '''{"payload": {"user_id": "rob", "count": 2, "listens": [
...   {"listened_at": 1700000000, "track_metadata": {"artist_name": "Björk", "track_name": "Jóga"}},
...   {"listened_at": -5, "track_metadata": {"artist_name": "Björk", "track_name": "Jóga"}}]}}'''
>>> play, bad = parse(io.StringIO(answer), ParseContext(Path("downloads/listens.json")))
>>> play.user_id, bad.location
('rob', 'record 1 (line 1), listen 2')
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext, folder_name
from models.parsers.json_stream import Page, each_record_or_page
from models.parsers.records import build_event, name_key, parse_timestamp, text_field
from models.parsers.report import NO_TRACK, NOW_PLAYING, Reject, Skip, UnusableInput
from models.parsers.source import open_text

FORMAT = "listenbrainz"
SOURCE = "listenbrainz"
_YEAR = re.compile(r"\d{4}")
_SPOTIFY_LINK = re.compile(r"^https?://open\.spotify\.com/track/([A-Za-z0-9]+)")
#: A saved API answer's opening, for a sample too short to hold the whole answer.
PAYLOAD_START = re.compile(r'^\s*\{\s*"payload"\s*:')
#: Listens before this are no real listens (ListenBrainz itself refuses them).
_FIRST = datetime(2002, 1, 1, tzinfo=UTC).timestamp()


def _listens(record: dict[str, Any]) -> list[Any] | None:
    """The listens of an API answer (``{"payload": {"listens": [...]}}``), else None."""
    payload = record.get("payload")
    listens = payload.get("listens") if isinstance(payload, dict) else None
    return listens if isinstance(listens, list) else None


def looks_like(records: list[dict[str, Any]]) -> bool:
    """Objects with ``listened_at`` and a ``track_metadata`` object, or API answers
    holding listens."""
    return any(
        ("listened_at" in r and isinstance(r.get("track_metadata"), dict)) or _listens(r) is not None
        for r in records
    )


def _listened_at(value: object) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if value < _FIRST:
            raise ValueError(f"listened_at {value!r} is before 2002")
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            pass
    shown = repr(value) if not isinstance(value, str) else repr(value[:60])
    raise ValueError(f"bad listened_at {shown} (expected Unix seconds or ISO-8601)")


def listener(ctx: ParseContext) -> str:
    """Whose listens a file holds when its records do not say (see the module)."""
    if ctx.user is not None and ctx.user.strip():
        return ctx.user.strip()
    folder = ctx.path.parent
    while _YEAR.fullmatch(folder.name) or folder.name.casefold() == "listens":
        folder = folder.parent
    if folder != ctx.path.parent:  # inside an export, zipped or not
        try:
            with open_text(folder / "user.json") as text:  # in a folder or in the zip itself
                name = json.loads(text.read()).get("username")
        except (UnusableInput, OSError, ValueError, AttributeError):
            name = None
        if isinstance(name, str) and name.strip():
            return name.strip()
        return folder_name(folder.resolve().name) or ctx.fallback_user
    return ctx.fallback_user


def _spotify_uri(info: dict[str, Any]) -> str | None:
    link = info.get("spotify_id")
    if isinstance(link, str) and (m := _SPOTIFY_LINK.match(link)):
        return f"spotify:track:{m.group(1)}"
    return None


def _play(record: dict[str, Any], fallback_user: str) -> PlayEvent | Skip | str:
    if record.get("playing_now") is True:
        return Skip(NOW_PLAYING)
    meta = record.get("track_metadata")
    if not isinstance(meta, dict):
        return "track_metadata is not an object"
    try:
        track = text_field(meta, "track_name")
        artist = text_field(meta, "artist_name")
        if track is None or artist is None:
            return Skip(NO_TRACK)
        user = text_field(record, "user_name") or fallback_user
        if "listened_at" not in record:
            return "missing listened_at"
        played_at = _listened_at(record["listened_at"])
        track_id = name_key(artist, track)
    except ValueError as error:
        return str(error)
    info = meta.get("additional_info")
    return build_event(
        user_id=user,
        track_id=track_id,
        played_at=played_at,
        track_name=track,
        artist_name=artist,
        source=SOURCE,
        track_uri=_spotify_uri(info) if isinstance(info, dict) else None,
    )


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays, skips and rejects of one ListenBrainz file, in file order."""
    fallback_user = listener(ctx)
    given = ctx.user is not None and bool(ctx.user.strip())

    def answer(record: dict[str, Any]) -> Page | None:
        listens = _listens(record)
        if listens is None:
            return None
        try:
            named = None if given else text_field(record["payload"], "user_id")
        except ValueError:
            named = None
        return "listen", listens, named

    yield from each_record_or_page(stream, ctx, lambda r, user: _play(r, user or fallback_user), answer)
