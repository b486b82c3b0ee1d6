"""Spotify account data: the real export, seq for same-minute replays, podcasts, listener ids."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

from parser_data import SPOTIFY, need, parsed

from models.events import track_key
from models.parsers import parse_paths


def test_real_export_matches_the_independent_count() -> None:
    report = parsed("acct_xkitsune47")
    assert (report.format, report.accepted, report.rejected) == ("spotify-account", 30150, 0)
    assert report.skipped == Counter()
    assert [f.accepted for f in report.files] == [10000, 10000, 10000, 150]
    assert sum(1 for e in report.events if e.ms_played is not None and e.ms_played >= 30_000) == 26255
    times = sorted(e.played_at for e in report.events)
    assert (times[0].isoformat(), times[-1].isoformat()) == (
        "2023-09-22T20:15:00+00:00",
        "2024-09-23T21:58:00+00:00",
    )
    assert {e.user_id for e in report.events} == {"acct_xkitsune47"}  # the folder names the listener
    assert {e.source for e in report.events} == {"spotify-account"}


def test_same_track_in_the_same_minute_gets_its_own_seq_and_id() -> None:
    events = parsed("acct_xkitsune47").events
    assert len({e.event_id for e in events}) == len(events)  # no play lost to a shared id
    repeats = [e for e in events if e.seq > 0]
    assert len(repeats) == 234
    for event in repeats[:50]:
        twins = [
            e
            for e in events
            if (e.user_id, e.track_id, e.played_at) == (event.user_id, event.track_id, event.played_at)
        ]
        assert sorted(t.seq for t in twins) == list(range(len(twins)))


def _write(path: Path, rows: list[dict[str, object]], **dump: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, **dump), encoding="utf-8")  # type: ignore[arg-type]
    return path


ROW = {"endTime": "2024-01-05 08:01", "artistName": "Björk", "trackName": "Jóga", "msPlayed": 300000}


def test_podcast_file_rows_are_skipped_as_podcast(tmp_path: Path) -> None:
    podcast = {
        "endTime": "2024-01-05 09:00",
        "podcastName": "Radiolab",
        "episodeName": "Colors",
        "msPlayed": 5,
    }
    _write(tmp_path / "ana" / "StreamingHistory_podcast_0.json", [podcast, podcast])
    _write(tmp_path / "ana" / "StreamingHistory_music_0.json", [ROW])
    report = parse_paths([tmp_path / "ana"])
    assert (report.accepted, report.skipped, report.rejected) == (1, Counter({"podcast": 2}), 0)
    assert report.format == "spotify-account"


def test_empty_podcast_file_is_read_by_its_name(tmp_path: Path) -> None:
    path = tmp_path / "StreamingHistory_podcast_0.json"
    path.write_text("[]")
    report = parse_paths([path])
    assert (report.format, report.accepted) == ("spotify-account", 0)


def test_listener_is_user_argument_then_folder_and_username_wins(tmp_path: Path) -> None:
    path = _write(tmp_path / "my_spotify_data" / "Spotify Account Data" / "StreamingHistory0.json", [ROW])
    assert parse_paths([path]).events[0].user_id == tmp_path.name  # generic folders passed over
    assert parse_paths([path], user="ana").events[0].user_id == "ana"
    named = _write(tmp_path / "x" / "StreamingHistory0.json", [{**ROW, "username": "bo"}])
    assert parse_paths([named], user="ana").events[0].user_id == "bo"


def test_bad_rows_are_rejected_with_record_and_line_and_the_rest_kept(tmp_path: Path) -> None:
    rows = [
        ROW,
        {**ROW, "endTime": "yesterday"},
        {**ROW, "msPlayed": -3},
        {**ROW, "msPlayed": "many"},
        {k: v for k, v in ROW.items() if k != "endTime"},
        {**ROW, "artistName": None},
        {**ROW, "trackName": "   "},
        {**ROW, "endTime": "1999-01-01 00:00"},
        [1, 2],
        {**ROW, "artistName": "Unknown Artist", "trackName": "Unknown Track", "msPlayed": 0},
    ]
    path = _write(tmp_path / "ana" / "StreamingHistory0.json", rows, indent=2)
    report = parse_paths([path])
    assert report.accepted == 2
    assert report.skipped == Counter({"no track or artist": 2})
    assert [(r.location.split(" (")[0], r.reason) for r in report.rejects] == [
        ("record 2", "bad endTime 'yesterday' (expected ISO-8601)"),
        ("record 3", "negative msPlayed -3"),
        ("record 4", "msPlayed 'many' is not a number"),
        ("record 5", "missing endTime"),
        ("record 8", "played_at 1999-01-01T00:00:00+00:00 is before 2000-01-01"),
        ("record 9", "record is not a JSON object"),
    ]
    assert report.rejects[0].location == "record 2 (line 8)"  # pretty-printed: 6 lines a record
    assert report.events[1].ms_played == 0  # placeholders and 0 ms plays are plays


def test_bom_gz_and_compact_give_the_same_plays(tmp_path: Path) -> None:
    rows = [ROW, {**ROW, "endTime": "2024-01-05 08:07", "trackName": "Hunter"}]
    plain = _write(tmp_path / "a" / "StreamingHistory0.json", rows, indent=2)
    packed = tmp_path / "a2" / "StreamingHistory0.json.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(b"\xef\xbb\xbf" + json.dumps(rows, separators=(",", ":")).encode()))
    one, two = parse_paths([plain], user="ana"), parse_paths([packed], user="ana")
    assert one.events == two.events and len(one.events) == 2
    assert one.events[0].track_id == track_key("BJÖRK", "jóga")


def test_every_real_file_is_detected_as_account_data() -> None:
    from models.parsers import detect_format

    for path in sorted(need(SPOTIFY / "acct_xkitsune47").glob("*.json")):
        assert detect_format(path) == "spotify-account"
