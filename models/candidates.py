"""Candidate tracks for a listener, each with the reason it was picked.

Three sources: the listener's own recent and frequent tracks (from their
:class:`~models.features.ListenerState`), tracks co-listened with those
(:class:`CoListen`: item-item counts within listening sessions, bounded per item)
and trending tracks (:class:`Trending`: time-decayed play counts). A listener with no
counted play gets trending tracks, reason ``trending``. :func:`candidate_frame`
computes every candidate's features as of now, from the listener's state only, so
the scorer scores them in one ``predict_proba_many`` batch.

>>> from datetime import datetime, timedelta, UTC
>>> from models.events import PlayEvent
>>> from models.features import ListenerState, step
>>> t0 = datetime(2024, 3, 1, tzinfo=UTC)
>>> colisten, trending = CoListen(), Trending()
>>> states = {}
>>> for i, (user, track) in enumerate([("ana", "a"), ("ana", "b"), ("bo", "a"), ("bo", "c")]):
...     play = PlayEvent(user_id=user, track_id=track, played_at=t0 + timedelta(minutes=i))
...     states[user], _ = step(states.get(user) or ListenerState(user), play)
...     colisten.observe(play.user_id, play.track_id, play.ts)
...     trending.observe(play.track_id, play.ts)
>>> now = (t0 + timedelta(hours=1)).timestamp()
>>> [(c.track_id, c.reason) for c in candidates(states["ana"], colisten, trending, now)]
[('b', 'recent'), ('a', 'recent'), ('c', 'co-listened')]
>>> [(c.track_id, c.reason) for c in candidates(None, colisten, trending, now)][:2]
[('a', 'trending'), ('c', 'trending')]
>>> frame = candidate_frame(states["ana"], ["a", "c"], now)
>>> frame["pair_plays"].to_dict()
{'a': 1.0, 'c': 0.0}
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any, Literal, NamedTuple

import pandas as pd

from models.features import DAY, FEATURE_NAMES, FeatureRow, ListenerState, artist_key, features_many

Reason = Literal["recent", "frequent", "co-listened", "trending"]


class Candidate(NamedTuple):
    """A candidate track and the first reason that found it (a named tuple: a scoring
    makes ~40 of them per listener, and a frozen dataclass cost 3x as much to build)."""

    track_id: str
    reason: Reason


class CoListen:
    """Item-item co-listen counts within sessions, bounded per item.

    Each play is paired with the listener's previous ``window`` distinct tracks of the
    same session (no gap over ``session_gap_s``). Per item at most
    ``max_neighbours`` neighbours are kept: when full, the weakest half is dropped
    (counts are then lower bounds, the strong neighbours survive).

    >>> co = CoListen(window=2)
    >>> for i, t in enumerate(["a", "b", "c", "a"]):
    ...     co.observe("ana", t, 60.0 * i)
    >>> co.neighbours("a")
    [('b', 2), ('c', 2)]
    """

    def __init__(self, *, max_neighbours: int = 100, window: int = 5, session_gap_s: float = 1800.0) -> None:
        self.max_neighbours = max_neighbours
        self.window = window
        self.session_gap_s = session_gap_s
        self.counts: dict[str, dict[str, int]] = {}
        #: Rows of :attr:`counts` ranked, until the row changes (one ranking serves
        #: every listener scored with that seed in between).
        self._ranked: dict[str, list[tuple[str, int]]] = {}
        #: Per listener: the last tracks of the current session, (ts, track_id).
        self.sessions: dict[str, deque[tuple[float, str]]] = {}

    def observe(self, user_id: str, track_id: str, ts: float) -> None:
        session = self.sessions.get(user_id)
        if session is None:
            session = self.sessions[user_id] = deque(maxlen=self.window)
        if session and ts - session[-1][0] > self.session_gap_s:
            session.clear()
        again = False
        for _, other in session:
            if other != track_id:
                self._bump(track_id, other)
                self._bump(other, track_id)
            else:
                again = True
        if again:  # the track moves to the session's end
            session = self.sessions[user_id] = deque(
                [(t, x) for t, x in session if x != track_id], maxlen=self.window
            )
        session.append((ts, track_id))

    def _bump(self, a: str, b: str) -> None:
        self._ranked.pop(a, None)
        row = self.counts.get(a)
        if row is None:
            row = self.counts[a] = {}
        row[b] = row.get(b, 0) + 1
        if len(row) > self.max_neighbours:
            keep = heapq.nlargest(self.max_neighbours // 2, row.items(), key=lambda kv: kv[1])
            self.counts[a] = dict(keep)

    def neighbours(self, track_id: str, k: int = 20) -> list[tuple[str, int]]:
        """The ``k`` tracks most co-listened with ``track_id`` (ties by id)."""
        ranked = self._ranked.get(track_id)
        if ranked is None:
            row = self.counts.get(track_id, {})
            ranked = self._ranked[track_id] = _by_count(row)
        return ranked[:k]


_ID, _COUNT = itemgetter(0), itemgetter(1)


def _by_count(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """``counts`` items, highest count first, ties by id: two stable sorts keyed by
    ``itemgetter`` (C-level; 16-18 us for a 100-track row, where sorting the whole
    (id, count) tuples first took 20-27 us and a Python key function 29 us).

    >>> _by_count({"b": 2, "c": 5, "a": 2})
    [('c', 5), ('a', 2), ('b', 2)]
    """
    return sorted(sorted(counts.items(), key=_ID), key=_COUNT, reverse=True)


class Trending:
    """Time-decayed play counts per track (half-life ``half_life_s``), bounded.

    >>> tr = Trending(half_life_s=10.0)
    >>> tr.observe("a", 0.0); tr.observe("b", 10.0)
    >>> [(t, round(s, 2)) for t, s in tr.top(2, now=10.0)]
    [('b', 1.0), ('a', 0.5)]
    """

    def __init__(self, *, half_life_s: float = 7 * DAY, capacity: int = 10_000) -> None:
        self.half_life_s = half_life_s
        self.capacity = capacity
        #: track -> log2 of its decayed count at time 0 (so no value ever needs rescaling).
        self.log_score: dict[str, float] = {}
        #: (k, now) -> top list, valid until the next observe: every listener scored
        #: in one tick shares it instead of ranking the whole catalogue again.
        self._top: tuple[int, float, list[tuple[str, float]]] | None = None

    def observe(self, track_id: str, ts: float, weight: float = 1.0) -> None:
        self._top = None
        add = math.log2(weight) + ts / self.half_life_s
        old = self.log_score.get(track_id)
        if old is None:
            self.log_score[track_id] = add
        else:
            hi, lo = max(old, add), min(old, add)
            self.log_score[track_id] = hi + math.log2(1.0 + 2.0 ** (lo - hi))
        if len(self.log_score) > self.capacity + self.capacity // 8:
            keep = heapq.nlargest(self.capacity, self.log_score.items(), key=lambda kv: kv[1])
            self.log_score = dict(keep)

    def top(self, k: int, now: float) -> list[tuple[str, float]]:
        """The ``k`` hottest tracks with their decayed counts at ``now``."""
        if self._top is not None and self._top[:2] == (k, now):
            return self._top[2]
        best = heapq.nlargest(k, self.log_score.items(), key=lambda kv: (kv[1], kv[0]))
        top = [(t, 2.0 ** (s - now / self.half_life_s)) for t, s in best]
        self._top = (k, now, top)
        return top


def candidates(
    state: ListenerState | None,
    colisten: CoListen,
    trending: Trending,
    now: float,
    *,
    n_recent: int = 20,
    n_frequent: int = 20,
    n_seeds: int = 5,
    n_colisten: int = 10,
    n_trending: int = 10,
) -> list[Candidate]:
    """Candidates for one listener, each once, with the first reason that found it.

    Order of reasons: ``recent``, ``frequent``, ``co-listened`` (neighbours of the
    ``n_seeds`` most recent tracks), ``trending``. A listener without counted plays
    (``state`` is ``None`` or empty) gets trending only. The counts keep a scoring
    under a millisecond per listener (the scorer runs once per play burst).
    """
    out: dict[str, Reason] = {}
    if state is not None and state.n_plays > 0:
        recent = state.recently_played(n_recent)
        for track in recent:
            out.setdefault(track, "recent")
        for track in state.most_played(n_frequent):
            out.setdefault(track, "frequent")
        seeds = recent[:n_seeds]
        pooled: dict[str, int] = {}
        for seed in seeds:
            for other, count in colisten.neighbours(seed, n_colisten):
                pooled[other] = pooled.get(other, 0) + count
        for other, _ in _by_count(pooled)[:n_colisten]:
            out.setdefault(other, "co-listened")
        for track, _ in trending.top(n_trending, now):
            out.setdefault(track, "trending")
    else:
        for track, _ in trending.top(n_trending, now):
            out.setdefault(track, "trending")
    return list(map(Candidate._make, out.items()))


class CandidateSource:
    """Co-listen and trending counts fed by every play, and candidates built from them.

    What the scorer holds: :meth:`observe` each play, then :meth:`for_listener` and
    :meth:`features` for the listeners due for scoring.

    >>> from datetime import datetime, UTC
    >>> from models.events import PlayEvent
    >>> source = CandidateSource()
    >>> source.observe(PlayEvent(user_id="bo", track_id="x",
    ...                          played_at=datetime(2024, 1, 1, tzinfo=UTC)))
    >>> cands, cold = source.for_listener(None, now=1704067200.0)
    >>> [(c.track_id, c.reason) for c in cands], cold
    ([('x', 'trending')], True)
    """

    def __init__(self, colisten: CoListen | None = None, trending: Trending | None = None) -> None:
        self.colisten = colisten or CoListen()
        self.trending = trending or Trending()
        #: track id -> :func:`~models.features.artist_key` of its artist, where plays
        #: named one (for artist features; folded once here, not per scoring).
        self.artists: dict[str, str] = {}

    def observe(self, play: Any) -> None:
        """Count one counted play (a :class:`~models.events.PlayEvent`)."""
        ts = play.ts
        self.colisten.observe(play.user_id, play.track_id, ts)
        self.trending.observe(play.track_id, ts)
        artist = artist_key(play.artist_name)
        if artist is not None:
            self.artists[play.track_id] = artist

    def for_listener(self, state: ListenerState | None, now: float) -> tuple[list[Candidate], bool]:
        """(candidates, cold start?) for one listener as of ``now``."""
        cold = state is None or state.n_plays == 0
        return candidates(state, self.colisten, self.trending, now), cold

    def features(
        self, state: ListenerState | None, cands: Iterable[Candidate], now: float
    ) -> list[FeatureRow]:
        """Features as of ``now`` of each candidate, in order (rows for one batch)."""
        base = state if state is not None else ListenerState("")
        artists = self.artists
        return features_many(base, [(c.track_id, artists.get(c.track_id)) for c in cands], now)


def candidate_frame(
    state: ListenerState | None,
    tracks: Iterable[str],
    now: float,
    artists: Mapping[str, str] | None = None,
    user_id: str = "",
) -> pd.DataFrame:
    """Features of (listener, track) as of ``now`` for each track: one row per track,
    indexed by track id, columns :data:`~models.features.FEATURE_NAMES`.

    ``artists`` maps track ids to artist names where known.
    """
    base = state if state is not None else ListenerState(user_id)
    tracks = list(tracks)
    keyed = [(track, artist_key(artists.get(track)) if artists is not None else None) for track in tracks]
    rows = features_many(base, keyed, now)
    return pd.DataFrame(rows, index=pd.Index(tracks, name="track_id"), columns=list(FEATURE_NAMES))
