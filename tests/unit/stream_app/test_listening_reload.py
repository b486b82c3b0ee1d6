"""A worker that takes over partitions with a backlog must not run its watermark ahead
of them (found by tests/faults/test_worker_kill.py, where it happened intermittently)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.events import PlayEvent
from stream_app.listening import Listening

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PARTITION = {"ana": 0, "ben": 1}


def _play(user: str, track: str, day: float) -> PlayEvent:
    return PlayEvent(user_id=user, track_id=track, played_at=T0 + timedelta(days=day))


def _run(seed_progress: bool) -> tuple[dict[str, int], int]:
    table: dict[str, bytes] = {}
    # The old owner: both listeners up to day 10; ben played track "x" on day 9.
    old = Listening(table=table)
    old.process([_play("ana", "a", 10), _play("ben", "x", 9), _play("ben", "b", 10)], [0, 1, 1])
    # The new owner reloads both partitions, then gets partition 0 far ahead first
    # (ana, day 60) and only then partition 1's backlog (ben replays "x" on day 20).
    new = Listening(table=table)
    new.reload(["ana", "ben"], partition_of=PARTITION.__getitem__ if seed_progress else None)
    first = new.process([_play("ana", "a", 60)], [0])
    then = new.process([_play("ben", "x", 20)], [1])
    labels = {e.event_id: int(e.label) for e in first.examples + then.examples}
    return labels, first.counts["late"] + then.counts["late"]


def test_progress_of_a_taken_over_partition_holds_the_watermark_back() -> None:
    labels, late = _run(seed_progress=True)
    x = _play("ben", "x", 9).event_id
    assert labels[x] == 1  # the replay on day 20 arrived in time: positive
    assert late == 0


def test_without_it_the_backlog_was_late_and_labelled_wrong() -> None:
    labels, late = _run(seed_progress=False)
    assert labels[_play("ben", "x", 9).event_id] == 0  # resolved negative before its replay...
    assert late == 1  # ...which then came in behind the watermark


def test_a_batch_torn_by_a_crash_does_not_make_the_other_listeners_late() -> None:
    """kill -9 while a batch was written back: ana's state reached the changelog (up to
    day 30), cat's did not (day 5), and the committed offset is before the batch. The
    new owner gets the batch again: ana's plays are repeats, cat's are new and on time."""
    partition = {"ana": 0, "cat": 0}
    batch = [_play("ana", "a", 20), _play("cat", "c", 21), _play("ana", "a", 30), _play("cat", "c", 30)]
    before = [_play("ana", "a", 4), _play("cat", "c", 5)]
    table: dict[str, bytes] = {}
    old = Listening(table=table)
    old.process(before, [0, 0])
    torn = dict(table)
    old.process(batch, [0, 0, 0, 0])
    torn["ana"] = table["ana"]  # only ana's new state was flushed before the crash
    new = Listening(table=torn)
    new.reload(["ana", "cat"], partition_of=partition.__getitem__)
    # The backlog comes back over several batches (the watermark moves after each).
    outs = [new.process([play], [0]) for play in batch]
    assert sum(o.counts["late"] for o in outs) == 0
    assert sum(o.counts["duplicate"] for o in outs) == 2
    # cat's day-5 play was replayed on day 21 (positive), exactly as without the crash.
    resolved = {e.event_id: e.label for o in outs for e in o.examples}
    assert resolved[_play("cat", "c", 5).event_id] is True
