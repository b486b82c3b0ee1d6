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

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.records import build_event, checked, parse_timestamp
from models.parsers.report import Reject, Skip
from models.parsers.tables import (
    DELIMITERS,
    TRIED_DELIMITERS,
    csv_table,
    first_line,
    flag_cell,
    has_header,
    header_delimiter,
    header_names,
    whole_cell,
)

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


def looks_like(lines: list[str]) -> bool:
    """True when the first non-blank line is a header naming the required columns
    (separated by any of :data:`DELIMITERS`)."""
    return has_header(lines, REQUIRED, DELIMITERS)


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
