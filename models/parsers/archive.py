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

An archive inside an archive is read in place too, as Apple ships its privacy export
(the download holds ``Apple_Media_Services.zip``, which holds the music activity):
its members are named under both, ``apple.zip/Apple_Media_Services.zip/Apple Music
Activity/Apple Music Play Activity.csv``, down to :data:`MAX_DEPTH` archives deep. An
inner archive is read into memory once (at most :data:`MAX_INNER_BYTES`) and kept
while its members are read.

>>> import io
>>> inner = io.BytesIO()
>>> with zipfile.ZipFile(inner, "w") as nested:
...     nested.writestr("Apple Music Activity/Apple Music Play Activity.csv", "Song Name\\n")
>>> with zipfile.ZipFile(folder / "apple.zip", "w") as outer:
...     outer.writestr("Apple_Media_Services.zip", inner.getvalue())
>>> [str(p.relative_to(folder)) for p in members(folder / "apple.zip")]
['apple.zip/Apple_Media_Services.zip/Apple Music Activity/Apple Music Play Activity.csv']
>>> with open_member(members(folder / "apple.zip")[0]) as raw:
...     raw.read()
b'Song Name\\n'
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, cast

from models.parsers import workbook
from models.parsers.last_used import LastUsed
from models.parsers.report import UnusableInput

MAGIC = b"PK\x03\x04"
#: Archives inside archives are read this many levels deep (the outer one is level 1).
MAX_DEPTH = 3
#: An inner archive is read into memory; one larger than this is refused.
MAX_INNER_BYTES = 2 << 30


def is_archive(path: Path) -> bool:
    """True for a zip archive on disk that is not an Excel workbook (a workbook is read
    as its sheet of plays, :mod:`models.parsers.workbook`)."""
    try:
        with path.open("rb") as raw:
            return raw.read(4) == MAGIC and not workbook.is_workbook(raw)
    except OSError:
        return False


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


def _is_zip_name(name: str) -> bool:
    return name.casefold().endswith(".zip")


def _names(opened: zipfile.ZipFile, depth: int) -> list[str]:
    """Member names of ``opened``, those of the archives in it expanded (``a.zip/b.csv``)."""
    names: list[str] = []
    for info in opened.infolist():
        if info.is_dir() or _hidden(info.filename):
            continue
        if _is_zip_name(info.filename) and depth < MAX_DEPTH:
            try:
                with _inner(opened, info) as nested:
                    names += [f"{info.filename}/{name}" for name in _names(nested, depth + 1)]
                continue
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError):
                pass  # listed as it is: a file in no known format, left out by name
        names.append(info.filename)
    return names


@contextmanager
def _inner(opened: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[zipfile.ZipFile]:
    if info.file_size > MAX_INNER_BYTES:
        raise zipfile.BadZipFile(f"inner archive {info.filename} is over {MAX_INNER_BYTES >> 30} GiB")
    with zipfile.ZipFile(io.BytesIO(_inner_bytes(opened, info))) as nested:
        yield nested


#: The inner archives read last, by name, CRC and size: each member of one is opened
#: twice (format detection, then parsing), and its archive is read once.
_INNER: LastUsed[tuple[str, int, int], bytes] = LastUsed(2)


def _inner_bytes(opened: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    return _INNER.get((info.filename, info.CRC, info.file_size), lambda: opened.read(info))


def members(archive: Path) -> list[Path]:
    """The files inside ``archive`` and the archives in it, as paths under it, in name order."""
    try:
        with zipfile.ZipFile(archive) as opened:
            names = _names(opened, 1)
    except (zipfile.BadZipFile, OSError) as error:
        raise UnusableInput(str(archive), f"corrupt zip archive ({error})") from None
    return [archive / name for name in sorted(names)]


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
            # An archive inside: the longest leading part of the name that is one.
            parts = name.split("/")
            start = 0
            for end in range(1, len(parts)):
                head = "/".join(parts[start:end])
                if _is_zip_name(head) and head in opened.NameToInfo:
                    opened = stack.enter_context(_inner(opened, opened.getinfo(head)))
                    start = end
            member = stack.enter_context(opened.open("/".join(parts[start:])))
        except KeyError:
            raise UnusableInput(str(path), "no such file in the archive") from None
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as error:
            # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks.
            raise UnusableInput(str(path), f"cannot be read from the archive ({error})") from None
        yield cast(BinaryIO, member)
