"""Candidates carry reasons; cold start is trending; features as of now score in one batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.candidates import CandidateSource, CoListen, Trending, candidate_frame, candidates
from models.events import PlayEvent
from models.features import FEATURE_NAMES, ListenerState, features_at, step
from models.learner import DelayedLearner

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def play(user: str, track: str, minutes: float) -> PlayEvent:
    return PlayEvent(user_id=user, track_id=track, played_at=T0 + timedelta(minutes=minutes))


def build() -> tuple[dict[str, ListenerState], CandidateSource]:
    source = CandidateSource()
    states: dict[str, ListenerState] = {}
    history = [("ana", "a", 0), ("ana", "b", 3), ("ana", "a", 6), ("bo", "a", 10), ("bo", "c", 13)]
    history += [("cy", f"hit{i % 3}", 20 + i) for i in range(12)]
    for user, track, minute in history:
        p = play(user, track, minute)
        states[user], _ = step(states.get(user) or ListenerState(user), p)
        source.observe(p)
    return states, source


def test_reasons_and_cold_start() -> None:
    states, source = build()
    now = (T0 + timedelta(hours=2)).timestamp()
    cands, cold = source.for_listener(states["ana"], now)
    reasons = {c.track_id: c.reason for c in cands}
    assert not cold
    assert reasons["a"] == "recent" and reasons["b"] == "recent"
    assert reasons["c"] == "co-listened"
    assert reasons["hit0"] == "trending"
    assert len(reasons) == len(cands)  # each track once
    cold_cands, cold = source.for_listener(None, now)
    assert cold and cold_cands and {c.reason for c in cold_cands} == {"trending"}
    empty, cold = source.for_listener(ListenerState("new"), now)
    assert cold and {c.reason for c in empty} == {"trending"}


def test_features_as_of_now_score_in_one_batch() -> None:
    states, source = build()
    now = (T0 + timedelta(hours=2)).timestamp()
    cands, _ = source.for_listener(states["ana"], now)
    rows = source.features(states["ana"], cands, now)
    assert rows[0] == features_at(states["ana"], cands[0].track_id, None, now)
    frame = candidate_frame(states["ana"], [c.track_id for c in cands], now)
    assert list(frame.columns) == list(FEATURE_NAMES) and len(frame) == len(cands)
    assert frame.loc["a", "pair_plays"] == 2.0
    proba = DelayedLearner().predict_proba_many(frame)
    assert len(proba) == len(cands) and ((proba >= 0) & (proba <= 1)).all()


def test_colisten_is_bounded_per_item() -> None:
    co = CoListen(max_neighbours=8, window=3)
    for i in range(500):
        co.observe("ana", f"t{i % 40}", i * 60.0)
    assert max(len(row) for row in co.counts.values()) <= 8
    assert len(co.sessions["ana"]) <= 3


def test_sessions_split_on_gaps() -> None:
    co = CoListen(session_gap_s=60.0)
    co.observe("ana", "a", 0.0)
    co.observe("ana", "b", 3600.0)
    assert co.neighbours("a") == []


def test_trending_decays_and_is_bounded() -> None:
    tr = Trending(half_life_s=100.0, capacity=10)
    for i in range(100):
        tr.observe(f"t{i}", float(i))
    assert len(tr.log_score) <= 10 + 10 // 8
    assert [t for t, _ in tr.top(3, now=100.0)] == ["t99", "t98", "t97"]


def test_candidates_without_sources_are_empty_for_cold_start() -> None:
    assert candidates(None, CoListen(), Trending(), 0.0) == []
