"""What a format parser knows about the file it reads, and whose plays they are.

Spotify exports often carry no listener id: extended history has ``username`` on
most rows, account data has none. The fallback is the ``user`` the caller gave, else
the name of the folder holding the file, passing over the folder names Spotify's own
download uses (they name the export, not the person).

>>> from pathlib import Path
>>> ctx = ParseContext(Path("exports/ana/my_spotify_data/Spotify Account Data/StreamingHistory0.json"))
>>> ctx.fallback_user
'ana'
>>> ParseContext(Path("exports/ana/StreamingHistory0.json"), user="ana-42").fallback_user
'ana-42'
>>> ParseContext(Path("exports/ana.zip/Spotify Account Data/StreamingHistory0.json")).fallback_user
'ana'
>>> ParseContext(Path("plays.csv")).where(12)
'line 12'
>>> ParseContext(Path("endsong_0.json")).where(3, line=1)
'record 3 (line 1)'
"""

from __future__ import annotations

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
    }
)


def _folder_key(name: str) -> str:
    return " ".join(name.casefold().replace("_", " ").replace("-", " ").split())


def folder_name(name: str) -> str:
    """A folder's name, or a zip archive's without ``.zip`` (its files are read in place)."""
    return name[:-4] if name.casefold().endswith(".zip") else name


def folder_listener(path: Path) -> str:
    """The name of the nearest folder above ``path`` that is not a generic export folder."""
    folders = [folder_name(p.name) for p in path.resolve().parents if p.name]
    for name in folders:
        if _folder_key(name) not in _GENERIC_FOLDERS:
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
