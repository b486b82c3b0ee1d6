"""Spotify extended history: the three real exports, skips by reason, duplicates, same ids as account data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from parser_data import parsed

from models.events import make_event_id, track_key
from models.parsers import PlaySummary, parse_paths

# folder: accepted, skipped, plays >= 30 s, distinct URIs, duplicate event ids, first, last
REAL = {
    "ext_calebbynum": (
        6435,
        {"episode": 9, "no track or artist": 7},
        6008,
        2604,
        3,
        "2022-12-04T15:33:24Z",
        "2023-12-07T17:46:28Z",
    ),
    "ext_dryd33n": (
        4021,
        {"episode": 179, "no track or artist": 6},
        2139,
        2039,
        18,
        "2022-11-30T20:43:05Z",
        "2023-10-26T21:57:07Z",
    ),
    "ext_erickmay": (
        2079,
        {"no track or artist": 1},
        1601,
        1447,
        1,
        "2014-05-25T05:43:44Z",
        "2021-09-22T20:21:44Z",
    ),
}


@pytest.mark.parametrize("folder", sorted(REAL))
def test_real_exports_match_the_independent_count(folder: str) -> None:
    accepted, skipped, long_plays, uris, duplicates, first, last = REAL[folder]
    report = parsed(folder)
    assert (report.format, report.accepted, report.rejected) == ("spotify-extended", accepted, 0)
    assert report.skipped == Counter(skipped)
    assert sum(1 for e in report.events if (e.ms_played or 0) >= 30_000) == long_plays
    assert len({e.track_uri for e in report.events}) == uris
    assert {e.user_id for e in report.events} == {folder}  # from each row's username
    summary = PlaySummary(min_play_ms=30_000)
    for event in report.events:
        summary.add(event)
    assert summary.duplicate_event_ids == duplicates
    assert (summary.first_played_at, summary.last_played_at) == (first, last)


def test_real_video_file_has_track_rows_and_episodes() -> None:
    video = next(f for f in parsed("ext_dryd33n").files if "Video" in f.path)
    assert (video.accepted, video.skipped) == (1078, Counter({"episode": 178, "no track or artist": 6}))


BASE = {
    "ts": "2023-06-26T22:56:26Z",
    "ms_played": 135625,
    "master_metadata_track_name": "Easy On Them Turns",
    "master_metadata_album_artist_name": "Baird",
    "master_metadata_album_album_name": "BIRDSONGS, Vol. 3",
    "spotify_track_uri": "spotify:track:2UR2cDcRfLiQzPvEV5hWtP",
    "episode_name": None,
    "episode_show_name": None,
    "spotify_episode_uri": None,
    "skipped": None,
    "ip_addr": "0.0.0.0",
}


def _file(tmp_path: Path, rows: list[object], name: str = "Streaming_History_Audio_2023.json") -> Path:
    path = tmp_path / "ana" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path


def test_skip_reasons_episode_audiobook_and_no_track(tmp_path: Path) -> None:
    rows = [
        BASE,
        {
            **BASE,
            "master_metadata_track_name": None,
            "episode_name": "Colors",
            "episode_show_name": "Radiolab",
        },
        {**BASE, "spotify_episode_uri": "spotify:episode:1"},
        {**BASE, "audiobook_title": "Dune", "audiobook_chapter_uri": "spotify:chapter:1"},
        {**BASE, "master_metadata_track_name": None, "spotify_track_uri": None},
        {**BASE, "master_metadata_album_artist_name": " "},
    ]
    report = parse_paths([_file(tmp_path, rows)])
    assert report.accepted == 1
    assert report.skipped == Counter({"episode": 2, "audiobook": 1, "no track or artist": 2})


def test_no_username_takes_the_user_argument_or_the_folder(tmp_path: Path) -> None:
    path = _file(tmp_path, [BASE])
    assert parse_paths([path]).events[0].user_id == "ana"
    assert parse_paths([path], user="bo").events[0].user_id == "bo"


def test_fields_are_read_and_exact_duplicates_share_an_id(tmp_path: Path) -> None:
    rows = [{**BASE, "username": "ana", "skipped": True, "ip_addr_decrypted": "1.2.3.4"}] * 2
    report = parse_paths([_file(tmp_path, rows)])
    one, two = report.events
    assert one == two and one.event_id == two.event_id
    assert one.event_id == make_event_id("ana", track_key("Baird", "Easy On Them Turns"), one.played_at)
    assert (one.ms_played, one.skipped, one.track_uri, one.source) == (
        135625,
        True,
        "spotify:track:2UR2cDcRfLiQzPvEV5hWtP",
        "spotify-extended",
    )


def test_unsorted_old_endsong_layout_keeps_file_order(tmp_path: Path) -> None:
    rows = [{**BASE, "ts": "2021-09-21T19:38:59Z"}, {**BASE, "ts": "2014-05-25T05:43:44Z"}]
    report = parse_paths([_file(tmp_path, rows, name="endsong_0.json")])
    assert [e.played_at.year for e in report.events] == [2021, 2014]


def test_bad_rows_are_rejected_and_the_rest_kept(tmp_path: Path) -> None:
    rows = [
        BASE,
        {**BASE, "ts": None},
        {**BASE, "ms_played": 1.5},
        {**BASE, "ts": "2023-13-01T00:00:00Z"},
        {**BASE, "master_metadata_track_name": 42},
        BASE,
    ]
    report = parse_paths([_file(tmp_path, rows)])
    assert report.accepted == 2
    assert [r.reason for r in report.rejects] == [
        "missing ts",
        "ms_played 1.5 is not a whole number",
        "bad ts '2023-13-01T00:00:00Z' (expected ISO-8601)",
        "master_metadata_track_name is not text ('42')",
    ]


def test_same_song_gets_the_same_id_from_both_layouts(tmp_path: Path) -> None:
    account = tmp_path / "ana" / "StreamingHistory_music_0.json"
    account.parent.mkdir()
    account.write_text(
        json.dumps(
            [
                {
                    "endTime": "2023-06-26 22:56",
                    "artistName": "BAIRD ",
                    "trackName": "easy on  them turns",
                    "msPlayed": 135625,
                }
            ]
        )
    )
    extended = _file(tmp_path, [BASE])
    report = parse_paths([account, extended])
    assert report.format == "spotify-account+spotify-extended"
    from_account, from_extended = report.events
    assert from_account.track_id == from_extended.track_id == track_key("Baird", "Easy On Them Turns")
    assert from_account.user_id == from_extended.user_id == "ana"
    assert from_account.track_uri is None and from_extended.track_uri is not None


def test_two_histories_joined_with_cat_read_as_both(tmp_path: Path) -> None:
    # `cat endsong_0.json endsong_1.json > all.json`: two arrays one after the other.
    source = Path(parsed("ext_erickmay").files[0].path)
    records = json.loads(source.read_text(encoding="utf-8"))
    half = len(records) // 2
    joined = tmp_path / "endsong_all.json"
    parts = (records[:half], records[half:])
    joined.write_text("\n".join(json.dumps(part, indent=2) for part in parts) + "\n")
    whole = tmp_path / "endsong_0.json"
    whole.write_text(json.dumps(records))
    both, one = parse_paths([joined], user="ana"), parse_paths([whole], user="ana")
    assert both.rejected == 0 and both.accepted == one.accepted > half
    assert [p.event_id for p in both.events] == [p.event_id for p in one.events]
