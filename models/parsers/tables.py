"""Reading CSV tables of plays, whatever wrote them: the delimiter a header uses,
column names as people write them, records whose quoted fields span lines, rows of
the wrong width, and cells of whole numbers and true/false. Every CSV format parser
(`canonical_csv`, `named_csv`, `lastfm_scrobbles`, `apple_music`, `tidal`, `deezer`)
reads through it.

>>> from pathlib import Path
>>> from models.parsers.context import ParseContext
>>> header, lines = first_line(["Played At;Song;Artist\\n", "2024-01-05;Jóga;Björk\\n", "x\\n"])
>>> at = header_delimiter(header, {"played_at", "song"}, column_key)
>>> at, find_columns(split_line(header, at), {"when": ("played_at",), "track": ("song",)})
(';', {'when': 0, 'track': 1})
>>> records = csv_table(lines, at, ParseContext(Path("x.csv")))
>>> [r if isinstance(r, tuple) else r.reason for r in records][1:]
[('line 2', ['2024-01-05', 'Jóga', 'Björk']), 'expected 3 columns, got 1']
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

from models.parsers.context import ParseContext
from models.parsers.report import Reject

#: What may separate the columns of a CSV, preferred first; the header tells which.
DELIMITERS = (",", ";", "\t")
#: How a refusal says which delimiters were tried for a header.
TRIED_DELIMITERS = "columns split at commas, semicolons or tabs"
#: A quoted field may span lines; past this many the quote is taken as never closed.
MAX_RECORD_LINES = 1000
_WHOLE = re.compile(r"\s*\+?(\d{1,18})(?:\.0*)?\s*")
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})


def header_name(name: str) -> str:
    """A header cell as the canonical CSV spells it: blanks, a BOM and case do not matter."""
    return name.strip().lstrip("\ufeff").casefold()


def header_names(fields: list[str]) -> list[str]:
    return [header_name(name) for name in fields]


def split_line(line: str, delimiter: str = ",") -> list[str]:
    """The fields of one line of CSV; ``[]`` when it is no CSV at all.

    >>> split_line('ts;"artist; name";track\\n', ";")
    ['ts', 'artist; name', 'track']
    """
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def header_delimiter(line: str, known: Collection[str], key: Callable[[str], str] = header_name) -> str:
    """The delimiter of :data:`DELIMITERS` that splits header ``line`` into the most
    ``known`` names (compared as ``key`` spells them); a comma on a tie.

    >>> known = {"user_id", "track_id", "played_at"}
    >>> header_delimiter("user_id;track_id;played_at", known)
    ';'
    >>> header_delimiter("user_id\\ttrack_id\\tplayed_at", known), header_delimiter("a;b", known)
    ('\\t', ',')
    """
    best, most = DELIMITERS[0], 0
    for delimiter in DELIMITERS:
        count = sum(key(name) in known for name in split_line(line, delimiter))
        if count > most:
            best, most = delimiter, count
    return best


def first_line(lines: Iterable[str]) -> tuple[str, Iterator[str]]:
    """The first non-blank line of ``lines`` (``""`` if none), and all of ``lines``
    again, that one included, for reading on.

    >>> header, again = first_line(iter(["\\n", "ts;track\\n", "1;a\\n"]))
    >>> header, list(again)
    ('ts;track\\n', ['\\n', 'ts;track\\n', '1;a\\n'])
    """
    source = iter(lines)
    seen: list[str] = []
    for line in source:
        seen.append(line)
        if line.strip():
            return line, itertools.chain(seen, source)
    return "", iter(seen)


def has_header(lines: Iterable[str], required: Iterable[str], delimiters: Iterable[str] = (",",)) -> bool:
    """True when the first non-blank line is a CSV header naming every ``required`` column,
    its columns separated by one of ``delimiters``."""
    header, _ = first_line(lines)
    return bool(header) and any(set(required) <= set(header_names(split_line(header, d))) for d in delimiters)


def csv_records(stream: Iterable[str], delimiter: str = ",") -> Iterator[tuple[int, list[str] | str]]:
    """(line number, fields) per CSV record, or (line number, reason) for a malformed one.

    Physical lines are joined only while a quoted field is open; a quote that never
    closes costs its own line only, and reading resumes on the next line.
    """
    source = enumerate(stream, 1)
    pushback: list[tuple[int, str]] = []

    def next_line() -> tuple[int, str] | None:
        return pushback.pop() if pushback else next(source, None)

    while (item := next_line()) is not None:
        number, text = item
        if not text.strip():
            continue
        taken = [item]
        record = text
        while True:
            try:
                fields = next(csv.reader([record], delimiter=delimiter, strict=True))
            except csv.Error as error:
                more = None
                if "unexpected end of data" in str(error) and len(taken) < MAX_RECORD_LINES:
                    more = next_line()
                if more is not None:
                    taken.append(more)
                    record += more[1]
                    continue
                if len(taken) == 1 and "unexpected end of data" not in str(error):
                    yield number, f"malformed CSV ({error})"
                else:
                    # Only this line is lost: the lines a stray quote pulled in are read again.
                    yield number, "a quoted field opened on this line is not closed properly"
                    pushback.extend(reversed(taken[1:]))
            else:
                yield number, fields
            break


def csv_table(
    lines: Iterable[str], delimiter: str, ctx: ParseContext
) -> Iterator[Reject | tuple[str, list[str]]]:
    """The records of a CSV table as (where, fields): the first one as it is (a header,
    or a headerless file's first row), the others only when they are as wide. A
    malformed record, or one of another width, is a ``Reject`` naming its line, and
    reading goes on.

    >>> from pathlib import Path
    >>> records = csv_table(["a,b\\n", "1\\n", "2,3\\n"], ",", ParseContext(Path("x.csv")))
    >>> [r if isinstance(r, tuple) else r.reason for r in records]
    [('line 1', ['a', 'b']), 'expected 2 columns, got 1', ('line 3', ['2', '3'])]
    """
    width: int | None = None
    for number, fields in csv_records(lines, delimiter):
        where = ctx.where(number)
        if isinstance(fields, str):
            yield ctx.reject(where, fields)
        elif width is not None and len(fields) != width:
            yield ctx.reject(where, f"expected {width} columns, got {len(fields)}", delimiter.join(fields))
        else:
            width = len(fields) if width is None else width
            yield where, fields


def whole_cell(text: str, name: str) -> int | None:
    """A cell's whole number (``None`` when blank); ``ValueError`` names ``name``."""
    if not text.strip():
        return None
    match = _WHOLE.fullmatch(text)
    if match is None:
        if text.strip().startswith("-") and _WHOLE.fullmatch(text.strip()[1:]):
            raise ValueError(f"negative {name} {text.strip()}")
        raise ValueError(f"{name} {text.strip()[:40]!r} is not a whole number")
    return int(match.group(1))


def flag_cell(text: str) -> bool | None:
    """A cell's true/false (``None`` when blank), as ``skipped``."""
    value = text.strip().casefold()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"skipped {text.strip()[:40]!r} is not true or false")


