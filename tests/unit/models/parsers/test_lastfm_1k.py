"""Last.fm 1K TSV: MBIDs as ids, names as a fallback, skips and rejects."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from models.events import track_key
from models.parsers import detect_format, parse_paths

ROWS = (
    "user_000001\t2009-05-04T23:08:57Z\tf1b1cf71-bd35-4e99-8624-24a6e15f133a\t"
    "Deep Dish\t\tFuck Me Im Famous\n"
    "user_000001\t2009-05-04T13:54:10Z\ta7f7df4a-77d8-4f12-8acd-5c60c93f4de8\t坂本龍一\t"
    "f7c1f8f8-b935-45ed-8fc8-7def69d92a10\tComposition 0919 (Live_2009_4_15)\n"
    "user_000002\t2009-05-04T13:52:04Z\t\t\t\t\n"
    "user_000002\tnot-a-time\t\tA\t\tB\n"
    "user_000002\t2009-05-04T13:42:52Z\tonly four\tcolumns\n"
    "\t2009-05-04T13:42:52Z\t\tArtist\t\tTrack\n"
)


def test_rows_become_plays_skips_and_rejects(tmp_path: Path) -> None:
    path = tmp_path / "userid-timestamp-artid-artname-traid-traname.tsv"
    path.write_text(ROWS, encoding="utf-8")
    assert detect_format(path) == "lastfm-1k"
    report = parse_paths([path])
    names_only, with_mbid = report.events
    assert names_only.track_id == track_key(
        "Deep Dish", "Fuck Me Im Famous"
    )  # same id a Spotify export gives
    assert with_mbid.track_id == "f7c1f8f8-b935-45ed-8fc8-7def69d92a10"
    assert with_mbid.artist_name == "坂本龍一"
    assert names_only.played_at == datetime(2009, 5, 4, 23, 8, 57, tzinfo=UTC)
    assert names_only.ms_played is None and names_only.source == "lastfm-1k"
    assert report.skipped == Counter({"no track or artist": 1})
    assert [(r.location, r.reason) for r in report.rejects] == [
        ("line 4", "bad timestamp 'not-a-time' (expected ISO-8601)"),
        ("line 5", "expected 6 tab-separated columns, got 4"),
        ("line 6", "empty user_id"),
    ]
