"""Replay of a recorded dataset onto the `plays` topic, in event-time order, at any speed.

The pacing is pure: `replay` takes the plays, a `send` callable and a clock, so the
same loop drives Kafka in production and a list in a unit test.

>>> from datetime import datetime, timedelta, UTC
>>> from models.events import PlayEvent, event_time_order
>>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
>>> plays = [PlayEvent(user_id="ana", track_id=f"t{i}", played_at=t0 + timedelta(days=i))
...          for i in (2, 0, 1)]
>>> sent, waited = [], []
>>> stats = replay(plays, send=lambda p: sent.append(p.track_id),
...                speed=86_400, sleep=waited.append, clock=lambda: 0.0)
>>> sent, stats.sent
(['t0', 't1', 't2'], 3)
>>> [round(w, 3) for w in waited]  # one day of plays per second
[1.0, 2.0]
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from models.events import PlayEvent
from models.play_log import PlayLog, in_event_time_order


@dataclass(kw_only=True)
class ReplayStats:
    """What a replay did: how many plays went out, over which event times, how fast."""

    sent: int = 0
    seconds: float = 0.0
    first_played_at: str | None = None
    last_played_at: str | None = None
    users: set[str] = field(default_factory=set, repr=False)
    #: Event ids in the order sent (to check what comes back out of Kafka).
    event_ids: list[str] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        """Plays per wall-clock second."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def replay(
    plays: Iterable[PlayEvent] | PlayLog,
    *,
    send: Callable[[PlayEvent], object],
    speed: float | None = None,
    limit: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
    on_sent: Callable[[int], object] | None = None,
) -> ReplayStats:
    """Send ``plays`` in event-time order; ``speed`` is event seconds per wall second.

    ``speed=None`` sends as fast as ``send`` takes them. ``limit`` stops after that
    many plays. ``on_sent(n)`` is called with the running count (for progress bars).
    """
    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    ordered = in_event_time_order(plays)
    stats = ReplayStats()
    started = origin = 0.0
    last: PlayEvent | None = None
    for play in itertools.islice(ordered, limit):
        if last is None:
            started, origin = clock(), play.ts
            stats.first_played_at = play.played_at.isoformat()
        if speed is not None:
            due = started + (play.ts - origin) / speed
            ahead = due - clock()
            if ahead > 0:
                sleep(ahead)
        send(play)
        stats.sent += 1
        stats.users.add(play.user_id)
        stats.event_ids.append(play.event_id)
        if on_sent is not None:
            on_sent(stats.sent)
        last = play
    if last is not None:
        stats.seconds = clock() - started
        stats.last_played_at = last.played_at.isoformat()
    return stats
