"""Apple Music's ``Apple Music Play Activity.csv``: a real listening history written the
way Apple writes it (segments, out of time order, with the rows that are no plays)
reads back as the same plays; Apple's real rows as published; the export without an
artist column; refusals by line; the listener above Apple's own folders."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from parser_data import parsed

from models.events import PlayEvent, track_key
from models.parsers import parse_paths
from models.parsers.detect import detect_format, guess_format

ACTIVITY = Path("Apple_Media_Services") / "Apple Music Activity" / "Apple Music Play Activity.csv"

#: The 31 columns of a 2018-2020 export, in Apple's (alphabetical) order, and two of its
#: rows verbatim, as published in acoullandreau/apple_music_analyser's test data.
LEGACY_HEADER = (
    "Apple Id Number,Apple Music Subscription,Artist Name,Build Version,Client IP Address,Content Name,"
    "Content Provider,Content Specific Type,Device Identifier,End Position In Milliseconds,End Reason Type,"
    "Event End Timestamp,Event Reason Hint Type,Event Received Timestamp,Event Start Timestamp,Event Type,"
    "Feature Name,Genre,Item Type,Media Duration In Milliseconds,Media Type,Metrics Bucket Id,"
    "Metrics Client Id,Milliseconds Since Play,Offline,Original Title,Play Duration Milliseconds,"
    "Source Type,Start Position In Milliseconds,Store Country Name,UTC Offset In Seconds"
)
LEGACY_ROWS = [
    '"456135196","true","How to Dress Well","Music/3.1 iOS/11.1.2 model/iPad4,1 hwp/s5l8960x build/15B202 '
    '(5; dt:94)","82.251.42.53","World I Need You, Won\'t Be Without You (Proem)",'
    '"Domino Recording Co. Ltd.",'
    '"Song","24624c6f10296739640106ccd5e64ed93f826b1a","168948","NATURAL_END_OF_TRACK",'
    '"2018-01-07T10:37:02.275Z","NOT_SPECIFIED","2018-01-07T10:37:02.440Z","2018-01-07T10:34:13.327Z",'
    '"PLAY_END","search / playlist_detail","Alternative","ITUNES_STORE_CONTENT","168948","AUDIO","3138",'
    '"3z1lCvhhz6UEz5HnzCCSzGuZcO4Is","165","false","","168948","ORIGINATING_DEVICE","0","France","3600"',
    '"456135196","true","Ava Max","Music/3.1 iOS/13.3.1 model/iPhone11,8 hwp/t8020 build/17D50 (6; dt:194)",'
    '"37.165.225.242","Kings & Queens","The Warner Music Group","Song","00008020-000640A102EA002E","","","",'
    '"NOT_SPECIFIED","2020-04-15T13:38:14.233Z","2020-04-15T13:38:14.174Z","PLAY_START","","Pop",'
    '"ITUNES_STORE_CONTENT","162446","AUDIO","4524","3z1HNa4OzEBLz4UlzB43zKHVxf9Rv","59","false","","",'
    '"ORIGINATING_DEVICE","0","France","7200"',
]
#: Some of the columns of a 2023+ export (118 and more): no artist; the album, and one
#: of Apple's names with a curly apostrophe.
MODERN_HEADER = [
    "Album Name", "Apple ID Number", "Container Album Name", "Container Artist Name",
    "End Position In Milliseconds", "End Reason Type", "Event End Timestamp", "Event Start Timestamp",
    "Event Type", "Item Type",
    "Media Duration In Milliseconds", "Media Type", "Play Duration Milliseconds", "Song Name",
    "Start Position In Milliseconds", "User\u2019s Audio Quality",
]  # fmt: skip


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, quoting=csv.QUOTE_ALL, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


def stamp(moment: object) -> str:
    from datetime import datetime

    assert isinstance(moment, datetime)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def segments(play: PlayEvent, n: int, room: timedelta) -> list[dict[str, str]]:
    """One listen as Apple logs it: every third paused once (two PLAY_END rows) where
    ``room`` (the time to the next play) leaves space for a pause (up to two minutes, at
    most half the room), every fourth after its own PLAY_START row."""
    ms = play.ms_played or 0
    reason = {True: "TRACK_SKIPPED_FORWARDS", False: "NATURAL_END_OF_TRACK"}.get(play.skipped, "OTHER")
    base = {"Artist Name": play.artist_name or "", "Content Name": play.track_name or "",
            "Item Type": "ITUNES_STORE_CONTENT", "Media Type": "AUDIO", "Event Type": "PLAY_END"}  # fmt: skip
    paused = n % 3 == 0 and ms > 1 and room > timedelta(0)
    cuts = [(0, ms // 2), (ms // 2, ms)] if paused else [(0, ms)]
    rows, at = [], play.played_at
    for i, (begin, end) in enumerate(cuts):
        last = i == len(cuts) - 1
        rows.append(base | {
            "Event Start Timestamp": stamp(at),
            "Event End Timestamp": stamp(at + timedelta(milliseconds=end - begin)),
            "Play Duration Milliseconds": str(end - begin),
            "Start Position In Milliseconds": str(begin),
            "End Position In Milliseconds": str(end),
            "End Reason Type": reason if last else "PLAYBACK_MANUALLY_PAUSED",
        })  # fmt: skip
        at += timedelta(milliseconds=end - begin) + min(room / 2, timedelta(minutes=2))
    if n % 4 == 0:
        rows.append(base | {"Event Type": "PLAY_START", "Event Start Timestamp": stamp(play.played_at)})
    return rows


def test_a_real_history_as_play_activity_reads_back_as_the_same_plays(tmp_path: Path) -> None:
    named = (p for p in parsed("ext_dryd33n").events if p.artist_name and p.track_name)
    # One play per song and second: Spotify logs a few songs twice in one second (0 ms
    # and a few ms), which no log of segments could tell apart.
    once = {(p.track_id, p.played_at): p for p in sorted(named, key=lambda p: p.ms_played or 0)}
    plays = sorted(once.values(), key=lambda p: p.played_at)[:3000]
    ends = [p.played_at + timedelta(milliseconds=p.ms_played or 0) for p in plays]
    rooms = [max(b.played_at - end, timedelta(0)) for b, end in zip(plays[1:], ends, strict=False)]
    rows = [row for n, p in enumerate(plays) for row in segments(p, n, [*rooms, timedelta(0)][n])]
    paused = sum(1 for row in rows if row.get("End Reason Type") == "PLAYBACK_MANUALLY_PAUSED")
    assert paused > 200  # listens that only come back whole if their segments are joined
    at = {"Event Start Timestamp": "2023-01-01T00:00:00Z", "Play Duration Milliseconds": "9"}
    noise = [
        at | {"Event Type": "LYRIC_DISPLAY", "Content Name": "Jóga"},
        at | {"Event Type": "PLAY_END", "Media Type": "VIDEO", "Content Name": "Clip"},
        at | {"Event Type": "PLAY_END", "Item Type": "AGGREGATE_NON_CATALOG_PLAY_TIME"},
        at | {"Event Type": "PLAY_END", "Content Name": "Jóga", "Play Duration Milliseconds": "-8000",
              "End Reason Type": "SCRUB_END"},
    ]  # fmt: skip
    rows += noise
    random.Random(7).shuffle(rows)  # Apple writes them out of time order
    path = write(tmp_path / "kit" / ACTIVITY, LEGACY_HEADER.split(","), rows)
    assert detect_format(path) == "apple-music"

    back = parse_paths([tmp_path / "kit"])
    starts = sum(1 for n in range(len(plays)) if n % 4 == 0)
    assert back.rejected == 0, back.rejects[:3]
    assert back.skipped == {"play start": starts, "not a play": 1, "video": 1, "not a song": 1, "scrub": 1}

    def key(p: PlayEvent) -> tuple[object, ...]:
        to_ms = p.played_at.replace(microsecond=p.played_at.microsecond // 1000 * 1000)
        return p.track_id, to_ms, p.ms_played

    assert sorted(map(key, back.events)) == sorted(map(key, plays))  # paused listens joined again
    by_time = sorted(back.events, key=lambda p: p.played_at)
    assert [p.played_at for p in back.events] == [p.played_at for p in by_time]
    assert {p.user_id for p in back.events} == {"kit"}  # Apple's own folders say nothing
    assert {p.source for p in back.events} == {"apple-music"}
    skipped = {(p.track_id, p.played_at): p.skipped for p in plays}
    assert all(skipped[p.track_id, p.played_at] == p.skipped for p in back.events)


def test_apples_own_rows_as_published(tmp_path: Path) -> None:
    path = tmp_path / "ana" / ACTIVITY
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([LEGACY_HEADER, *LEGACY_ROWS]) + "\n")
    report = parse_paths([path])
    assert report.format == "apple-music" and report.skipped == {"play start": 1} and report.rejected == 0
    [play] = report.events
    assert play.user_id == "ana"
    song = "World I Need You, Won't Be Without You (Proem)"
    assert (play.artist_name, play.track_name) == ("How to Dress Well", song)
    # The same song gets the id it gets from every other source with its names.
    assert play.track_id == track_key("How to Dress Well", song)
    assert play.played_at.isoformat() == "2018-01-07T10:34:13.327000+00:00"
    assert (play.ms_played, play.skipped) == (168948, False)


def test_apples_download_is_read_as_it_comes_an_archive_inside_an_archive(tmp_path: Path) -> None:
    """The download holds ``Apple_Media_Services.zip``, which holds the music activity
    beside files of no plays (daily totals): read in place, none of it unzipped."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as media:
        activity = "\n".join([LEGACY_HEADER, *LEGACY_ROWS]) + "\n"
        daily = "Country,Track Identifier,Media type,Date Played,Hours,Play Duration Milliseconds\n"
        media.writestr(f"Apple Music Activity/{ACTIVITY.name}", activity)
        media.writestr("Apple Music Activity/Apple Music - Play History Daily Tracks.csv", daily)
    download = tmp_path / "ana" / "Apple Media Services information.zip"
    download.parent.mkdir()
    with zipfile.ZipFile(download, "w") as outer:
        outer.writestr("Apple_Media_Services.zip", inner.getvalue())
    report = parse_paths([tmp_path / "ana"])
    assert report.format == "apple-music" and [p.user_id for p in report.events] == ["ana"]
    assert [Path(p).name for p in report.ignored] == ["Apple Music - Play History Daily Tracks.csv"]
    assert report.files[0].path.endswith(f"Apple_Media_Services.zip/Apple Music Activity/{ACTIVITY.name}")


