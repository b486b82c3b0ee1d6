"""The compact play log: real plays of every bundled source come back equal, with the
same event ids, in file order and in event-time order, at a few dozen bytes each."""

from __future__ import annotations

import os
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.events import PlayEvent, event_time_order
from models.parsers import parse_paths
from models.play_log import PlayLog

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


@pytest.fixture(scope="module")
def real_plays() -> list[PlayEvent]:
    paths = [SHARED / "spotify_exports", SHARED / "lastfm_jodie" / "lastfm.tsv.gz"]
    if not all(p.exists() for p in paths):
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {paths}")
        pytest.skip("shared data not present")
    return parse_paths(paths).events


def test_real_plays_come_back_equal_in_file_and_event_time_order(real_plays: list[PlayEvent]) -> None:
    log = PlayLog()
    log.extend(real_plays)
    assert len(log) == len(real_plays)
    # Every source's fields (names, URIs, skips, ms, seq) survive, and so do event ids.
    assert {p.source for p in real_plays} >= {"spotify-extended", "spotify-account", "jodie"}
    assert list(log) == real_plays
    assert [p.to_json() for p in log] == [p.to_json() for p in real_plays]
    in_time = [p.event_id for p in event_time_order(real_plays)]
    assert [p.event_id for p in log.in_event_time_order()] == in_time


def test_times_keep_their_microseconds_and_ties_their_order() -> None:
    t = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC)
    plays = [
        PlayEvent(user_id="ana", track_id="a", played_at=t, ms_played=0),
        PlayEvent(user_id="ana", track_id="b", played_at=t, ms_played=None),
        PlayEvent(user_id="ana", track_id="c", played_at=t, ms_played=200_000),
        PlayEvent(user_id="bob", track_id="a", played_at=t - timedelta(microseconds=1)),
    ]
    log = PlayLog()
    log.extend(plays)
    assert [p.track_id for p in log.in_event_time_order()] == ["a", "c", "a", "b"]
    assert [p.track_id for p in log.in_event_time_order()] == [p.track_id for p in event_time_order(plays)]
    assert log[2].played_at == t and log[3].played_at.microsecond == 999_998


def test_a_play_costs_tens_of_bytes(real_plays: list[PlayEvent]) -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        log = PlayLog()
        log.extend(real_plays)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # The strings are stored once per distinct value; a PlayEvent alone is ~1.1 KB.
    assert held / len(log) < 150
