"""The canonical CSV: the project's own play format, read and written.

Header ``user_id,track_id,played_at,ms_played,track_name,artist_name``; the last three
columns are optional. ``played_at`` is ISO-8601, a naive time is UTC. Four more
optional columns keep what other sources know, so an export written by
``encore import`` reads back as exactly the same plays: ``seq`` (n-th identical play
in the same minute), ``source``, ``track_uri`` and ``skipped``. Columns are found by
their header name, in any order; unknown columns are ignored.

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
import re
from collections.abc import Iterable, Iterator
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

#: A quoted field may span lines; past this many the quote is taken as never closed.
MAX_RECORD_LINES = 1000
_WHOLE = re.compile(r"\s*\+?(\d{1,18})(?:\.0*)?\s*")
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})


def header_names(fields: list[str]) -> list[str]:
    return [name.strip().lstrip("\ufeff").casefold() for name in fields]


def has_header(lines: Iterable[str], required: Iterable[str]) -> bool:
    """True when the first non-blank line is a CSV header naming every ``required`` column."""
    for line in lines:
        if line.strip():
            try:
                names = header_names(next(csv.reader([line])))
            except (csv.Error, StopIteration):
                return False
            return set(required) <= set(names)
    return False


def looks_like(lines: list[str]) -> bool:
    """True when the first non-blank line is a header naming the required columns."""
    return has_header(lines, REQUIRED)


def csv_records(stream: TextIO) -> Iterator[tuple[int, list[str] | str]]:
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
                fields = next(csv.reader([record], strict=True))
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
    width = 0
    for number, fields in csv_records(stream):
        where = ctx.where(number)
        if isinstance(fields, str):
            yield ctx.reject(where, fields)
            continue
        if index is None:
            names = header_names(fields)
            if set(REQUIRED) <= set(names):
                repeated = sorted({n for n in names if n and names.count(n) > 1})
                if repeated:
                    yield ctx.reject(where, f"header repeats column {', '.join(repeated)}", ",".join(fields))
                    return
                index = {name: at for at, name in enumerate(names) if name in COLUMNS}
                width = len(fields)
                continue
            if not 3 <= len(fields) <= len(COLUMNS):
                reason = f"no header naming {','.join(REQUIRED)} and {len(fields)} columns"
                yield ctx.reject(where, reason, ",".join(fields))
                return
            # No header: the columns are in canonical order.
            index = {name: at for at, name in enumerate(COLUMNS[: len(fields)])}
            width = len(fields)
        if len(fields) != width:
            yield ctx.reject(where, f"expected {width} columns, got {len(fields)}", ",".join(fields))
            continue
        event = _row(fields, index, ctx)
        if isinstance(event, str):
            yield ctx.reject(where, event, ",".join(fields))
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
