"""Reading the records of a big JSON array one at a time, without loading the file.

Spotify exports are JSON arrays of flat objects, pretty-printed or on one line. This
reader decodes one element at a time from a text stream, so memory stays bounded by
the largest record, and tells each record's number and starting line. A broken
record is reported with its place and the reader resumes at the next record, so one
bad record loses nothing else. A stream of objects without the enclosing ``[ ]``
(JSON Lines, as ListenBrainz exports) is read the same way; there the next record is
the next line that starts with ``{``, so nested objects cannot be mistaken for one.

>>> import io
>>> text = '[\\n {"a": 1},\\n {"a": 2, },\\n {"a": 3}\\n]'
>>> for record in iter_json_records(io.StringIO(text)):
...     print(record.number, record.line, record.value, record.error)
1 2 {'a': 1} None
2 3 None invalid JSON (Expecting property name enclosed in double quotes) at line 3
3 4 {'a': 3} None
>>> [r.value for r in iter_json_records(io.StringIO('{"a": 1}\\n{"a": 2}\\n'))]
[{'a': 1}, {'a': 2}]
>>> lines = '{"a": {"b": 1}}\\n{"a": {"b": \\n{"a": {"b": 3}, "c": [{"d": 4}, {"e": 5}]}\\n'
>>> [(r.value, r.error is not None) for r in iter_json_records(io.StringIO(lines))]
[({'a': {'b': 1}}, False), (None, True), ({'a': {'b': 3}, 'c': [{'d': 4}, {'e': 5}]}, False)]
>>> list(iter_json_records(io.StringIO("user_id,track_id")))
Traceback (most recent call last):
...
models.parsers.json_stream.NotJson: does not start with [ or {
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from models.events import PlayEvent
from models.parsers.context import ParseContext
from models.parsers.report import RAW_PREFIX, Reject, Skip

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# The end of one flat object and the start of the next: where to resume after an error.
_RESYNC = re.compile(r"\}[ \t\n\r]*,?[ \t\n\r]*(?=\{)")
# In a stream of objects (JSON Lines, or pretty-printed objects one after another) a
# record starts at a "{" in the first column; nested objects are indented or inline.
_LINE_RESYNC = re.compile(r"\n(?=\{)")
_DECODER = json.JSONDecoder()


class NotJson(ValueError):
    """The stream does not hold a JSON array or a sequence of JSON objects."""


@dataclass(frozen=True, slots=True)
class JsonRecord:
    """One element: its 1-based number, the line it starts on, its value or its error."""

    number: int
    line: int
    value: object
    raw: str
    error: str | None = None


class _Reader:
    def __init__(self, stream: TextIO, chunk_size: int, max_record: int) -> None:
        self.stream = stream
        self.chunk_size = chunk_size
        self.max_record = max_record
        self.buf = ""
        self.pos = 0
        #: Line number at ``pos``.
        self.line = 1
        self.eof = False

    def fill(self) -> bool:
        """Read one more chunk; False at end of stream."""
        if self.eof:
            return False
        data = self.stream.read(self.chunk_size)
        if not data:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def skip_whitespace(self) -> None:
        while True:
            match = _WHITESPACE.match(self.buf, self.pos)
            assert match is not None
            self.advance(match.end())
            if self.pos < len(self.buf) or not self.fill():
                return

    def at_end(self) -> bool:
        self.skip_whitespace()
        return self.pos >= len(self.buf)

    def peek(self) -> str:
        return self.buf[self.pos]

    def decode(self) -> tuple[object, int] | str:
        """Decode the value at ``pos``: (value, end) or an error message."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except RecursionError:
                return "invalid JSON (nested too deeply)"
            except ValueError as error:
                if len(self.buf) - self.pos < self.max_record and self.fill():
                    continue
                if isinstance(error, json.JSONDecodeError):
                    where = self.line + self.buf.count("\n", self.pos, error.pos)
                    return f"invalid JSON ({error.msg}) at line {where}"
                return f"invalid JSON ({error})"
            if end >= len(self.buf) and self.fill():
                continue  # a number may go on in the next chunk
            return value, end

    def resync(self, pattern: re.Pattern[str] = _RESYNC) -> bool:
        """Move past a broken record to the start of the next object; False if none."""
        while True:
            match = pattern.search(self.buf, self.pos + 1)
            if match is not None:
                self.advance(match.end())
                return True
            keep = max(self.pos, len(self.buf) - 1024)
            self.advance(keep)
            if not self.fill():
                self.advance(len(self.buf))
                return False