def modern(song: str, album: str, start: str, ms: int, *, position: int = 0, event: str = "PLAY_END",
           reason: str = "NATURAL_END_OF_TRACK") -> dict[str, str]:  # fmt: skip
    return {
        "Album Name": album, "Song Name": song, "Event Type": event, "Event Start Timestamp": start,
        "Play Duration Milliseconds": str(ms), "Start Position In Milliseconds": str(position),
        "End Reason Type": reason, "Item Type": "ITUNES_STORE_CONTENT", "Media Type": "AUDIO",
        "User\u2019s Audio Quality": "HIGH_QUALITY",
    }  # fmt: skip


def test_an_export_without_artists_keys_songs_by_album_and_joins_only_close_segments(tmp_path: Path) -> None:
    rows = [
        modern("Intro", "xx", "2024-01-05T08:00:00.000Z", 60_000, reason="PLAYBACK_MANUALLY_PAUSED"),
        # The same listen resumed 10 minutes later; then again, after an hour: a new play.
        modern("Intro", "xx", "2024-01-05T08:11:00.000Z", 40_000, position=60_000, reason="SCRUB_BEGIN"),
        modern("Intro", "xx", "2024-01-05T08:11:45.000Z", 30_000, position=100_000),
        modern("Intro", "xx", "2024-01-05T09:30:00.000Z", 20_000, position=130_000),
        # A song of the same name on another album is another song; a replay from the start is a play.
        modern("Intro", "Coexist", "2024-01-05T10:00:00.000Z", 127_000),
        modern("Intro", "Coexist", "2024-01-05T10:02:07.000Z", 5_000, reason="TRACK_SKIPPED_FORWARDS"),
        # 2015-2016 rows have no event type and are plays.
        modern("Angels", "xx", "2015-07-01T12:00:00.000Z", 171_000, event=""),
    ]
    path = write(tmp_path / "mo" / ACTIVITY, MODERN_HEADER, rows)
    assert guess_format(path) == "apple-music"
    report = parse_paths([path])
    assert report.rejected == 0
    got = [(p.track_name, p.played_at.strftime("%H:%M"), p.ms_played, p.skipped) for p in report.events]
    assert got == [
        ("Angels", "12:00", 171_000, False),
        ("Intro", "08:00", 130_000, False),
        ("Intro", "09:30", 20_000, False),
        ("Intro", "10:00", 127_000, False),
        ("Intro", "10:02", 5_000, True),
    ]
    ids = {(p.track_name, p.played_at.hour): p.track_id for p in report.events}
    assert ids["Intro", 8] == ids["Intro", 9] == track_key("album: xx", "Intro")
    assert ids["Intro", 10] == track_key("album: Coexist", "Intro") != ids["Intro", 8]
    assert all(p.artist_name is None for p in report.events)


