"""The label rule: will the listener play this track again within the horizon?

A counted play ``p`` of track ``x`` at event time ``t`` is **positive** if the same
listener plays ``x`` again in ``(t, t + horizon]``, **negative** otherwise. A positive
resolves as soon as the replay arrives; a negative when the event-time watermark
(highest event time seen minus the allowed lateness) passes ``t + horizon``. A play
older than the watermark when it arrives is *late*: it is counted, it may still
resolve earlier plays as positive (their labels were not emitted yet), but it never
becomes an example itself and never revises a label already emitted. Features are
frozen at play time by :mod:`models.features` and carried along untouched.

State is kept per listener (:class:`LabelState`); :class:`Labeller` holds the states
of many listeners (a plain dict, or a Faust table) plus a deadline index.

>>> from datetime import datetime, timedelta, UTC
>>> from models.events import PlayEvent
>>> from models.settings import ModelSettings
>>> t0 = datetime(2024, 3, 1, tzinfo=UTC)
>>> def play(track, days):
...     return PlayEvent(user_id="ana", track_id=track, played_at=t0 + timedelta(days=days))
>>> labeller = Labeller(ModelSettings(horizon_days=30, allowed_lateness_s=0))
>>> labeller.observe(play("a", 0), {"f": 1.0})
[]
>>> labeller.observe(play("b", 1), {"f": 2.0})
[]
>>> [(e.track_id, e.label) for e in labeller.observe(play("a", 30), {"f": 3.0})]
[('a', True)]
>>> [(e.track_id, e.label) for e in labeller.observe(play("c", 31.5), {"f": 4.0})]
[('b', False)]
>>> labeller.pending_count()
2
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from models.events import PlayEvent
from models.features import DAY, FEATURE_NAMES, FeatureRow, Features, named
from models.settings import ModelSettings

#: Signature of :data:`~models.features.FEATURE_NAMES` where features travel as bare
#: value lists in that order (serialised examples and label states).
FEATURE_SET = zlib.crc32(",".join(FEATURE_NAMES).encode())


#: A pending play's frozen features: their values in :data:`FEATURE_NAMES` order (a
#: :data:`~models.features.FeatureRow`, what :mod:`models.features` makes), or a dict
#: of other names.
Frozen = FeatureRow | Features
Pending = tuple[float, str, Frozen]


def freeze(features: FeatureRow | Features) -> Frozen:
    """Features as a pending play keeps them and an example carries them on the wire:
    a row as it is, a dict of exactly :data:`FEATURE_NAMES` as its values in order.

    >>> freeze({"pair_plays": 2.0})
    {'pair_plays': 2.0}
    """
    if isinstance(features, tuple):
        return features
    return tuple(features.values()) if tuple(features) == FEATURE_NAMES else features


def thaw(frozen: Frozen | Sequence[float]) -> Features:
    """The features dict of :func:`freeze`'s result (or of the same values in any
    sequence, such as the learner's float arrays)."""
    return frozen if isinstance(frozen, dict) else named(frozen)


