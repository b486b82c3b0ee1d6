"""Backoff policy: exponential ceiling, full jitter, bounded; Retry-After parsing."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime

import pytest

from producers.spotify.backoff import BackoffPolicy, FakeClock, parse_retry_after


def test_ceiling_doubles_then_stays_at_the_cap() -> None:
    policy = BackoffPolicy(base_s=0.5, cap_s=60.0)
    ceilings = [policy.ceiling(n) for n in range(12)]
    assert ceilings[:8] == [0.5, 1, 2, 4, 8, 16, 32, 60]
    assert set(ceilings[7:]) == {60.0}
    assert policy.ceiling(10_000) == 60.0  # no overflow


def test_full_jitter_spans_zero_to_ceiling_and_never_exceeds_it() -> None:
    policy = BackoffPolicy(base_s=1.0, cap_s=30.0)
    rng = random.Random(42)
    for attempt in range(10):
        draws = [policy.delay(attempt, rng) for _ in range(2000)]
        ceiling = policy.ceiling(attempt)
        assert all(0.0 <= d <= ceiling for d in draws)
        # Full jitter: uniform on [0, ceiling] -> mean about half, spread over the range.
        assert statistics.fmean(draws) == pytest.approx(ceiling / 2, rel=0.08)
        assert min(draws) < 0.05 * ceiling and max(draws) > 0.95 * ceiling


def test_negative_attempt_is_a_bug() -> None:
    with pytest.raises(ValueError):
        BackoffPolicy().ceiling(-1)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("0", 0.0), ("7", 7.0), ("7200", 7200.0), (" 30 ", 30.0), ("1.5", 1.5), ("-3", 0.0),
     ("", None), ("soon", None), (None, None)],
)
def test_retry_after_delta_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_http_date() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 13:00:00 GMT", now=now) == 3600.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0.0


def test_fake_clock_sleeps_instantly_and_remembers() -> None:
    clock = FakeClock(start=10.0)
    clock.sleep(7200)
    clock.sleep(-1)
    assert clock.now() == 7210.0
    assert clock.sleeps == [7200, -1]