def iter_json_records(
    stream: TextIO, *, chunk_size: int = 1 << 16, max_record: int = 1 << 22
) -> Iterator[JsonRecord]:
    """Yield every element of the JSON array (or object sequence) in ``stream``.

    Raises ``NotJson`` (before yielding anything) when the text starts with anything
    but ``[`` or ``{``. An empty stream yields nothing. Arrays one after another (two
    exports joined with ``cat``) are read as one. Structural problems (a missing
    ``]``, other text after it) come out as records with an ``error``.

    >>> import io
    >>> joined = '[{"a": 1}]\\n[{"a": 2},\\n {"a": 3}]\\n'
    >>> [(r.number, r.line, r.value) for r in iter_json_records(io.StringIO(joined))]
    [(1, 1, {'a': 1}), (2, 2, {'a': 2}), (3, 3, {'a': 3})]
    """
    reader = _Reader(stream, chunk_size, max_record)
    if reader.at_end():
        return
    first = reader.peek()
    if first not in "[{":
        raise NotJson("does not start with [ or {")
    in_array = first == "["
    if in_array:
        reader.advance(reader.pos + 1)
    number = 0
    need_comma = False
    while True:
        if reader.at_end():
            if in_array:
                yield JsonRecord(number + 1, reader.line, None, "", "file ends before the closing ]")
            return
        if in_array and reader.peek() == "]":
            reader.advance(reader.pos + 1)
            if reader.at_end():
                return
            if reader.peek() == "[":  # arrays one after another (files joined by cat)
                reader.advance(reader.pos + 1)
                need_comma = False
                continue
            raw = reader.buf[reader.pos : reader.pos + RAW_PREFIX]
            yield JsonRecord(number + 1, reader.line, None, raw, "unexpected text after the closing ]")
            return
        start_line = reader.line
        error: str | None = None
        if reader.peek() == "," and (need_comma or not in_array):
            reader.advance(reader.pos + 1)
            need_comma = False
            if reader.at_end() or reader.peek() == "]":
                continue  # tolerate a trailing comma
            start_line = reader.line
        elif need_comma:
            error = f"expected ',' between records at line {reader.line}"
        number += 1
        if error is None:
            decoded = reader.decode()
            if isinstance(decoded, tuple):
                value, end = decoded
                raw = reader.buf[reader.pos : min(end, reader.pos + RAW_PREFIX)]
                reader.advance(end)
                need_comma = in_array
                yield JsonRecord(number, start_line, value, raw)
                continue
            error = decoded
        raw = reader.buf[reader.pos : reader.pos + RAW_PREFIX]
        resumed = reader.resync(_RESYNC if in_array else _LINE_RESYNC)
        need_comma = False
        yield JsonRecord(number, start_line, None, raw, error)
        if not resumed:
            return


def iter_objects(stream: TextIO, ctx: ParseContext) -> Iterator[tuple[str, str, dict[str, Any]] | Reject]:
    """(location, raw text, object) for each JSON object in ``stream``, or a ``Reject``.

    A file that is not JSON at all gives a single reject at record 1.
    """
    try:
        for record in iter_json_records(stream):
            where = ctx.where(record.number, line=record.line)
            if record.error is not None:
                yield ctx.reject(where, record.error, record.raw)
            elif not isinstance(record.value, dict):
                yield ctx.reject(where, "record is not a JSON object", record.raw)
            else:
                yield where, record.raw, record.value
    except NotJson as error:
        yield ctx.reject(ctx.where(1, line=1), f"not JSON: {error}")


def each_record(
    stream: TextIO, ctx: ParseContext, play: Callable[[dict[str, Any]], PlayEvent | Skip | str]
) -> Iterator[PlayEvent | Skip | Reject]:
    """``play`` of each JSON object in ``stream``, in file order; an outcome that is a
    string is the reason that record is rejected (:func:`iter_objects` rejects the
    records that are no objects)."""
    return each_record_or_page(stream, ctx, lambda record, _: play(record), lambda _: None)


#: What a record that holds records of its own (a page of an API's answer) holds: what
#: one of them is called, them, and the listener the page names (``None``: none).
Page = tuple[str, list[Any], str | None]


def each_record_or_page(
    stream: TextIO,
    ctx: ParseContext,
    play: Callable[[dict[str, Any], str | None], PlayEvent | Skip | str],
    page: Callable[[dict[str, Any]], Page | str | None],
) -> Iterator[PlayEvent | Skip | Reject]:
    """:func:`each_record` for files of records or of pages of them (API answers).

    ``page(record)`` is ``None`` for a record of its own, which is ``play(record,
    None)``'d; else the :data:`Page` it is, each of whose records is ``play(item,
    page's listener)``'d and placed within it, or the reason it is an unusable page.

    >>> import io
    >>> from pathlib import Path
    >>> text = '{"n": 1}\\n{"page": {"of": "bo", "items": [{"n": 2}, 3]}}\\n{"page": 7}\\n'
    >>> def page(r):
    ...     p = r.get("page")
    ...     return None if p is None else ("item", p["items"], p["of"]) if isinstance(p, dict) else "bad page"
    >>> for out in each_record_or_page(io.StringIO(text), ParseContext(Path("a.json")),
    ...                                lambda r, who: f"{r['n']} of {who}", page):
    ...     print(out.location, "|", out.reason)
    record 1 (line 1) | 1 of None
    record 2 (line 2), item 1 | 2 of bo
    record 2 (line 2), item 2 | item is not a JSON object
    record 3 (line 3) | bad page
    """
    for item in iter_objects(stream, ctx):
        if isinstance(item, Reject):
            yield item
            continue
        where, raw, record = item
        found = page(record)
        if found is None:
            outcome = play(record, None)
            yield ctx.reject(where, outcome, raw) if isinstance(outcome, str) else outcome
            continue
        if isinstance(found, str):
            yield ctx.reject(where, found, raw)
            continue
        noun, entries, user = found
        for k, entry in enumerate(entries, 1):
            place = f"{where}, {noun} {k}"
            outcome = play(entry, user) if isinstance(entry, dict) else f"{noun} is not a JSON object"
            yield ctx.reject(place, outcome, str(entry)) if isinstance(outcome, str) else outcome
