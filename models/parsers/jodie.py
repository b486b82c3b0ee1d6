"""The JODIE interaction files: user, item, seconds since the dataset's start.

The bundled ``lastfm.tsv.gz`` is tab-separated with no header. The JODIE paper's own
CSVs (``user_id,item_id,timestamp,state_label,features...``) are read too, taking
the first three columns. The offset becomes an absolute time from
``ModelSettings.jodie_origin``. No durations and no names: every row is a counted play.

>>> import io
>>> from pathlib import Path
>>> from models.parsers.context import ParseContext
>>> rows = io.StringIO("0\\t0\\t0\\n1\\t1\\t54.5\\n2\\t3\\tsoon\\n")
>>> for outcome in parse(rows, ParseContext(Path("lastfm.tsv"))):
...     print(outcome if isinstance(outcome, Reject) else (outcome.user_id, outcome.played_at.isoformat()))
('0', '2009-01-01T00:00:00+00:00')
('1', '2009-01-01T00:00:54.500000+00:00')
lastfm.tsv line 3: seconds 'soon' is not a number
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.records import build_event
from models.parsers.report import Reject, Skip

FORMAT = "jodie"
SOURCE = "jodie"
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_CSV_HEADER = ("user_id", "item_id", "timestamp")


def _split(text: str, comma: bool) -> list[str]:
    return text.split(",") if comma else text.split("\t")


def looks_like(lines: list[str]) -> bool:
    """True for the JODIE CSV header, or when most lines are ``id<TAB>id<TAB>number``."""
    rows = [line.rstrip("\r\n") for line in lines if line.strip()]
    if not rows:
        return False
    if tuple(c.strip().casefold() for c in rows[0].split(",")[:3]) == _CSV_HEADER:
        return True
    good = sum(1 for row in rows if len(cols := row.split("\t")) == 3 and _NUMBER.fullmatch(cols[2]))
    return good * 2 > len(rows)


def parse(stream: TextIO, ctx: ParseContext) -> Iterator[PlayEvent | Skip | Reject]:
    """Plays and rejects of a JODIE file, in file order."""
    origin = ctx.settings.jodie_origin
    comma = False
    for number, line in enumerate(stream, 1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        if number == 1 and tuple(c.strip().casefold() for c in text.split(",")[:3]) == _CSV_HEADER:
            comma = True
            continue
        row = _split(text, comma)
        if len(row) != 3 and not (comma and len(row) > 3):
            reason = f"expected 3 columns (user, item, seconds), got {len(row)}"
            yield ctx.reject(ctx.where(number), reason, text)
            continue
        user, item, offset = row[:3]
        where = ctx.where(number)
        shown = offset.strip()[:40]
        try:
            # The pattern first: float() also takes "nan", "1_000" and "infinity";
            # float() then: the pattern's \s also matches separators float() refuses.
            seconds = float(offset) if _NUMBER.fullmatch(offset) else math.nan
        except ValueError:
            seconds = math.nan
        if math.isnan(seconds):
            yield ctx.reject(where, f"seconds {offset.strip(' ')[:40]!r} is not a number", text)
            continue
        if not math.isfinite(seconds) or seconds < 0:
            yield ctx.reject(where, f"seconds {shown} is not a time after the origin", text)
            continue
        try:
            played_at = origin + timedelta(seconds=seconds)
        except OverflowError:
            yield ctx.reject(where, f"seconds {shown} is too far from the origin", text)
            continue
        event = build_event(user_id=user, track_id=item, played_at=played_at, source=SOURCE)
        if isinstance(event, str):
            yield ctx.reject(where, event, text)
        else:
            yield event