@dataclass(frozen=True, slots=True)
class Example:
    """A play with its frozen features and its resolved label.

    The features stay as they were frozen at play time (:func:`freeze`: the values of
    :data:`FEATURE_NAMES` in order) from the labeller through the `examples` topic into
    the learner; :attr:`features` is the dict, for a reader who wants names.

    >>> ex = Example("ana", "a", "e1", 0.0, {"pair_plays": 2.0}, True, 1.0)
    >>> ex.features["pair_plays"]
    2.0
    """

    user_id: str
    track_id: str
    event_id: str
    #: Event time of the play (POSIX seconds).
    ts: float
    #: Features as :func:`freeze` keeps them (a dict too is accepted).
    values: Frozen
    label: bool
    #: Event time at which the label became known (the replay, or the watermark).
    resolved_at: float

    def __post_init__(self) -> None:
        if isinstance(self.values, dict):  # one form per feature set: equal examples compare equal
            object.__setattr__(self, "values", freeze(self.values))

    @property
    def features(self) -> Features:
        return thaw(self.values)

    def to_dict(self) -> dict[str, Any]:
        """JSON primitives; features with the names of FEATURE_NAMES as a bare value
        list under their signature ``fs``, any others as a dict."""
        frozen = self.values
        values = isinstance(frozen, tuple)
        return {
            "user_id": self.user_id,
            "track_id": self.track_id,
            "event_id": self.event_id,
            "ts": self.ts,
            "features": frozen,
            "fs": FEATURE_SET if values else None,
            "label": self.label,
            "resolved_at": self.resolved_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Example:
        x = data["features"]
        if isinstance(x, list):
            if data.get("fs") != FEATURE_SET or len(x) != len(FEATURE_NAMES):
                raise ValueError(
                    f"example {data.get('event_id')!r} carries features of another feature set "
                    f"(signature {data.get('fs')}, this code has {FEATURE_SET})"
                )
            values: Frozen = tuple(x)
        else:
            values = {k: float(v) for k, v in x.items()}
        return cls(
            user_id=data["user_id"],
            track_id=data["track_id"],
            event_id=data["event_id"],
            ts=float(data["ts"]),
            values=values,
            label=bool(data["label"]),
            resolved_at=float(data["resolved_at"]),
        )


#: A play waiting for its label: (ts, event_id, features).


class LabelState:
    """Label state of one listener: plays awaiting a label, and recent play times."""

    __slots__ = ("latest", "pending", "user_id")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        #: track_id -> plays of that track awaiting their label, oldest first.
        self.pending: dict[str, list[Pending]] = {}
        #: track_id -> latest counted play time, kept while not older than the
        #: watermark (a play arriving out of order is positive if the track was
        #: already played after it).
        self.latest: dict[str, float] = {}

    def to_dict(self) -> dict[str, Any]:
        """JSON primitives (tuples for arrays). Pending features with the names of
        :data:`~models.features.FEATURE_NAMES` are bare value arrays, under the
        signature of those names (the pending plays are most of a listener's state)."""
        return {
            "v": 2,
            "fs": FEATURE_SET,
            "user_id": self.user_id,
            "pending": self.pending,  # (ts, event_id, values) tuples: JSON arrays as they are
            "latest": self.latest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelState:
        version = data.get("v")
        if version not in (1, 2):
            raise ValueError(f"unknown LabelState version {version!r}")
        if version == 2 and data["fs"] != FEATURE_SET:
            raise ValueError(
                f"LabelState of {data['user_id']!r} was written for another feature set "
                f"(signature {data['fs']}, this code has {FEATURE_SET}): its pending plays cannot be read"
            )

        def frozen(x: list[float] | tuple[float, ...] | dict[str, float]) -> Frozen:
            if isinstance(x, dict):  # v1, or features with other names
                return freeze({f: float(v) for f, v in x.items()})
            if len(x) != len(FEATURE_NAMES):
                raise ValueError(f"LabelState of {data['user_id']!r}: {len(x)} feature values")
            return tuple(map(float, x))

        s = cls(data["user_id"])
        s.pending = {
            k: [(float(p[0]), str(p[1]), frozen(p[2])) for p in v] for k, v in data["pending"].items()
        }
        s.latest = {k: float(v) for k, v in data["latest"].items()}
        return s

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelState) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


class Labeller:
    """Event-time labels for the plays of many listeners.

    Feed it every counted, de-duplicated play in arrival order with :meth:`observe`
    (``features=None`` for a play that must not become an example); it returns the
    examples whose labels resolved. :meth:`advance` moves the watermark from outside
    (the end of a file, or the slowest partition).

    Parameters
    ----------
    settings
        ``horizon_days`` and ``allowed_lateness_s`` of the rule.
    states
        Where the per-listener :class:`LabelState` live (a dict by default; a Faust
        table works). The deadline index is rebuilt from them.
    max_event_time
        Highest event time already seen, when resuming (it sets the watermark).
    """

    def __init__(
        self,
        settings: ModelSettings | None = None,
        states: MutableMapping[str, LabelState] | None = None,
        max_event_time: float | None = None,
    ) -> None:
        cfg = settings or ModelSettings()
        self.horizon_s = cfg.horizon_days * DAY
        self.lateness_s = float(cfg.allowed_lateness_s)
        self.states: MutableMapping[str, LabelState] = {} if states is None else states
        #: Highest event time observed, and the watermark it implies.
        self.max_event_time = -math.inf if max_event_time is None else max_event_time
        self.watermark = self.max_event_time - self.lateness_s
        #: Plays older than the watermark when they arrived.
        self.n_late = 0
        self.n_positive = 0
        self.n_negative = 0
        self._deadlines: list[tuple[float, str, str, str]] = [
            deadline for state in self.states.values() for deadline in self._deadlines_of(state)
        ]
        heapq.heapify(self._deadlines)

    def _deadlines_of(self, state: LabelState) -> list[tuple[float, str, str, str]]:
        return [
            (ts + self.horizon_s, state.user_id, track, event_id)
            for track, plays in state.pending.items()
            for ts, event_id, _ in plays
        ]

    def index(self, user_id: str) -> None:
        """Put a listener's pending plays, loaded into ``states`` after construction,
        on the deadline index, so their negatives resolve with the watermark."""
        state = self.states.get(user_id)
        if state is not None:
            for deadline in self._deadlines_of(state):
                heapq.heappush(self._deadlines, deadline)

    def state_of(self, user_id: str) -> LabelState:
        state = self.states.get(user_id)
        if state is None:
            state = self.states[user_id] = LabelState(user_id)
        return state

    def observe(self, play: PlayEvent, features: Frozen | None) -> list[Example]:
        """Take one counted play; return the examples resolved by it.

        A replay resolves earlier plays of the track as positive; the watermark moves
        and may resolve older plays as negative. The play itself waits for its own
        label, unless it is late or ``features`` is ``None``.
        """
        return self.observe_at(play.user_id, play.track_id, play.event_id, play.ts, features)

    def observe_at(
        self, user_id: str, track_id: str, event_id: str, ts: float, features: Frozen | None
    ) -> list[Example]:
        """:meth:`observe` on the play's fields (for callers without a PlayEvent)."""
        state = self.state_of(user_id)
        resolved: list[Example] = []
        horizon = self.horizon_s
        waiting = state.pending.get(track_id)
        if waiting:
            keep: list[Pending] = []
            for p_ts, p_id, p_feat in waiting:
                if p_ts < ts <= p_ts + horizon:
                    resolved.append(Example(user_id, track_id, p_id, p_ts, p_feat, True, ts))
                else:
                    keep.append((p_ts, p_id, p_feat))
            if keep:
                state.pending[track_id] = keep
            else:
                del state.pending[track_id]
        self.n_positive += len(resolved)

        late = ts < self.watermark
        if late:
            self.n_late += 1
        elif features is not None:
            later = state.latest.get(track_id, -math.inf)
            if later > ts:
                # Arrived out of order after a replay of it (within the lateness, so
                # within the horizon): positive at once.
                resolved.append(Example(user_id, track_id, event_id, ts, features, True, later))
                self.n_positive += 1
            else:
                state.pending.setdefault(track_id, []).append((ts, event_id, freeze(features)))
                heapq.heappush(self._deadlines, (ts + horizon, user_id, track_id, event_id))
        if ts > state.latest.get(track_id, -math.inf):
            state.latest[track_id] = ts
        if len(state.latest) > 64 and len(state.latest) % 64 == 0:
            state.latest = {k: v for k, v in state.latest.items() if v >= self.watermark}
        self.states[user_id] = state

        if ts > self.max_event_time:
            self.max_event_time = ts
            resolved.extend(self.advance(ts - self.lateness_s))
        return resolved

    def advance_to_event(self, ts: float) -> list[Example]:
        """An event at ``ts`` that is no play for the rule (a short play) was seen:
        move the watermark with it; return the negatives due."""
        if ts <= self.max_event_time:
            return []
        self.max_event_time = ts
        return self.advance(ts - self.lateness_s)

    def advance(self, watermark: float) -> list[Example]:
        """Move the watermark to ``watermark`` (never back); return the negatives due.

        A play at ``t`` resolves negative once the watermark is past ``t + horizon``
        (strictly: a replay at exactly ``t + horizon`` may still arrive on time).
        """
        if watermark <= self.watermark:
            return []
        self.watermark = watermark
        resolved: list[Example] = []
        heap = self._deadlines
        while heap and heap[0][0] < watermark:
            _deadline, user_id, track_id, event_id = heapq.heappop(heap)
            state = self.states.get(user_id)
            if state is None:
                continue
            waiting = state.pending.get(track_id)
            if not waiting:
                continue
            for i, (p_ts, p_id, p_feat) in enumerate(waiting):
                if p_id == event_id:
                    del waiting[i]
                    if not waiting:
                        del state.pending[track_id]
                    self.states[user_id] = state
                    resolved.append(Example(user_id, track_id, p_id, p_ts, p_feat, False, watermark))
                    break
        self.n_negative += len(resolved)
        return resolved

    def pending_count(self) -> int:
        """Plays still waiting for their label."""
        return sum(len(v) for s in self.states.values() for v in s.pending.values())
