"""A listener found in the table but not yet in memory is loaded with its pending labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.events import PlayEvent
from stream_app.listening import Listening


def test_listener_loaded_lazily_still_resolves_its_negatives() -> None:
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    table: dict[str, bytes] = {}
    first = Listening(table=table)
    first.process([PlayEvent(user_id="ana", track_id="a", played_at=t0)])
    # A new worker's memory is empty; ana's state sits only in the table.
    second = Listening(table=table)
    out = second.process([PlayEvent(user_id="ana", track_id="b", played_at=t0 + timedelta(days=40))])
    assert [(e.track_id, e.label) for e in out.examples] == [("a", False)]
