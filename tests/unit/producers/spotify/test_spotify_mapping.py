"""Recently-played items -> PlayEvent: ids, times, and what is deliberately left unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.events import PlayEvent, make_event_id, track_key
from producers.spotify.mapping import (
    RecentItem,
    RecentlyPlayedPage,
    parse_items,
    to_ms,
    to_play_event,
)


def item(**track: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "4uLU6hMCjMI75M1A2tKUQC",
        "name": "Harder, Better, Faster, Stronger",
        "artists": [{"name": "Daft Punk"}, {"name": "Kanye West"}],
        "duration_ms": 224_693,
    }
    base.update(track)
    return {"track": base, "played_at": "2024-05-04T10:11:12.345Z"}


def test_track_id_is_the_name_key_of_the_first_artist_and_uri_is_kept() -> None:
    play = to_play_event("ana", RecentItem.model_validate(item()))
    assert play.track_id == track_key("Daft Punk", "Harder, Better, Faster, Stronger")
    assert play.track_id != track_key("Kanye West", "Harder, Better, Faster, Stronger")
    assert play.track_uri == "spotify:track:4uLU6hMCjMI75M1A2tKUQC"
    assert play.artist_name == "Daft Punk"
    assert play.source == "spotify-api"
    assert play.user_id == "ana"


def test_duration_is_not_ms_played() -> None:
    play = to_play_event("ana", RecentItem.model_validate(item(duration_ms=224_693)))
    assert play.ms_played is None
    assert b"ms_played" not in play.to_json()


def test_played_at_is_the_utc_end_of_play_to_the_millisecond() -> None:
    play = to_play_event("ana", RecentItem.model_validate(item()))
    assert play.played_at == datetime(2024, 5, 4, 10, 11, 12, 345_000, tzinfo=UTC)
    assert play.played_at.utcoffset() == timedelta(0)


def test_same_play_from_an_extended_export_gets_the_same_event_id() -> None:
    """The export's ts is the same end-of-play instant; ids must join."""
    live = to_play_event("ana", RecentItem.model_validate(item()))
    exported = PlayEvent(
        user_id="ana",
        track_id=track_key("daft punk", "Harder, Better, Faster, Stronger "),
        played_at=datetime(2024, 5, 4, 10, 11, 12, 345_000, tzinfo=UTC),
        ms_played=224_000,
        source="spotify-extended",
    )
    assert live.event_id == exported.event_id
    assert live.event_id == make_event_id("ana", live.track_id, live.played_at)


def test_uri_is_built_from_the_id_when_missing_and_absent_for_local_files() -> None:
    built = to_play_event("ana", RecentItem.model_validate(item(uri=None)))
    assert built.track_uri == "spotify:track:4uLU6hMCjMI75M1A2tKUQC"
    local = to_play_event("ana", RecentItem.model_validate(item(id=None, uri=None)))
    assert local.track_uri is None
    assert local.track_id == track_key("Daft Punk", "Harder, Better, Faster, Stronger")


def test_bad_items_are_reported_by_field_without_their_values() -> None:
    raw: list[dict[str, Any]] = [
        item(),
        {"track": {"id": "x", "name": "No artists", "artists": []},
         "played_at": "2024-05-04T10:00:00Z"},
        {"track": {"id": "y", "name": "Naive", "artists": [{"name": "A"}]},
         "played_at": "2024-05-04T10:00:00"},
        {"played_at": "not a date SECRET-LOOKING-VALUE"},
    ]
    good, bad = parse_items(raw)
    assert len(good) == 1
    assert len(bad) == 3
    assert "track.artists" in bad[0]
    assert "played_at" in bad[1]
    assert all("SECRET-LOOKING-VALUE" not in reason for reason in bad)


def test_empty_page_has_no_cursors() -> None:
    page = RecentlyPlayedPage.model_validate({"items": [], "cursors": None, "limit": 50})
    assert page.items == [] and page.cursors is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)))
def test_to_ms_is_exact(when: datetime) -> None:
    ms = to_ms(when)
    back = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert back == when.replace(microsecond=when.microsecond // 1000 * 1000)


@pytest.mark.parametrize("offset_h", [-8, 0, 5])
def test_offsets_are_normalised_to_utc(offset_h: int) -> None:
    raw = item()
    local = datetime(2024, 5, 4, 10, 11, 12, tzinfo=timezone(timedelta(hours=offset_h)))
    raw["played_at"] = local.isoformat()
    parsed = RecentItem.model_validate(raw)
    assert parsed.played_at.tzinfo == UTC
    assert parsed.played_at == local
