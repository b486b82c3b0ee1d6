"""Parsing files and folders of plays in any known format: the one entry point.

``parse_paths`` reads everything into a `ParseReport`; ``iter_paths`` streams the
plays and fills the report as it goes (for files too big to hold). A folder stands
for the files inside it (recursively, hidden ones left out) that are in a known
format, and so does a zip archive, named or inside a folder (Spotify's
``my_spotify_data.zip`` is read in place, :mod:`models.parsers.archive`). Files in no
known format inside a folder or archive are listed as ``ignored``, while a file named
directly must be usable. Missing paths, unknown formats and folders
without any usable file raise ``UnusableInput`` before a single play is produced.

>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp()) / "ana"
>>> folder.mkdir()
>>> _ = (folder / "StreamingHistory_music_0.json").write_text(
...     '[{"endTime": "2024-01-05 08:01", "artistName": "Björk", "trackName": "Jóga", "msPlayed": 300000},'
...     ' {"endTime": "2024-01-05 08:09", "artistName": "Björk", "trackName": "Hunter", "msPlayed": -1}]')
>>> _ = (folder / "README.md").write_text("my export")
>>> report = parse_paths([folder])
>>> report.format, report.accepted, report.rejected, report.events[0].user_id
('spotify-account', 1, 1, 'ana')
>>> print(report.rejects[0].location, report.rejects[0].reason)
record 2 (line 1) negative msPlayed -1
>>> [Path(p).name for p in report.ignored]
['README.md']
>>> parse_paths([folder / "missing.csv"])
Traceback (most recent call last):
...
models.parsers.report.UnusableInput: ...missing.csv: no such file or directory
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from models.events import PlayEvent
from models.parsers import (
    apple_music,
    archive,
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
from models.parsers.context import ParseContext
from models.parsers.detect import FORMAT_NAMES, detect_format, guess_format
from models.parsers.report import FileReport, ParseReport, Reject, Skip, UnusableInput
from models.parsers.source import CORRUPT, open_text
from models.settings import ModelSettings

Parser = Callable[[TextIO, ParseContext], Iterator[PlayEvent | Skip | Reject]]

PARSERS: dict[str, Parser] = {
    canonical_csv.FORMAT: canonical_csv.parse,
    lastfm_1k.FORMAT: lastfm_1k.parse,
    jodie.FORMAT: jodie.parse,
    spotify_account.FORMAT: spotify_account.parse,
    spotify_extended.FORMAT: spotify_extended.parse,
    listenbrainz.FORMAT: listenbrainz.parse,
    lastfm_scrobbles.FORMAT: lastfm_scrobbles.parse,
    lastfm_api.FORMAT: lastfm_api.parse,
    named_csv.FORMAT: named_csv.parse,
    youtube_music.FORMAT: youtube_music.parse,
    apple_music.FORMAT: apple_music.parse,
    tidal.FORMAT: tidal.parse,
    deezer.FORMAT: deezer.parse,
}
_ALIASES = {
    "canonical": "csv",
    "lastfm1k": "lastfm-1k",
    "account": "spotify-account",
    "extended": "spotify-extended",
    "lastfm": "lastfm-scrobbles",
    "lastfmscrobbles": "lastfm-scrobbles",
    "named": "named-csv",
    "youtube": "youtube-music",
    "apple": "apple-music",
}
#: File name endings a forced format takes inside a folder when content says nothing.
_SUFFIXES = {
    "csv": (".csv",),
    "lastfm-1k": (".tsv", ".txt"),
    "jodie": (".tsv", ".txt", ".csv"),
    "spotify-account": (".json",),
    "spotify-extended": (".json",),
    "listenbrainz": (".json", ".jsonl"),
    "lastfm-scrobbles": (".csv",),
    "lastfm-api": (".json", ".jsonl"),
    "named-csv": (".csv",),
    "youtube-music": (".json",),
    "apple-music": (".csv",),
    "tidal": (".csv",),
    "deezer": (".xlsx", ".csv"),
}
_COMPRESSED = (".gz", ".bz2", ".xz")


def resolve_format(name: str) -> str:
    """The canonical name of a format given by a person; ``UnusableInput`` if unknown.

    >>> resolve_format("Spotify_Extended"), resolve_format("lastfm1k")
    ('spotify-extended', 'lastfm-1k')
    """
    key = name.strip().casefold().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in PARSERS:
        raise UnusableInput(f"--format {name}", f"unknown format (known: {', '.join(FORMAT_NAMES)})")
    return key


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _fits(path: Path, fmt: str) -> bool:
    name = path.name.casefold()
    for ending in _COMPRESSED:
        name = name.removesuffix(ending)
    return name.endswith(_SUFFIXES[fmt])


def _inside(folder: Path) -> list[Path]:
    """The files a folder or zip archive stands for: its own, and those of the archives
    in it, hidden ones left out, in name order."""
    if archive.is_archive(folder):
        return archive.members(folder)
    files: list[Path] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder)):
        files.extend(archive.members(path) if archive.is_archive(path) else [path])
    return files


def _folder_files(folder: Path, fmt: str | None, ignored: list[str]) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for path in _inside(folder):
        try:
            guessed = guess_format(path)
        except UnusableInput:
            guessed = None
        if fmt is None and guessed is not None:
            found.append((path, guessed))
        elif fmt is not None and (guessed == fmt or (guessed is None and _fits(path, fmt))):
            found.append((path, fmt))
        else:
            ignored.append(str(path))
    if not found:
        wanted = f"in format {fmt}" if fmt else "in a known format"
        raise UnusableInput(str(folder), f"holds no file {wanted}")
    return found


def plan_paths(
    paths: Iterable[str | Path], format: str | None = None
) -> tuple[list[tuple[Path, str]], list[str]]:
    """The (file, format) pairs to parse, in order, and the folder files left out."""
    fmt = resolve_format(format) if format else None
    files: list[tuple[Path, str]] = []
    ignored: list[str] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir() or archive.is_archive(path):
            found = _folder_files(path, fmt, ignored)
        elif path.exists():
            found = [(path, fmt or detect_format(path))]
        else:
            raise UnusableInput(str(path), "no such file or directory")
        for file, file_format in found:
            key = file.resolve()
            if key not in seen:  # the same file named twice is read once
                seen.add(key)
                files.append((file, file_format))
    if not files:
        raise UnusableInput("(no paths)", "nothing to parse")
    return files, ignored


def _run(
    files: list[tuple[Path, str]], user: str | None, report: ParseReport, settings: ModelSettings
) -> Iterator[PlayEvent]:
    for path, fmt in files:
        report.files.append(FileReport(str(path), fmt))
        ctx = ParseContext(path, user=user, settings=settings)
        outcomes = 0
        try:
            with open_text(path) as stream:
                for outcome in PARSERS[fmt](stream, ctx):
                    outcomes += 1
                    if isinstance(outcome, PlayEvent):
                        report.count_accepted()
                        yield outcome
                    elif isinstance(outcome, Skip):
                        report.count_skip(outcome.reason)
                    else:
                        report.add_reject(outcome)
        except CORRUPT as error:
            where = f"after {outcomes} records"
            report.add_reject(Reject(str(path), where, f"file is truncated or corrupt ({error})"))


def iter_paths(
    paths: Iterable[str | Path] | str | Path,
    format: str | None = None,
    user: str | None = None,
    *,
    report: ParseReport | None = None,
    settings: ModelSettings | None = None,
) -> Iterator[PlayEvent]:
    """Stream the plays of ``paths``; counts, skips and rejects go to ``report``.

    Paths and formats are checked at once (``UnusableInput``), before iteration.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files, ignored = plan_paths(paths, format)
    target = report if report is not None else ParseReport()
    target.ignored.extend(ignored)
    return _run(files, user, target, settings or ModelSettings())


def parse_paths(
    paths: Iterable[str | Path] | str | Path,
    format: str | None = None,
    user: str | None = None,
    *,
    max_rejects: int | None = None,
    settings: ModelSettings | None = None,
) -> ParseReport:
    """Parse every play of ``paths`` into a report (plays in file order, duplicates kept).

    ``format`` overrides detection for every file; ``user`` names the listener of
    Spotify exports that carry no ``username``; ``max_rejects`` bounds the rejects kept
    (all are counted).
    """
    report = ParseReport(max_rejects=max_rejects)
    report.events = list(iter_paths(paths, format, user, report=report, settings=settings))
    return report