def column_key(name: str) -> str:
    """A header name as the formats' column aliases spell it: ``"Track Name"`` -> ``track_name``."""
    return "_".join(name.strip().lstrip("\ufeff").casefold().replace("-", " ").split())


def alias_delimiter(line: str, aliases: Mapping[str, tuple[str, ...]]) -> str:
    """The delimiter that splits header ``line`` into the most names of ``aliases``
    (field -> its column names, as :func:`column_key` spells them).

    >>> alias_delimiter("Song Title;Artist;Date", {"track": ("song_title",), "when": ("date",)})
    ';'
    """
    return header_delimiter(line, {name for names in aliases.values() for name in names}, column_key)


def header_columns(line: str, aliases: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """:func:`find_columns` of a header line, split at its :func:`alias_delimiter`."""
    return find_columns(split_line(line, alias_delimiter(line, aliases)), aliases)


def find_columns(header: list[str], aliases: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Where each field of ``aliases`` is in ``header``: the first of its names found
    (as :func:`column_key` spells them) wins, and a name's first column.

    >>> find_columns(["Played At", "Song", "Track"], {"when": ("played_at",), "track": ("track", "song")})
    {'when': 0, 'track': 2}
    """
    at: dict[str, int] = {}
    for position, name in enumerate(header):
        at.setdefault(column_key(name), position)
    found: dict[str, int] = {}
    for field, names in aliases.items():
        for name in names:
            if name in at:
                found[field] = at[name]
                break
    return found
