"""The plays a batch accepts (what a listener's recent history shows): a play sent
twice is accepted once, in a batch or across batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.events import PlayEvent
from stream_app.listening import Listening

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def play(user: str, track: str, minutes: float, ms_played: int = 200_000) -> PlayEvent:
    when = T0 + timedelta(minutes=minutes)
    return PlayEvent(user_id=user, track_id=track, played_at=when, ms_played=ms_played)


def test_a_duplicate_is_not_accepted_again() -> None:
    a, b, short = play("ana", "a", 0), play("ana", "b", 4), play("ana", "c", 8, ms_played=1_000)
    stream = Listening(table={})
    first = stream.process([a, b, a, short])
    assert [p.event_id for p in first.accepted] == [a.event_id, b.event_id, short.event_id]
    assert first.counts["duplicate"] == 1
    again = stream.process([b, play("ana", "a", 12), a])  # a replay of the same plays, and one new
    assert [p.track_id for p in again.accepted] == ["a"] and again.accepted[0].ts > a.ts
    assert again.counts["duplicate"] == 2
