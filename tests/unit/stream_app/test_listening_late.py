"""A play more than the lateness behind its listener is no example, whatever the
watermark (a stream's slowest partition can hold it far back)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.events import PlayEvent
from models.processor import PlayProcessor
from stream_app.listening import Listening

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def play(user: str, track: str, hours: float) -> PlayEvent:
    return PlayEvent(user_id=user, track_id=track, played_at=T0 + timedelta(hours=hours), ms_played=200_000)


def test_a_play_an_hour_and_more_behind_its_listener_is_late_in_the_stream_as_offline() -> None:
    plays = [play("bob", "x", 0), play("ana", "a", 10), play("ana", "b", 12), play("ana", "a", 9)]
    stream = Listening(table={})
    out = stream.process(plays, partitions=[1, 0, 0, 0])  # bob's partition holds the watermark at -1 h
    assert stream.watermark < plays[-1].ts
    assert out.counts["late"] == 1
    ana = stream.labels["ana"]
    waiting = {eid for pending in ana.pending.values() for _, eid, _ in pending}
    assert plays[-1].event_id not in waiting  # never an example

    offline = PlayProcessor()
    late = [offline.process(p).late for p in plays]
    assert late == [False, False, False, True]


def _first_batches(unread: frozenset[int]) -> int:
    """Late plays when partition 0's first batch is a month ahead of partition 1's."""
    stream = Listening(table={})
    stream.unread = unread
    ahead = stream.process([play("ana", "a", 24 * 30), play("ana", "b", 24 * 30 + 1)], partitions=[0, 0])
    stream.unread = frozenset()  # partition 1's plays are in this batch
    behind = stream.process([play("bob", "x", 0), play("bob", "y", 1)], partitions=[1, 1])
    return ahead.counts["late"] + behind.counts["late"]


def test_a_partition_with_plays_waiting_holds_the_watermark_back() -> None:
    """A fresh worker's first fetch held three partitions of eight (the hostile-events
    fault test, one run): the others' plays must not come in late for it."""
    assert _first_batches(unread=frozenset({1})) == 0
    assert _first_batches(unread=frozenset()) == 2  # what happened without it
