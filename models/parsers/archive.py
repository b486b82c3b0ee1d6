"""Zip archives read in place: Spotify sends every export as ``my_spotify_data.zip``.

A file inside an archive is named as a path *under* the archive,
``exports/ana/my_spotify_data.zip/Spotify Account Data/StreamingHistory_music_0.json``:
rejects name it the way a person finds it, and the listener fallback reads the folders
above it (the archive's own name counts as a folder, without its ``.zip``). Nothing is
extracted to disk. Hidden members (``__MACOSX/``, dot files) are left out, as hidden
files are in folders.

>>> import json, tempfile, zipfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp()) / "ana"
>>> folder.mkdir()
>>> zip_path = folder / "my_spotify_data.zip"
>>> with zipfile.ZipFile(zip_path, "w") as archive:
...     play = {"endTime": "2024-01-05 08:01", "artistName": "Björk", "trackName": "Jóga", "msPlayed": 300000}
...     archive.writestr("Spotify Account Data/StreamingHistory_music_0.json", json.dumps([play]))
...     archive.writestr("__MACOSX/Spotify Account Data/._StreamingHistory_music_0.json", b"\\x00\\x05")
>>> [str(p.relative_to(folder)) for p in members(zip_path)]
['my_spotify_data.zip/Spotify Account Data/StreamingHistory_music_0.json']
>>> with open_member(members(zip_path)[0]) as raw:
...     raw.read(14)
b'[{"endTime": "'
>>> locate(folder / "my_spotify_data.zip" / "missing.json")[1]
'missing.json'
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, cast

from models.parsers.report import UnusableInput

MAGIC = b"PK\x03\x04"


def is_archive(path: Path) -> bool:
    """True for a zip archive on disk."""
    try:
        with path.open("rb") as raw:
            return raw.read(4) == MAGIC
    except OSError:
        return False


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


def members(archive: Path) -> list[Path]:
    """The files inside ``archive``, as paths under it, in name order."""
    try:
        with zipfile.ZipFile(archive) as opened:
            names = [i.filename for i in opened.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as error:
        raise UnusableInput(str(archive), f"corrupt zip archive ({error})") from None
    return [archive / name for name in sorted(names) if not _hidden(name)]


def locate(path: Path) -> tuple[Path, str] | None:
    """(archive, member name) when ``path`` names a file inside a zip archive on disk."""
    if path.exists():
        return None
    for parent in path.parents:
        if parent.is_file():
            return (parent, path.relative_to(parent).as_posix()) if is_archive(parent) else None
    return None


@contextmanager
def open_member(path: Path) -> Iterator[BinaryIO]:
    """The bytes of the archive member ``path`` names (see :func:`members`).

    A member that turns out corrupt while it is read raises ``zipfile.BadZipFile``
    (a wrong CRC) or ``zlib.error``; the caller rejects the rest of that file.
    """
    found = locate(path)
    if found is None:
        raise UnusableInput(str(path), "no such file or directory")
    archive, name = found
    with ExitStack() as stack:
        try:
            opened = stack.enter_context(zipfile.ZipFile(archive))
            member = stack.enter_context(opened.open(name))
        except KeyError:
            raise UnusableInput(str(path), "no such file in the archive") from None
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as error:
            # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks.
            raise UnusableInput(str(path), f"cannot be read from the archive ({error})") from None
        yield cast(BinaryIO, member)
