"""End to end: a Last.fm slice through real Kafka, two Faust workers and Redis.

What a service reading Redis relies on, for every listener the stream saw: a list,
scores that are probabilities best first, a meta naming the model that scored them;
and nothing hostile that was sent to `plays` got lost or became a play: the dead-letter
topic holds exactly those messages. The run itself (two phases, hostile messages mixed
into the first) is in :mod:`tests.e2e.stream_run`.
"""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd
import pytest

from models.features import FEATURE_NAMES, features_at
from models.learner import DelayedLearner
from models.snapshot import load_snapshot
from stream_app.model_cache import UNTRAINED
from stream_app.recs_store import StoredRecs
from stream_app.settings import load_or_create_snapshot_key
from tests.e2e.stream_run import OfflineRun, StreamRun, expected_raw

pytestmark = pytest.mark.e2e


def lists(run: StreamRun) -> dict[str, StoredRecs]:
    return {user: recs for user, recs in run.recs.items() if isinstance(recs, StoredRecs)}


def test_every_listener_seen_has_recommendations_in_redis(stream_run: StreamRun) -> None:
    seen = stream_run.slice.listeners
    assert len(seen) > 100
    without = {user: str(recs) for user, recs in stream_run.recs.items() if not isinstance(recs, StoredRecs)}
    assert not without, f"{len(without)} of {len(seen)} listeners have no list: {list(without.items())[:5]}"
    for user, recs in lists(stream_run).items():
        assert recs.user_id == user
        assert 1 <= len(recs.items) <= stream_run.top_k, (user, len(recs.items))
        assert len({item.track_id for item in recs.items}) == len(recs.items), user
        # Every listener of the slice has plays: a personal list, not the cold-start one.
        assert recs.reason == "personalised", (user, recs.reason)
    # The listeners Redis knows are exactly those of the slice (no hostile message made one).
    assert stream_run.redis_listeners == seen


def test_scores_are_probabilities_in_descending_order(stream_run: StreamRun) -> None:
    all_scores: list[float] = []
    for user, recs in lists(stream_run).items():
        scores = [item.score for item in recs.items]
        assert all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores), (user, scores)
        assert scores == sorted(scores, reverse=True), (user, scores)
        all_scores.extend(scores)
    # A trained model's probabilities, not one constant (an untrained learner says 0.5).
    assert len(set(all_scores)) > len(all_scores) // 2


def test_meta_names_the_model_version_that_scored_the_list(
    stream_run: StreamRun, offline: OfflineRun
) -> None:
    """The version in each meta is a snapshot the trainer published, and that very
    snapshot, given the listener's features as of the meta's event time, gives the
    stored scores."""
    key = load_or_create_snapshot_key(stream_run.settings.local_dir)  # the workers' key
    learners: dict[str, DelayedLearner] = {}
    for version, blob in stream_run.snapshots.items():
        learner, _seq = load_snapshot(blob, key=key)
        learners[version] = learner
    assert learners, "the trainer published no snapshot to the model-snapshots topic"
    assert stream_run.model_info.get("version") in learners  # Redis's latest is one of them

    by_version: Counter[str] = Counter()
    for user, recs in lists(stream_run).items():
        assert recs.model_version != UNTRAINED, user
        assert recs.model_version in learners, (user, recs.model_version, sorted(learners))
        by_version[recs.model_version] += 1
        as_of = recs.as_of_event_time.timestamp()
        state = offline.states[user]
        assert as_of >= state.latest, (user, recs.as_of_event_time)  # scored after the last play
        # The scorer's features of a candidate: as of the meta's event time (Last.fm names no artist).
        rows = [features_at(state, item.track_id, None, as_of) for item in recs.items]
        frame = pd.DataFrame(rows, columns=list(FEATURE_NAMES))
        expected = learners[recs.model_version].predict_proba_many(frame)
        for item, p in zip(recs.items, expected.tolist(), strict=True):
            assert item.score == pytest.approx(min(max(p, 0.0), 1.0), rel=1e-9, abs=1e-12), (
                user,
                item.track_id,
                recs.model_version,
            )
    assert sum(by_version.values()) == len(stream_run.slice.listeners)


def test_the_dlq_holds_exactly_the_bad_events_the_test_injected(stream_run: StreamRun) -> None:
    letters = stream_run.dead_letters
    undecodable = [record for record, letter in letters if letter is None]
    assert not undecodable, f"dlq messages that are no DeadLetter: {undecodable[:3]}"
    got = Counter(letter.raw or "" for _, letter in letters if letter is not None)
    want = Counter(expected_raw(value) for _key, value in stream_run.injected)
    assert len(want) == len(stream_run.injected)  # the injected messages are told apart
    assert got == want, f"unexpected: {got - want}; missing: {want - got}"

    plays_topic = stream_run.settings.plays_topic
    locations = []
    for _, letter in letters:
        assert letter is not None
        assert letter.origin == "worker" and letter.reason.strip(), letter
        assert letter.location is not None and letter.location.startswith(f"{plays_topic}["), letter
        locations.append(letter.location)
    assert len(set(locations)) == len(locations), "a message was dead-lettered twice"
    # The reason says what was wrong (two spot checks).
    reason_of = {letter.raw or "": letter.reason for _, letter in letters if letter is not None}
    future = next(raw for raw in reason_of if "t-future" in raw)
    oversized = next(raw for raw in reason_of if "t-oversized" in raw)
    assert "in the future" in reason_of[future], reason_of[future]
    assert "exceeds" in reason_of[oversized], reason_of[oversized]

    # The workers agree, and took every real play as a play (none dead-lettered, none lost).
    assert stream_run.drained.dead_letters == len(stream_run.injected)
    assert stream_run.drained.plays == len(stream_run.slice.plays)
