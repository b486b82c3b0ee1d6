"""What a format parser knows about the file it reads, and whose plays they are.

Spotify exports often carry no listener id: extended history has ``username`` on
most rows, account data has none. The fallback is the ``user`` the caller gave, else
the name of the folder holding the file, passing over the folder names Spotify's own
download, Apple's privacy export and Google Takeout use (they name the export, not the
person), and Takeout's archive names (``takeout-20230105T140312Z-001.zip``: a time and
a part number).

A copy suffix is the browser's (a re-download ``name (1).zip``, or ``name(1).zip``) or
Windows Explorer's (``name - Copy.zip``, ``name - Copy (2).zip``), never the listener's.
A generic name with one is still generic (``my_spotify_data (1).zip``). It is dropped
from the name of a downloaded file, a zip archive here (``ana (1).zip`` is ``ana``'s),
but a folder's own name is kept whole: whoever made the folder named it, and
``ana (2)`` may be a second listener.

>>> from pathlib import Path
>>> ctx = ParseContext(Path("exports/ana/my_spotify_data/Spotify Account Data/StreamingHistory0.json"))
>>> ctx.fallback_user
'ana'
>>> ParseContext(Path("exports/ana/StreamingHistory0.json"), user="ana-42").fallback_user
'ana-42'
>>> ParseContext(Path("exports/ana.zip/Spotify Account Data/StreamingHistory0.json")).fallback_user
'ana'
>>> ParseContext(Path("ana/takeout-20230105T140312Z-001.zip/Takeout/watch-history.json")).fallback_user
'ana'
>>> ParseContext(Path("ana/my_spotify_data (1).zip/Spotify Account Data/StreamingHistory.json")).fallback_user
'ana'
>>> ParseContext(Path("exports/ana (1).zip/StreamingHistory0.json")).fallback_user
'ana'
>>> ParseContext(Path("exports/ana (2)/StreamingHistory0.json")).fallback_user
'ana (2)'
>>> ParseContext(Path("plays.csv")).where(12)
'line 12'
>>> ParseContext(Path("endsong_0.json")).where(3, line=1)
'record 3 (line 1)'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from models.parsers.report import RAW_PREFIX, Reject
from models.settings import ModelSettings

#: Folder names of Spotify's download (and Google Takeout's) that say nothing about whose
#: data it is.
_GENERIC_FOLDERS = frozenset(
    {
        "my spotify data",
        "spotify account data",
        "spotify extended streaming history",
        "mydata",
        "my data",
        "spotify",
        "spotify data",
        "data",
        "exports",
        "videos",
        "takeout",
        "youtube and youtube music",
        "youtube",
        "history",
        "apple media services",
        "apple media services information",
        "apple music activity",
        "app store itunes store ibooks store apple music",
        "app store, itunes store, ibooks store, apple music",
    }
)


#: Google Takeout's archive (and the folder it unzips to): ``takeout-{UTC time}-{part}``.
_TAKEOUT_ARCHIVE = re.compile(r"takeout-\d{8}T\d{6}Z(?:-\d{1,4})?", re.IGNORECASE)
#: The copy suffixes of the module docstring, one or more at the end of a name.
_COPY_SUFFIX = re.compile(r"(?:\s*\(\d{1,3}\)|\s+-\s+copy)+\s*$", re.IGNORECASE)


def without_copy_suffix(name: str) -> str:
    """``name`` (without its extension) less a browser's or Explorer's copy suffix.

    >>> without_copy_suffix("jdoe (1)"), without_copy_suffix("my_spotify_data(2)")
    ('jdoe', 'my_spotify_data')
    >>> without_copy_suffix("scrobbles-jdoe-1673000000 - Copy (2)")
    'scrobbles-jdoe-1673000000'

    Only that suffix: a year, a hyphenated number or a name that is all suffix stay.

    >>> without_copy_suffix("Kid A (2000)"), without_copy_suffix("jdoe-1"), without_copy_suffix("(1)")
    ('Kid A (2000)', 'jdoe-1', '(1)')
    """
    return _COPY_SUFFIX.sub("", name) or name


def _folder_key(name: str) -> str:
    return " ".join(without_copy_suffix(name).casefold().replace("_", " ").replace("-", " ").split())


def is_generic(name: str) -> bool:
    """True for a folder or archive name that names the export, not whose it is.

    >>> [is_generic(n) for n in ("my_spotify_data (1)", "Takeout - Copy", "takeout-20240301T101010Z-002")]
    [True, True, True]
    >>> [is_generic(n) for n in ("ana", "ana (1)", "takeout-ana")]
    [False, False, False]
    """
    return _folder_key(name) in _GENERIC_FOLDERS or bool(
        _TAKEOUT_ARCHIVE.fullmatch(without_copy_suffix(name).strip())
    )


def folder_name(name: str) -> str:
    """A folder's name, or a zip archive's without ``.zip`` and a copy suffix (its files
    are read in place; its name is the downloaded file's).

    >>> folder_name("ana (1).zip"), folder_name("ana (1)"), folder_name("my_spotify_data.ZIP")
    ('ana', 'ana (1)', 'my_spotify_data')
    """
    return without_copy_suffix(name[:-4]) if name.casefold().endswith(".zip") else name


def folder_listener(path: Path) -> str:
    """The name of the nearest folder above ``path`` that is not a generic export folder."""
    folders = [folder_name(p.name) for p in path.resolve().parents if p.name]
    for name in folders:
        if not is_generic(name):
            return name
    return folders[0] if folders else "unknown"


@dataclass
class ParseContext:
    """The file being parsed (as named to the user) and the listener fallback."""

    path: Path
    user: str | None = None
    settings: ModelSettings = field(default_factory=ModelSettings)

    @property
    def file(self) -> str:
        return str(self.path)

    @cached_property
    def fallback_user(self) -> str:
        """Listener id for records that name none: ``user`` if given, else the folder."""
        if self.user is not None and self.user.strip():
            return self.user.strip()
        return folder_listener(self.path)

    @staticmethod
    def where(number: int, *, line: int | None = None) -> str:
        """``line N`` for line formats; ``record N (line L)`` for JSON records."""
        if line is None:
            return f"line {number}"
        return f"record {number} (line {line})"

    def reject(self, location: str, reason: str, raw: str | None = None) -> Reject:
        return Reject(self.file, location, reason, None if raw is None else raw[:RAW_PREFIX])
