"""Telling the format of a play file from its content (compression is transparent).

The first 256 KiB are decoded: JSON is told by the keys of its first records
(``ts`` + ``master_metadata_*`` is extended history, ``endTime`` + ``msPlayed`` is
account data, ``listened_at`` + ``track_metadata`` is ListenBrainz, ``recenttracks``
pages or their tracks are a Last.fm API dump, Takeout's ``header`` + ``title`` +
``time`` is YouTube Music history), text by its first lines (a canonical CSV header,
a Last.fm scrobble export's ``uts,utc_time,...`` header or lastfm-to-csv's
``artist,album,track,31 Jan 2021 14:05`` rows, six tab-separated Last.fm 1K columns,
JODIE's ``user<TAB>item<TAB>seconds``, Apple Music's play activity header (``Event
Start Timestamp``, ``Play Duration Milliseconds``, ``Song Name``), TIDAL's
``artist_name,track_title,entry_date,...``, Deezer's ``Song Title,Artist,...``, and,
last, any CSV header naming a time and a track). An Excel workbook is read as the text
of its sheet of plays (:mod:`models.parsers.workbook`). The canonical and named CSV
headers may separate their columns by commas, semicolons (Excel in European locales)
or tabs: the delimiter that splits the header into the most known names is taken, and
the parser reads the file with it. Text that is not UTF-8 has been read line by line
as Windows-1252 (:mod:`models.parsers.source`). An empty JSON array goes by the file
name, as Spotify names its files.

>>> import gzip, tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "plays").write_bytes(gzip.compress(b"0\\t0\\t0\\n1\\t1\\t54\\n"))
>>> detect_format(folder / "plays")
'jodie'
>>> _ = (folder / "plays.csv").write_bytes("Zeit;Künstler;Titel;Artist;Track;Date\\n".encode("cp1252"))
>>> detect_format(folder / "plays.csv")
'named-csv'
>>> _ = (folder / "endsong_0.json").write_text('[{"ts": "2014-05-25T05:43:44Z", "ms_played": 4}]')
>>> detect_format(folder / "endsong_0.json")
'spotify-extended'
>>> _ = (folder / "notes.txt").write_text("hello")
>>> detect_format(folder / "notes.txt")
Traceback (most recent call last):
...
models.parsers.report.UnusableInput: ...notes.txt: format not recognised (known: csv, ...); give --format
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

from models.parsers import (
    apple_music,
    canonical_csv,
    deezer,
    jodie,
    lastfm_1k,
    lastfm_api,
    lastfm_scrobbles,
    listenbrainz,
    named_csv,
    spotify_account,
    spotify_extended,
    tidal,
    youtube_music,
)
from models.parsers.json_stream import NotJson, iter_json_records
from models.parsers.report import UnusableInput
from models.parsers.source import CORRUPT, open_text

FORMAT_NAMES = (
    canonical_csv.FORMAT,
    lastfm_1k.FORMAT,
    jodie.FORMAT,
    spotify_account.FORMAT,
    spotify_extended.FORMAT,
    listenbrainz.FORMAT,
    lastfm_scrobbles.FORMAT,
    lastfm_api.FORMAT,
    named_csv.FORMAT,
    youtube_music.FORMAT,
    apple_music.FORMAT,
    tidal.FORMAT,
    deezer.FORMAT,
)
SAMPLE_CHARS = 1 << 18
SAMPLE_LINES = 20
SAMPLE_RECORDS = 5


def _json_records(head: str) -> list[dict[str, Any]] | None:
    """The first objects of a JSON sample; ``None`` if the sample is not JSON."""
    try:
        records = itertools.islice(iter_json_records(io.StringIO(head)), SAMPLE_RECORDS)
        return [r.value for r in records if isinstance(r.value, dict)]
    except NotJson:
        return None


def guess_format(path: Path) -> str | None:
    """The format of ``path``, or ``None`` when it is in none of the known formats.

    Raises ``UnusableInput`` when the file cannot be opened or decompressed.
    """
    try:
        with open_text(path) as text:
            head = text.read(SAMPLE_CHARS)
    except CORRUPT as error:
        raise UnusableInput(str(path), f"cannot be read ({error})") from None
    if not head.strip():
        return None
    records = _json_records(head) if head.lstrip()[:1] in ("[", "{") else None
    if records is not None:
        if spotify_extended.looks_like(records, path.name):
            return spotify_extended.FORMAT
        if spotify_account.looks_like(records, path.name):
            return spotify_account.FORMAT
        if listenbrainz.looks_like(records) or (not records and listenbrainz.PAYLOAD_START.match(head)):
            return listenbrainz.FORMAT  # an API answer can be longer than the sample
        if lastfm_api.looks_like(records) or (not records and lastfm_api.PAGE_START.match(head)):
            return lastfm_api.FORMAT  # a page can be longer than the sample
        if youtube_music.looks_like(records):
            return youtube_music.FORMAT
        return None
    lines = head.splitlines(keepends=True)
    if len(head) == SAMPLE_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    lines = lines[:SAMPLE_LINES]
    if canonical_csv.looks_like(lines):
        return canonical_csv.FORMAT
    if lastfm_scrobbles.looks_like(lines):
        return lastfm_scrobbles.FORMAT
    if lastfm_1k.looks_like(lines):
        return lastfm_1k.FORMAT
    if jodie.looks_like(lines):
        return jodie.FORMAT
    if apple_music.looks_like(lines):
        return apple_music.FORMAT
    if tidal.looks_like(lines):
        return tidal.FORMAT
    if deezer.looks_like(lines):
        return deezer.FORMAT
    if named_csv.looks_like(lines):  # the loosest: any header naming a time and a track
        return named_csv.FORMAT
    return None


def detect_format(path: Path | str) -> str:
    """The format of ``path``; raises ``UnusableInput`` when it is missing or unknown."""
    path = Path(path)
    found = guess_format(path)
    if found is None:
        with open_text(path) as text:
            if not text.read(SAMPLE_CHARS).strip():
                raise UnusableInput(str(path), "is empty")
        known = ", ".join(FORMAT_NAMES)
        raise UnusableInput(str(path), f"format not recognised (known: {known}); give --format")
    return found
