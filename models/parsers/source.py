"""Opening an input file as text: gzip/bz2/xz are transparent, a BOM picks the encoding.

The encoding is decided once per file, from its first bytes: a UTF-16 or UTF-32 BOM
names its encoding; JSON (the first character is ``[`` or ``{``) is UTF-8, as its
standard requires; any other text is UTF-8 line by line, and a line that is not valid
UTF-8 is read as Windows-1252 (cp1252, what Excel on Windows saves; the five bytes it
leaves undefined read as Latin-1), so ``Björk`` saved by Excel is still ``Björk``.
The switch happens where UTF-8 decoding fails, in an error handler
(:func:`cp1252_line`), so a valid UTF-8 file costs nothing extra, and a Windows-1252
line a gigabyte into a file that starts in ASCII is read as well as one in the first
line. From its first bad byte to its end such a line is read as Windows-1252 (what
comes before is ASCII in any real Windows-1252 text).

Bytes that are neither stay lone surrogates (``surrogateescape``), so the parser can
reject just the record that holds them instead of the whole file: a bad byte in JSON,
and a line whose bytes make control characters, which is binary data, not text.

>>> import gzip, tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> path = folder / "plays.csv.gz"
>>> _ = path.write_bytes(gzip.compress("\\ufeffuser_id,track_id\\r\\n".encode()))
>>> with open_text(path) as text:
...     text.read()
'user_id,track_id\\r\\n'
>>> _ = path.write_bytes(gzip.compress("ts,artist\\n1700000000,Beyoncé\\n2,Björk\\n".encode("cp1252")))
>>> with open_text(path) as text:
...     text.read()
'ts,artist\\n1700000000,Beyoncé\\n2,Björk\\n'
>>> _ = path.write_bytes(gzip.compress(b"ts,artist\\n\\x00\\xff\\x89PNG\\n"))
>>> with open_text(path) as text:
...     text.read()
'ts,artist\\n\\x00\\udcff\\udc89PNG\\n'
>>> open_text(folder / "missing.csv").__enter__()
Traceback (most recent call last):
...
models.parsers.report.UnusableInput: ...missing.csv: no such file or directory
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import io
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO, cast

from models.parsers import archive, workbook
from models.parsers.last_used import LastUsed
from models.parsers.report import UnusableInput

#: What reading a file that :func:`open_text` opened raises when the file is truncated
#: or corrupt: a bad gzip/bz2/xz stream, or a zip member whose CRC fails.
CORRUPT: tuple[type[Exception], ...] = (OSError, EOFError, lzma.LZMAError, zlib.error, zipfile.BadZipFile)
#: How much of a file's start decides its encoding (a BOM, or JSON's first character).
HEAD_BYTES = 64


def _decompressed(raw: BinaryIO, head: bytes) -> BinaryIO:
    if head.startswith(b"\x1f\x8b"):
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if head.startswith(b"BZh"):
        return cast(BinaryIO, bz2.BZ2File(raw, mode="rb"))
    if head.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(raw, mode="rb"))
    return raw


#: The error handler :func:`open_text` gives UTF-8 text (:func:`cp1252_line`).
CP1252_LINES = "encore.cp1252-line"
_LINE_END = re.compile(rb"[\r\n]")
#: Bytes that are control characters in Windows-1252 and in UTF-8: binary data.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: The bytes Windows-1252 leaves undefined (escaped as surrogates) to their Latin-1 letters.
_UNDEFINED_IN_CP1252 = {0xDC00 + byte: byte for byte in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def cp1252(data: bytes) -> str:
    """``data`` as Windows-1252; the five bytes it leaves undefined read as Latin-1.

    >>> cp1252(b"Beyonc\\xe9 \\x80 \\x81")
    'Beyoncé € \\x81'
    """
    return data.decode("cp1252", "surrogateescape").translate(_UNDEFINED_IN_CP1252)


def cp1252_line(error: UnicodeError) -> tuple[str, int]:
    """A UTF-8 decoding error handler: the rest of the line that failed, read as Windows-1252.

    A line holding control characters is binary data: its bytes that are not UTF-8
    stay lone surrogates, as ``surrogateescape`` leaves them.

    >>> b"ts,artist\\n1,Bj\\xf6rk \\xe9\\n2,\\xc3\\xa9\\n".decode("utf-8", CP1252_LINES)
    'ts,artist\\n1,Björk é\\n2,é\\n'
    >>> b"\\x00\\xff\\n".decode("utf-8", CP1252_LINES)
    '\\x00\\udcff\\n'
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    data = error.object if isinstance(error.object, bytes) else bytes(error.object)
    start = max(data.rfind(b"\n", 0, error.start), data.rfind(b"\r", 0, error.start)) + 1
    found = _LINE_END.search(data, error.start)
    end = found.start() if found is not None else len(data)
    rest = data[error.start : end]
    if _BINARY.search(data, start, end) is not None:
        return rest.decode("utf-8", "surrogateescape"), end
    return cp1252(rest), end


