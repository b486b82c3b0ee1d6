"""Opening an input file as text: gzip/bz2/xz are transparent, a BOM picks the encoding.

Bytes that are not valid UTF-8 survive as lone surrogates (``surrogateescape``), so
the parser can reject just the record that holds them instead of the whole file.

>>> import gzip, tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> path = folder / "plays.csv.gz"
>>> _ = path.write_bytes(gzip.compress("\\ufeffuser_id,track_id\\r\\n".encode()))
>>> with open_text(path) as text:
...     text.read()
'user_id,track_id\\r\\n'
>>> open_text(folder / "missing.csv").__enter__()
Traceback (most recent call last):
...
models.parsers.report.UnusableInput: ...missing.csv: no such file or directory
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO, cast

from models.parsers import archive
from models.parsers.report import UnusableInput

#: What reading a file that :func:`open_text` opened raises when the file is truncated
#: or corrupt: a bad gzip/bz2/xz stream, or a zip member whose CRC fails.
CORRUPT: tuple[type[Exception], ...] = (OSError, EOFError, lzma.LZMAError, zlib.error, zipfile.BadZipFile)


def _decompressed(raw: BinaryIO, head: bytes) -> BinaryIO:
    if head.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if head.startswith(b"BZh"):
        return cast(BinaryIO, bz2.BZ2File(raw, mode="rb"))
    if head.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(raw, mode="rb"))
    return raw


def _encoding(head: bytes) -> tuple[str, str]:
    """Encoding and error handler for a stream starting with ``head``."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", "replace"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "replace"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "surrogateescape"
    return "utf-8", "surrogateescape"


def _peek(stream: BinaryIO, size: int) -> bytes:
    peek = getattr(stream, "peek", None)
    data: bytes = peek(size) if peek is not None else b""
    return data[:size]


@contextmanager
def open_text(path: Path) -> Iterator[TextIO]:
    """Open ``path`` for reading as text with untranslated line endings.

    ``path`` may name a file inside a zip archive (:mod:`models.parsers.archive`).
    Raises ``UnusableInput`` when the file is missing, a folder, unreadable or itself a
    zip archive. A corrupt compressed stream raises one of :data:`CORRUPT` while reading.
    """
    with ExitStack() as stack:
        inside = archive.locate(path) is not None
        try:
            raw = stack.enter_context(archive.open_member(path) if inside else path.open("rb"))
        except FileNotFoundError:
            raise UnusableInput(str(path), "no such file or directory") from None
        except IsADirectoryError:
            raise UnusableInput(str(path), "is a folder") from None
        except OSError as error:
            raise UnusableInput(str(path), f"cannot be read ({error.strerror or error})") from None
        magic = _peek(raw, 8)
        if magic.startswith(archive.MAGIC):
            how = "unzip the outer one first" if inside else "name it as a path to read its files"
            raise UnusableInput(str(path), f"is a zip archive ({how})")
        binary = stack.enter_context(_decompressed(raw, magic))
        try:
            head = _peek(binary, 4)
        except (OSError, EOFError, lzma.LZMAError) as error:
            raise UnusableInput(str(path), f"corrupt compressed file ({error})") from None
        encoding, errors = _encoding(head)
        text = io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline="")
        try:
            yield text
        finally:
            text.detach()
