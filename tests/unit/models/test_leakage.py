"""No leakage: events after time t change no feature of a play at or before t.

DESIGN.md: features of a play at t are computed only from events at or before t.
A test that processes every play up to t before any later event arrives proves
nothing (the later events cannot have reached the state yet). Here the later events
arrive *interleaved* with the earlier plays, in any order, as early as the stream
allows: an event may overtake a play of its listener by up to the allowed lateness
(further behind, a play is late by definition and the watermark drops it). The plays
up to t arrive out of order among themselves too (within the lateness).

Compared, for every play at or before t:

- permuting the later events (two random interleavings) changes no feature;
- deleting them changes no feature.

The per-listener memory bounds are shrunk so that the bounded parts of the state
(per-pair play times, the activation window) fill up within a few dozen plays:
the bounds must not let a later event push out an earlier one that a play at or
before t still needs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import features as F
from models.events import PlayEvent
from models.features import Features
from models.processor import PlayProcessor
from models.settings import ModelSettings

T0 = datetime(2024, 3, 1, tzinfo=UTC)
LATENESS = 6 * 3600
SETTINGS = ModelSettings(allowed_lateness_s=LATENESS)
SPAN = 2 * 86_400

# (listener, track, artist, seconds after T0, ms_played, skipped): few listeners and
# tracks over a dozen days, so pairs repeat often and many events are near each other.
raw_event = st.tuples(
    st.sampled_from(["ana", "bo"]),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from([None, "X", "Y"]),
    st.integers(min_value=0, max_value=SPAN),
    st.sampled_from([None, None, None, 200_000, 10_000]),
    st.sampled_from([None, None, True, False]),
)
Raw = tuple[str, str, str | None, int, int | None, bool | None]


def to_play(ev: Raw) -> PlayEvent:
    user, track, artist, seconds, ms, skipped = ev
    return PlayEvent(
        user_id=user,
        track_id=track,
        artist_name=artist,
        played_at=T0 + timedelta(seconds=seconds),
        ms_played=ms,
        skipped=skipped,
    )


@contextmanager
def small_bounds() -> Iterator[None]:
    """Per-pair play times and the activation window bounded at a handful of plays
    (the activation window stays within the kept times, as in production: 32 <= 64)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(F, "TALLY_TIMES", 4)
        mp.setattr(F, "ACTIVATION_TIMES", 3)
        yield


def shuffled_within_lateness(plays: list[PlayEvent], rng: random.Random) -> list[PlayEvent]:
    """Time order, then neighbours swapped at random when within the lateness."""
    out = sorted(plays, key=lambda p: p.ts)
    for i in range(len(out) - 1):
        if rng.random() < 0.4 and out[i + 1].ts - out[i].ts <= LATENESS:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def interleave(before: list[PlayEvent], after: list[PlayEvent], rng: random.Random) -> list[PlayEvent]:
    """``before`` in its order, with ``after`` shuffled and each inserted at a random
    place no earlier than the stream allows: after every play of its listener that is
    more than the lateness older than it."""
    slots: list[list[PlayEvent]] = [[] for _ in range(len(before) + 1)]
    for event in rng.sample(after, len(after)):
        earliest = 0
        for i, p in enumerate(before):
            if p.user_id == event.user_id and p.ts < event.ts - LATENESS:
                earliest = i + 1
        slots[rng.randint(earliest, len(before))].append(event)
    out: list[PlayEvent] = list(slots[0])
    for p, extra in zip(before, slots[1:], strict=True):
        out.append(p)
        out.extend(extra)
    return out


def features_by_event(arrivals: list[PlayEvent]) -> dict[str, Features | None]:
    """Features each play got when it arrived (None for a short play)."""
    proc = PlayProcessor(SETTINGS)
    out: dict[str, Features | None] = {}
    for p in arrivals:
        result = proc.process(p)
        if result.kind in ("play", "short"):
            out[p.event_id] = result.named
    return out


def split_at(events: list[Raw], cut: int, seed: int) -> tuple[list[PlayEvent], list[PlayEvent], float]:
    plays = [to_play(e) for e in events]
    t = (T0 + timedelta(seconds=cut)).timestamp()
    before = shuffled_within_lateness([p for p in plays if p.ts <= t], random.Random(seed))
    after = [p for p in plays if p.ts > t]
    return before, after, t


def overtaken(arrivals: list[PlayEvent], t: float) -> int:
    """How many plays at or before t arrived after a later event of their listener."""
    latest: dict[str, float] = {}
    n = 0
    for p in arrivals:
        if p.ts <= t and latest.get(p.user_id, float("-inf")) > t:
            n += 1
        latest[p.user_id] = max(latest.get(p.user_id, float("-inf")), p.ts)
    return n


events_t_seed = {
    "events": st.lists(raw_event, min_size=25, max_size=80),
    "cut": st.integers(min_value=0, max_value=SPAN),
    "seed": st.integers(0, 10_000),
}


@settings(max_examples=300, deadline=None)
@given(**events_t_seed)
def test_permuting_events_after_t_changes_no_feature_at_or_before_t(
    events: list[Raw], cut: int, seed: int
) -> None:
    before, after, _t = split_at(events, cut, seed)
    rng = random.Random(seed + 1)
    one, other = interleave(before, after, rng), interleave(before, after, rng)
    with small_bounds():
        a, b = features_by_event(one), features_by_event(other)
    for p in before:
        assert a[p.event_id] == b[p.event_id], p


@settings(max_examples=300, deadline=None)
@given(**events_t_seed)
def test_deleting_events_after_t_changes_no_feature_at_or_before_t(
    events: list[Raw], cut: int, seed: int
) -> None:
    before, after, _t = split_at(events, cut, seed)
    arrivals = interleave(before, after, random.Random(seed + 1))
    with small_bounds():
        full, kept = features_by_event(arrivals), features_by_event(before)
    for p in before:
        assert full[p.event_id] == kept[p.event_id], p


def test_the_generator_really_lets_later_events_overtake_earlier_plays() -> None:
    """The properties above are only as good as the arrival orders: later events must
    often arrive before plays at or before t (else nothing could leak)."""
    rng = random.Random(7)
    cases = overtaking = 0
    for _ in range(200):
        events = [
            (rng.choice("xy"), rng.choice("abc"), None, rng.randint(0, SPAN), None, None) for _ in range(60)
        ]
        before, after, t = split_at(events, rng.randint(SPAN // 4, 3 * SPAN // 4), rng.randint(0, 99))
        cases += 1
        overtaking += overtaken(interleave(before, after, rng), t) > 0
    assert overtaking > cases // 2, (overtaking, cases)


def test_a_later_replay_of_a_busy_pair_does_not_change_an_earlier_plays_counts() -> None:
    """The case the bounded per-pair times got wrong: more plays of a pair than the
    bound, then a replay (within the lateness) arriving before the last earlier play."""
    with small_bounds():
        earlier = [to_play(("ana", "a", None, i * 7200, None, None)) for i in range(6)]
        last = earlier[-1]
        replay = to_play(("ana", "a", None, 5 * 7200 + 600, None, None))
        in_order = features_by_event(earlier)[last.event_id]
        overtaken_by_replay = features_by_event([*earlier[:-1], replay, last])[last.event_id]
    assert in_order is not None and in_order["pair_plays_1d"] == 4.0  # the bound: 4 kept times
    assert overtaken_by_replay == in_order