codecs.register_error(CP1252_LINES, cp1252_line)


def _encoding(head: bytes) -> tuple[str, str]:
    """Encoding and error handler for a stream starting with ``head``."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", "replace"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "replace"
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    if head.removeprefix(codecs.BOM_UTF8).lstrip()[:1] in (b"[", b"{"):
        return encoding, "surrogateescape"  # JSON is UTF-8 (RFC 8259): a bad byte is damage
    return encoding, CP1252_LINES


def _peek(stream: BinaryIO, size: int) -> bytes:
    peek = getattr(stream, "peek", None)
    data: bytes = peek(size) if peek is not None else b""
    return data[:size]


#: An Excel workbook inside a zip archive is read into memory; one larger is refused.
MAX_WORKBOOK_BYTES = 512 << 20


#: The sheets rendered last, by the digest of their workbook: a file is opened twice
#: (format detection, then parsing), and rendering 40k rows takes seconds.
_SHEETS: LastUsed[str, str] = LastUsed(2)


def _sheet(path: Path, book: BinaryIO) -> str:
    """The workbook's sheet of plays as CSV text (:mod:`models.parsers.workbook`)."""
    if book.seek(0, io.SEEK_END) > MAX_WORKBOOK_BYTES:
        raise UnusableInput(str(path), f"is an Excel workbook over {MAX_WORKBOOK_BYTES >> 20} MiB")
    book.seek(0)
    data = book.read()

    def render() -> str:
        try:
            return workbook.sheet_text(io.BytesIO(data))
        except Exception as error:  # openpyxl raises many kinds for a damaged workbook
            raise UnusableInput(str(path), f"is an Excel workbook that cannot be read ({error})") from None

    return _SHEETS.get(hashlib.sha256(data).hexdigest(), render)


@contextmanager
def open_text(path: Path) -> Iterator[TextIO]:
    """Open ``path`` for reading as text with untranslated line endings.

    ``path`` may name a file inside a zip archive (:mod:`models.parsers.archive`). An
    Excel workbook opens as the CSV text of its sheet of plays
    (:mod:`models.parsers.workbook`). Raises ``UnusableInput`` when the file is missing,
    a folder, unreadable, a damaged workbook or itself a zip archive. A corrupt
    compressed stream raises one of :data:`CORRUPT` while reading.
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
            book = cast(BinaryIO, io.BytesIO(raw.read(MAX_WORKBOOK_BYTES + 1))) if inside else raw
            if workbook.is_workbook(book):
                yield io.StringIO(_sheet(path, book), newline="")
                return
            how = "unzip the outer one first" if inside else "name it as a path to read its files"
            raise UnusableInput(str(path), f"is a zip archive ({how})")
        binary = stack.enter_context(_decompressed(raw, magic))
        try:
            head = _peek(binary, HEAD_BYTES)
        except (OSError, EOFError, lzma.LZMAError) as error:
            raise UnusableInput(str(path), f"corrupt compressed file ({error})") from None
        encoding, errors = _encoding(head)
        text = io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline="")
        try:
            yield text
        finally:
            text.detach()
