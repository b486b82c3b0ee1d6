"""A compact log of plays: millions held in tens of bytes each, replayed in event-time order.

A parsed :class:`~models.events.PlayEvent` costs about 1.1 KB (a pydantic object and
its strings), so the Last.fm 1K dataset's 19M plays would need ~21 GB before a single
feature is computed. A :class:`PlayLog` keeps each play as a row of numbers: times in
whole microseconds (exact, so event ids come out the same), names and ids as codes of
strings stored once per distinct value. It gives the plays back as ``PlayEvent`` one at
a time, in file order or in :func:`~models.events.event_time_order`.

>>> from datetime import datetime, timedelta, UTC
>>> from models.events import PlayEvent, event_time_order
>>> t0 = datetime(2024, 3, 1, 20, 0, 0, 123456, tzinfo=UTC)
>>> plays = [PlayEvent(user_id="ana", track_id="a", played_at=t0 + timedelta(minutes=m), ms_played=ms)
...          for m, ms in ((5, 200_000), (0, 0), (0, 180_000))]
>>> log = PlayLog()
>>> log.extend(plays)
>>> len(log), log[0] == plays[0]
(3, True)
>>> [p.ms_played for p in log.in_event_time_order()] == [p.ms_played for p in event_time_order(plays)]
True
>>> [p.event_id for p in log] == [p.event_id for p in plays]
True
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from models.events import PlayEvent, event_time_order
from models.parsers import ParseReport, iter_paths
from models.settings import ModelSettings

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: Plays read between two calls of :meth:`PlayLog.read`'s ``progress``.
PROGRESS_EVERY = 50_000
#: Columns coded as strings (``None`` is code 0).
_TEXT = ("user_id", "track_id", "track_name", "artist_name", "source", "track_uri")


_FIELDS = frozenset(PlayEvent.model_fields)


def _rebuilt(fields: dict[str, object]) -> PlayEvent:
    """A ``PlayEvent`` of values that were validated when the play was first built.

    What ``PlayEvent.model_construct`` does, without its per-field defaults pass: 1 us
    instead of 4 us a play (5 s instead of 20 s over 5M plays).
    """
    play = object.__new__(PlayEvent)
    object.__setattr__(play, "__dict__", fields)
    object.__setattr__(play, "__pydantic_fields_set__", set(_FIELDS))
    object.__setattr__(play, "__pydantic_extra__", None)
    object.__setattr__(play, "__pydantic_private__", None)
    return play


class PlayLog:
    """Plays as columns of numbers; strings stored once each (see the module)."""

    def __init__(self) -> None:
        self._code: dict[str | None, int] = {None: 0}
        self._text: list[str | None] = [None]
        self._columns: dict[str, array[int]] = {name: array("i") for name in _TEXT}
        self._us = array("q")  # played_at, microseconds since the epoch
        self._ms = array("q")  # ms_played, -1 when unknown
        self._seq = array("i")
        self._skipped = array("b")  # 1, 0, or -1 when unknown

    def __len__(self) -> int:
        return len(self._us)

    def _coded(self, text: str | None) -> int:
        code = self._code.get(text)
        if code is None:
            code = self._code[text] = len(self._text)
            self._text.append(text)
        return code

    def append(self, play: PlayEvent) -> None:
        for name in _TEXT:
            self._columns[name].append(self._coded(getattr(play, name)))
        self._us.append((play.played_at - _EPOCH) // _MICROSECOND)
        self._ms.append(-1 if play.ms_played is None else play.ms_played)
        self._seq.append(play.seq)
        self._skipped.append(-1 if play.skipped is None else int(play.skipped))

    def extend(self, plays: Iterable[PlayEvent]) -> None:
        for play in plays:
            self.append(play)

    @classmethod
    def read(
        cls,
        paths: Iterable[str | Path],
        *,
        report: ParseReport,
        format: str | None = None,
        user: str | None = None,
        settings: ModelSettings | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> PlayLog:
        """The plays of files, folders or archives in any parsed format; counts, skips
        and rejects go to ``report`` (see :func:`models.parsers.iter_paths`, which
        raises ``UnusableInput`` first for paths it cannot use). ``progress(n)`` is
        called every :data:`PROGRESS_EVERY` plays."""
        log = cls()
        for play in iter_paths(paths, format, user, report=report, settings=settings):
            log.append(play)
            if progress is not None and len(log) % PROGRESS_EVERY == 0:
                progress(len(log))
        return log

    def __getitem__(self, i: int) -> PlayEvent:
        text, columns = self._text, self._columns
        ms, skipped = self._ms[i], self._skipped[i]
        return _rebuilt(
            {
                "user_id": text[columns["user_id"][i]],
                "track_id": text[columns["track_id"][i]],
                "played_at": _EPOCH + self._us[i] * _MICROSECOND,
                "ms_played": None if ms < 0 else ms,
                "track_name": text[columns["track_name"][i]],
                "artist_name": text[columns["artist_name"][i]],
                "source": text[columns["source"][i]],
                "seq": self._seq[i],
                "track_uri": text[columns["track_uri"][i]],
                "skipped": None if skipped < 0 else bool(skipped),
            }
        )

    def __iter__(self) -> Iterator[PlayEvent]:
        return (self[i] for i in range(len(self)))

    def in_event_time_order(self) -> Iterator[PlayEvent]:
        """The plays as :func:`~models.events.event_time_order` sorts them: by time,
        the longest first among plays at the same instant, else in log order."""
        if not len(self):
            return iter(())
        us = np.frombuffer(self._us, dtype=np.int64)
        longest_first = -np.maximum(np.frombuffer(self._ms, dtype=np.int64), 0)
        order = np.lexsort((longest_first, us))  # stable: ties keep log order
        return (self[i] for i in order.tolist())


def in_event_time_order(plays: Iterable[PlayEvent] | PlayLog) -> Iterator[PlayEvent]:
    """``plays`` one at a time as :func:`~models.events.event_time_order` sorts them; a
    :class:`PlayLog` sorts its columns and rebuilds each play as it goes."""
    return plays.in_event_time_order() if isinstance(plays, PlayLog) else iter(event_time_order(plays))
