"""Feature state: no leakage, exact out-of-order handling, serialisation, bounds."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import features as F
from models.events import PlayEvent
from models.features import FEATURE_NAMES, ListenerState, features_at, step
from models.processor import PlayProcessor
from models.settings import ModelSettings

T0 = datetime(2024, 3, 1, tzinfo=UTC)
LATENESS = 3600
SETTINGS = ModelSettings(allowed_lateness_s=LATENESS)

# One raw event: (listener, track, artist or None, seconds after T0, ms_played or None, skipped)
raw_event = st.tuples(
    st.sampled_from(["ana", "bo"]),
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from([None, "X", "Y"]),
    st.integers(min_value=0, max_value=90 * 86_400),
    st.sampled_from([None, None, 200_000, 10_000]),
    st.sampled_from([None, True, False]),
)


def to_play(ev: tuple[str, str, str | None, int, int | None, bool | None]) -> PlayEvent:
    user, track, artist, seconds, ms, skipped = ev
    return PlayEvent(
        user_id=user,
        track_id=track,
        artist_name=artist,
        played_at=T0 + timedelta(seconds=seconds),
        ms_played=ms,
        skipped=skipped,
    )


def arrival_order(plays: list[PlayEvent], seed: int) -> list[PlayEvent]:
    """Sorted by time, then neighbours swapped at random when within the lateness."""
    out = sorted(plays, key=lambda p: p.ts)
    rng = random.Random(seed)
    for i in range(len(out) - 1):
        if rng.random() < 0.3 and out[i + 1].ts - out[i].ts <= LATENESS:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def features_by_event(plays: list[PlayEvent]) -> dict[str, tuple[float, ...] | None]:
    proc = PlayProcessor(SETTINGS)
    out: dict[str, tuple[float, ...] | None] = {}
    for p in plays:
        result = proc.process(p)
        if result.kind in ("play", "short"):
            out[p.event_id] = result.features
    return out


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(raw_event, min_size=1, max_size=60),
    cut=st.integers(min_value=0, max_value=90 * 86_400),
    seed=st.integers(0, 1000),
)
def test_deleting_events_after_t_changes_no_feature_at_or_before_t(
    events: list[tuple[str, str, str | None, int, int | None, bool | None]], cut: int, seed: int
) -> None:
    plays = arrival_order([to_play(e) for e in events], seed)
    t = (T0 + timedelta(seconds=cut)).timestamp()
    full = features_by_event(plays)
    kept = features_by_event([p for p in plays if p.ts <= t])
    for p in plays:
        if p.ts <= t and p.event_id in kept:
            assert full[p.event_id] == kept[p.event_id], p


# Permuting events after t: tests/unit/models/test_leakage.py, where the later events
# arrive interleaved with the earlier plays (processing every earlier play first, as a
# test here once did, cannot tell a leaking feature from a sound one).


def test_a_play_arriving_after_a_later_one_does_not_see_it() -> None:
    proc = PlayProcessor(SETTINGS)
    proc.process(to_play(("ana", "a", "X", 100, None, None)))
    proc.process(to_play(("ana", "b", "X", 200, None, None)))
    early = proc.process(to_play(("ana", "a", "X", 50, None, None))).named
    assert early is not None
    assert early["pair_plays"] == 0.0 and early["user_plays"] == 0.0
    assert early["artist_plays"] == 0.0 and early["user_distinct_tracks"] == 0.0
    assert early["pair_since_last_s"] == F.NEVER_S


@settings(max_examples=100, deadline=None)
@given(events=st.lists(raw_event, min_size=1, max_size=60))
def test_state_round_trips_through_dict_and_bytes(
    events: list[tuple[str, str, str | None, int, int | None, bool | None]],
) -> None:
    state = ListenerState("ana")
    twin = ListenerState("ana")
    for e in sorted(events, key=lambda e: e[3]):
        p = to_play(("ana", *e[1:]))
        state, a = step(state, p, SETTINGS)
        # The stream path: state saved and restored between every play.
        twin = ListenerState.from_bytes(twin.to_bytes())
        twin, b = step(twin, p, SETTINGS)
        assert a == b
    assert ListenerState.from_dict(state.to_dict()) == state
    assert ListenerState.from_bytes(state.to_bytes()) == state
    assert state == twin


def test_features_have_the_documented_names_and_are_finite() -> None:
    state = ListenerState("ana")
    p = to_play(("ana", "a", "X", 0, None, None))
    state, first = step(state, p)
    assert first.named is not None and tuple(first.named) == FEATURE_NAMES
    assert first.features is not None and len(first.features) == len(FEATURE_NAMES)
    state, second = step(state, to_play(("ana", "a", "X", 60, None, None)))
    assert second.features is not None and second.named is not None
    assert all(v == v and abs(v) < 1e12 for v in second.features)
    assert second.named["pair_since_last_s"] == 60.0
    assert second.named["artist_plays"] == 1.0
    assert second.named["user_close_share"] == 0.0


def test_features_as_of_now_match_the_features_of_a_play_then() -> None:
    state = ListenerState("ana")
    for s in (0, 100, 5000):
        state, _ = step(state, to_play(("ana", "a", None, s, None, None)))
    now = (T0 + timedelta(seconds=9000)).timestamp()
    as_of = features_at(state, "a", None, now)
    _, played = step(state, to_play(("ana", "a", None, 9000, None, None)))
    assert played.features == as_of


def test_memory_is_bounded_per_listener(monkeypatch: object) -> None:
    import pytest

    mp = pytest.MonkeyPatch()
    mp.setattr(F, "MAX_TRACKS", 16)
    mp.setattr(F, "TALLY_TIMES", 8)
    try:
        state = ListenerState("ana")
        for i in range(2000):
            play = to_play(("ana", f"t{i % 50}", None, i * 600, None, None))
            state, _ = step(state, play, SETTINGS)
        assert len(state.pairs) <= 16 + 16 // 8
        assert max(len(t.times) for t in state.pairs.values()) <= 8 + LATENESS // 600 + 1
        assert len(state.journal) <= 64
        assert len(state.seen) <= 31 * 144 + 256
        assert len(state.recent) <= 31 * 144 + 64
    finally:
        mp.undo()


def test_stale_plays_are_ignored() -> None:
    state = ListenerState("ana")
    state, _ = step(state, to_play(("ana", "a", None, 40 * 86_400, None, None)), SETTINGS)
    state, old = step(state, to_play(("ana", "b", None, 0, None, None)), SETTINGS)
    assert old.kind == "stale" and "b" not in state.pairs


# -- the scorer's batch and candidate lists -------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(raw_event, min_size=1, max_size=80), st.integers(min_value=-3 * 86_400, max_value=3 * 86_400))
def test_features_many_equals_features_at_key_for_key(events: list, shift: int) -> None:
    states: dict[str, ListenerState] = {}
    for ev in events:
        play = to_play(ev)
        before = states.get(play.user_id) or ListenerState(play.user_id)
        states[play.user_id], _ = step(before, play, SETTINGS)
    tracks = [("a", None), ("b", "x"), ("c", "y"), ("zz", None), ("d", "x")]
    for state in states.values():
        as_of = state.latest + shift  # before the latest play too: features_at's own path
        many = F.features_many(state, tracks, as_of)
        one = [features_at(state, t, a, as_of) for t, a in tracks]
        assert many == one
        assert all(type(x) is tuple and len(x) == len(FEATURE_NAMES) for x in many)


@settings(max_examples=60, deadline=None)
@given(st.lists(raw_event, min_size=1, max_size=120), st.integers(min_value=1, max_value=4))
def test_recent_and_most_played_tracks_are_kept_exactly(events: list, k: int) -> None:
    import heapq

    state = ListenerState("ana")
    arrival: list[str] = []  # counted plays' tracks in arrival order
    for ev in events:
        play = to_play(("ana", *ev[1:]))
        state, done = step(state, play, SETTINGS)
        if done.kind == "play":
            arrival.append(play.track_id)
        played = {t: tally.n for t, tally in state.pairs.items() if tally.n > 0}
        last_first = list(dict.fromkeys(reversed(arrival)))
        assert state.recently_played(k) == last_first[:k]
        best = heapq.nlargest(k, ((n, t) for t, n in played.items()))
        assert state.most_played(k) == [t for _, t in best]
    again = ListenerState.from_dict(state.to_dict())  # a reloaded state rebuilds both
    assert again.recently_played(k) == state.recently_played(k)
    assert again.most_played(k) == state.most_played(k)


def test_most_played_survives_evictions() -> None:
    import pytest

    mp = pytest.MonkeyPatch()
    mp.setattr(F, "MAX_TRACKS", 8)
    try:
        state = ListenerState("ana")
        rng = random.Random(3)
        for i in range(400):
            track = f"t{rng.randrange(30)}" if i % 3 else f"hot{i % 4}"
            play = PlayEvent(user_id="ana", track_id=track, played_at=T0 + timedelta(minutes=i))
            state, _ = step(state, play, SETTINGS)
            ranked = sorted(((t.n, k) for k, t in state.pairs.items() if t.n > 0), reverse=True)
            assert state.most_played(5) == [k for _, k in ranked[:5]]
    finally:
        mp.undo()


def test_every_feature_of_a_hand_worked_play_lands_under_its_own_name() -> None:
    """Features travel as a row of values: each must sit at its name's position.
    Worked by hand: plays of a (artist X) 40 days before, at 0 and at 2 days, of b at
    100 s, of c at 9.5 days, a 4-second (short) play of a at 2 days + 60 s; then a
    play of a at 10 days."""
    day = 86_400
    state = ListenerState("ana")
    for ev in [
        ("ana", "a", "X", -40 * day, None, None),
        ("ana", "a", "X", 0, None, None),
        ("ana", "b", "Y", 100, None, None),
        ("ana", "a", "X", 2 * day, None, None),
        ("ana", "a", "X", 2 * day + 60, 4_000, None),
        ("ana", "c", "Z", 9 * day + day // 2, None, None),
    ]:
        state, _ = step(state, to_play(ev), SETTINGS)
    _, played = step(state, to_play(("ana", "a", "X", 10 * day, None, None)), SETTINGS)
    activation = math.log(sum((d + 1 / 24) ** -0.5 for d in (8, 10, 50)))
    expected = {
        "user_plays": 5.0,
        "user_plays_1d": 1.0,  # c
        "user_plays_7d": 1.0,
        "user_plays_30d": 4.0,
        "user_distinct_tracks": 3.0,
        "user_replay_share": 1 - 3 / 5,
        "user_since_prev_s": 0.5 * day,
        "user_close_share": 1 / 5,  # a at 2 days (a at 0 came 40 days after the one before)
        "pair_plays": 3.0,
        "pair_plays_1d": 0.0,
        "pair_plays_7d": 0.0,
        "pair_plays_30d": 2.0,
        "pair_plays_90d": 3.0,
        "pair_activation": activation,
        "pair_since_last_s": 8.0 * day,
        "pair_since_first_s": 50.0 * day,
        "pair_mean_gap_s": 50.0 * day / 3,
        "pair_user_plays_since_last": 1.0,  # c
        "pair_share_of_user": 3 / 5,
        "pair_short_share": 1 / 4,
        "pair_skip_share": 0.0,
        "artist_plays": 3.0,
        "artist_plays_30d": 2.0,
    }
    assert set(expected) == set(FEATURE_NAMES)
    assert played.named == pytest.approx(expected, rel=1e-12)
