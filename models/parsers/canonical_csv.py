"""The canonical CSV: the project's own play format, read and written.

Header ``user_id,track_id,played_at,ms_played,track_name,artist_name``; the last three
columns are optional. ``played_at`` is ISO-8601, a naive time is UTC. Four more
optional columns keep what other sources know, so an export written by
``encore import`` reads back as exactly the same plays: ``seq`` (n-th identical play
in the same minute), ``source``, ``track_uri`` and ``skipped``. Columns are found by
their header name, in any order; unknown columns are ignored.

Columns are separated by commas, or by semicolons (Excel in European locales) or tabs:
the header line decides, by the delimiter of :data:`DELIMITERS` that splits it into
the most known column names (:func:`header_delimiter`; a comma on a tie or without a
header). Data rows are not guessed from.

>>> import io
>>> from pathlib import Path
>>> from models.parsers.context import ParseContext
>>> text = '''user_id,track_id,played_at,ms_played
... ana,t1,2024-03-01T20:15:00Z,215000
... ana,t2,not a time,1000
... ,t3,2024-03-01T20:20:00,-5
... ana,t4
... '''
>>> for outcome in parse(io.StringIO(text), ParseContext(Path("plays.csv"))):
...     print(outcome if not isinstance(outcome, PlayEvent) else outcome.track_id)
t1
plays.csv line 3: bad played_at 'not a time' (expected ISO-8601)
plays.csv line 4: empty user_id; negative ms_played -5
plays.csv line 5: expected 4 columns, got 2

The same plays saved by Excel with semicolons:

>>> semicolons = text.replace(",", ";")
>>> [p.track_id for p in parse(io.StringIO(semicolons), ParseContext(Path("plays.csv")))
...  if isinstance(p, PlayEvent)]
['t1']

Writing gives the full header, and reading it back gives the same plays:

>>> play = PlayEvent(user_id="ana", track_id="t:1", played_at=parse_timestamp("2024-03-01 20:15"),
...                  track_name='Rhapsody, "live" take', source="spotify-account", seq=1)
>>> out = io.StringIO()
>>> write_csv([play], out)
1
>>> print(out.getvalue(), end="")
user_id,track_id,played_at,ms_played,track_name,artist_name,seq,source,track_uri,skipped
ana,t:1,2024-03-01T20:15:00Z,,"Rhapsody, ""live"" take",,1,spotify-account,,
>>> list(parse(io.StringIO(out.getvalue()), ParseContext(Path("x.csv")))) == [play]
True
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime
from typing import TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.records import build_event, checked, parse_timestamp
from models.parsers.report import Reject, Skip

FORMAT = "csv"
SOURCE = "csv"
COLUMNS = (
    "user_id",
    "track_id",
    "played_at",
    "ms_played",
    "track_name",
    "artist_name",
    "seq",
    "source",
    "track_uri",
    "skipped",
)
REQUIRED = COLUMNS[:3]

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
    """A header cell as :data:`COLUMNS` spells it: blanks, a BOM and case do not matter."""
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

    >>> header_delimiter("user_id;track_id;played_at", COLUMNS)
    ';'
    >>> header_delimiter("user_id\\ttrack_id\\tplayed_at", COLUMNS), header_delimiter("a;b", COLUMNS)
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


def looks_like(lines: list[str]) -> bool:
    """True when the first non-blank line is a header naming the required columns
    (separated by any of :data:`DELIMITERS`)."""
    return has_header(lines, REQUIRED, DELIMITERS)


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


def _row(fields: list[str], index: dict[str, int], ctx: ParseContext) -> PlayEvent | str:
    def get(name: str) -> str:
        at = index.get(name)
        return fields[at] if at is not None else ""

    problems: list[str] = []
    played_at: datetime = ctx.settings.earliest_play
    try:
        played_at = parse_timestamp(get("played_at"))
    except ValueError as error:
        problems.append(str(error).replace("bad timestamp", "bad played_at", 1))
    ms_played = checked(problems, whole_cell, get("ms_played"), "ms_played")
    seq = checked(problems, whole_cell, get("seq"), "seq")
    skipped = checked(problems, flag_cell, get("skipped"))
    event = build_event(
        user_id=get("user_id"),
        track_id=get("track_id"),
        played_at=played_at,
        ms_played=ms_played,
        track_name=get("track_name") or None,
        artist_name=get("artist_name") or None,
        source=get("source").strip() or SOURCE,
        seq=seq or 0,
        track_uri=get("track_uri") or None,
        skipped=skipped,
    )
    if isinstance(event, str):
        problems.insert(0, event)
    if problems:
        return "; ".join(problems)
    assert isinstance(event, PlayEvent)
    return event


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays and rejects of a canonical CSV, in file order."""
    index: dict[str, int] | None = None
    header, lines = first_line(stream)
    delimiter = header_delimiter(header, COLUMNS)
    for record in csv_table(lines, delimiter, ctx):
        if isinstance(record, Reject):
            yield record
            continue
        where, fields = record
        if index is None:
            names = header_names(fields)
            if set(REQUIRED) <= set(names):
                repeated = sorted({n for n in names if n and names.count(n) > 1})
                if repeated:
                    reason = f"header repeats column {', '.join(repeated)}"
                    yield ctx.reject(where, reason, delimiter.join(fields))
                    return
                index = {name: at for at, name in enumerate(names) if name in COLUMNS}
                continue
            if not 3 <= len(fields) <= len(COLUMNS):
                wanted = ",".join(REQUIRED)
                reason = f"no header naming {wanted} ({TRIED_DELIMITERS}) and {len(fields)} columns"
                yield ctx.reject(where, reason, delimiter.join(fields))
                return
            # No header: the columns are in canonical order.
            index = {name: at for at, name in enumerate(COLUMNS[: len(fields)])}
        event = _row(fields, index, ctx)
        if isinstance(event, str):
            yield ctx.reject(where, event, delimiter.join(fields))
        else:
            yield event


def _cell(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_row(event: PlayEvent) -> str:
    """One play as a canonical CSV line (with its newline)."""
    cells = (
        event.user_id,
        event.track_id,
        _iso(event.played_at),
        "" if event.ms_played is None else str(event.ms_played),
        event.track_name or "",
        event.artist_name or "",
        str(event.seq),
        event.source,
        event.track_uri or "",
        "" if event.skipped is None else str(event.skipped).lower(),
    )
    return ",".join(_cell(c) for c in cells) + "\n"


def write_csv(events: Iterable[PlayEvent], out: TextIO) -> int:
    """Write the header and one line per play to ``out``; returns the number of plays.

    Open ``out`` with ``newline=""`` so the lines keep their ``\\n``.
    """
    out.write(",".join(COLUMNS) + "\n")
    count = 0
    for event in events:
        out.write(format_row(event))
        count += 1
    return count
