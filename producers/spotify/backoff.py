"""How long to wait after a failure, and the clock and sleeper that do the waiting.

Everything that waits takes a :class:`Clock` so tests can run an hour-long Retry-After
in microseconds while the HTTP traffic stays real.

Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
and Jitter"): attempt n waits a uniform draw from [0, min(cap, base * 2**n)].

>>> import random
>>> policy = BackoffPolicy(base_s=1.0, cap_s=30.0)
>>> [policy.ceiling(n) for n in range(7)]
[1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
>>> 0.0 <= policy.delay(3, random.Random(1)) <= 8.0
True
>>> parse_retry_after("120")
120.0
>>> parse_retry_after("soon") is None
True
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol


@dataclass(frozen=True)
class BackoffPolicy:
    base_s: float = 1.0
    cap_s: float = 300.0

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the wait before retry number ``attempt`` (0-based)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        # 2**attempt overflows float for huge attempts; the cap is reached long before.
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, 64))

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, self.ceiling(attempt))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if unreadable.

    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 27, tzinfo=UTC))
    60.0
    >>> parse_retry_after("-5")
    0.0
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Clock(Protocol):
    """Monotonic time and an interruptible sleep."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """``time.monotonic`` and a sleep that :meth:`wake` (e.g. Ctrl-C, stop()) cuts short."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)

    def wake(self) -> None:
        self._stop.set()


class FakeClock:
    """Virtual time: ``sleep`` advances it instantly and records what was asked for."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