def test_each_refusal_names_its_line_and_loses_nothing_else(tmp_path: Path) -> None:
    good = modern("Intro", "xx", "2024-01-05T08:00:00.000Z", 60_000)
    rows = [
        good,
        modern("Crystalised", "xx", "yesterday", 60_000),
        modern("Islands", "xx", "2024-01-05T09:00:00.000Z", 0) | {"Play Duration Milliseconds": "a minute"},
        modern("VCR", "xx", "", 60_000),  # no start, and no end to count back from
    ]
    path = write(tmp_path / "mo" / ACTIVITY, MODERN_HEADER, rows)
    with path.open("a") as out:
        out.write('"too","few"\n')
    report = parse_paths([path])
    assert [p.track_name for p in report.events] == ["Intro"]
    assert [(r.location, r.reason) for r in report.rejects] == [
        ("line 3", "bad Event Start Timestamp 'yesterday' (expected ISO-8601)"),
        ("line 4", "bad Play Duration Milliseconds 'a minute' (expected a whole number)"),
        ("line 5", "no Event Start Timestamp, and no Event End Timestamp with a play duration"),
        ("line 6", f"expected {len(MODERN_HEADER)} columns, got 2"),
    ]


@pytest.mark.parametrize(
    "header",
    [
        # Apple's daily totals and last-played lists are no plays: not read as plays.
        "Country,Track Identifier,Media type,Date Played,Hours,Play Duration Milliseconds,End Reason Type,"
        "Source Type,Play Count,Skip Count,Ignore For Recommendations,Track Reference,Track Description",
        '"Track Name","Last Played Date","Is User Initiated"',
    ],
)
def test_apples_other_music_files_are_not_taken_for_play_activity(tmp_path: Path, header: str) -> None:
    path = tmp_path / "other.csv"
    path.write_text(header + "\n")
    assert guess_format(path) != "apple-music"
