"""Event ids: stable across versions (they are in Kafka, Redis and every snapshot's
de-duplication set), the same for the same instant in any time zone."""

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from models.events import make_event_id


def spelled_out(user_id: str, track_id: str, played_at: datetime, seq: int = 0) -> str:
    """The id's definition: blake2b-128 of listener, track, UTC time with microseconds
    and (when not 0) seq, joined by the unit separator."""
    raw = f"{user_id}\x1f{track_id}\x1f{played_at.astimezone(UTC).isoformat(timespec='microseconds')}"
    if seq:
        raw += f"\x1f{seq}"
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=16).hexdigest()


def test_ids_of_known_plays_do_not_change() -> None:
    whole_second = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
    assert make_event_id("ana", "a", whole_second) == "84336de34169b6bf40ba835a99d571db"
    with_micros = datetime(2024, 3, 1, 20, 0, 0, 5, tzinfo=UTC)
    assert make_event_id("ana", "a", with_micros, 2) == "9543ba47f2904ac0f6dd8a44fec0c0a8"


ZONES = [UTC, timezone(timedelta(0)), timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(ZONES),
    st.sampled_from([0, 0, 1, 7]),
)
def test_the_id_is_its_definition_in_any_time_zone(instant: datetime, zone: timezone, seq: int) -> None:
    local = instant.astimezone(zone)
    assert make_event_id("ana", "a", local, seq) == spelled_out("ana", "a", instant, seq)
