"""Keeps a worker from stalling on a Redis that is down.

The worker's Redis calls are synchronous, inside Faust's event loop, and redis-py
retries a refused connection with back-off (about 0.7 s a call). With Redis stopped,
every batch, scoring tick and stats update paid that, so the plays agent barely ran:
measured by tests/faults/test_redis_down.py, two workers committed 480 plays in 10 s
while 6,700 arrived. So after one failure the gate closes: Redis calls are skipped
(the caller keeps its work for later, or drops what is only a cache) until a single
PING without retries, at most once per ``retry_s``, answers again.

>>> answers = [False, True]
>>> t = [0.0]
>>> gate = RedisGate(probe=lambda: answers.pop(0), retry_s=1.0, clock=lambda: t[0])
>>> gate.open
True
>>> gate.failed(ConnectionError("refused"))
>>> gate.open, gate.skipped
(False, 1)
>>> t[0] = 1.5; gate.open  # probed: still down
False
>>> t[0] = 1.9; gate.open  # not probed again so soon
False
>>> t[0] = 2.6; gate.open  # probed: back
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("encore.stream")


class RedisGate:
    """Open while Redis answers; closed from a failure until a probe answers again."""

    def __init__(
        self, *, probe: Callable[[], bool], retry_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._probe = probe
        self.retry_s = retry_s
        self._clock = clock
        self.down_since: float | None = None
        self._probed_at = 0.0
        #: Calls skipped while closed (since the last failure).
        self.skipped = 0

    @property
    def open(self) -> bool:
        """Whether to call Redis now (probes, at most every ``retry_s``, while closed)."""
        if self.down_since is None:
            return True
        now = self._clock()
        if now - self._probed_at >= self.retry_s:
            self._probed_at = now
            try:
                answered = self._probe()
            except Exception:
                answered = False
            if answered:
                log.warning(
                    "Redis answers again after %.1f s; %d calls were skipped meanwhile",
                    now - self.down_since, self.skipped,
                )  # fmt: skip
                self.down_since = None
                return True
        self.skipped += 1
        return False

    def failed(self, exc: BaseException) -> None:
        """A Redis call failed: close (logged once per outage)."""
        if self.down_since is None:
            self.down_since = self._probed_at = self._clock()
            self.skipped = 0
            log.warning("Redis unavailable (%s): its writes are skipped until it answers again", exc)
