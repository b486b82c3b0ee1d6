"""Other tools' CSVs: a real history written in Kaggle's Spotify layout reads back as
the same plays; usual column names, time forms and listeners; refusals by line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from parser_data import parsed

from models.events import PlayEvent, track_key
from models.parsers import UnusableInput, parse_paths
from models.parsers.detect import detect_format

#: Kaggle's "Spotify streaming history" (Maven Analytics) columns, in its order.
KAGGLE = [
    "spotify_track_uri", "ts", "platform", "ms_played", "track_name", "artist_name",
    "album_name", "reason_start", "reason_end", "shuffle", "skipped",
]  # fmt: skip


def kaggle_csv(plays: list[PlayEvent], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(KAGGLE)
        for p in plays:
            skipped = "" if p.skipped is None else str(p.skipped).upper()
            when = p.played_at.strftime("%Y-%m-%d %H:%M:%S")
            out.writerow([p.track_uri or "", when, "android", p.ms_played, p.track_name, p.artist_name,
                          "", "trackdone", "trackdone", "FALSE", skipped])  # fmt: skip
    return path


def test_a_real_extended_history_in_kaggle_layout_reads_back_as_the_same_plays(tmp_path: Path) -> None:
    spotify = parsed("ext_dryd33n").events
    folder = tmp_path / spotify[0].user_id
    folder.mkdir()
    path = kaggle_csv(spotify, folder / "spotify_history.csv")
    assert detect_format(path) == "named-csv"
    back = parse_paths([path])
    assert back.rejected == 0 and not back.skipped

    def key(p: PlayEvent) -> tuple[object, ...]:
        return (
            p.user_id,
            p.track_id,
            p.played_at,
            p.ms_played,
            p.track_name,
            p.artist_name,
            p.track_uri,
            p.skipped,
        )

    assert [key(p) for p in back.events] == [key(p) for p in spotify]
    assert {p.source for p in back.events} == {"csv"}


def test_usual_names_time_forms_and_listeners(tmp_path: Path) -> None:
    path = tmp_path / "scrobbles.csv"
    path.write_text(
        "Timestamp,User Name,Artist,Title,Album\n"
        "1700000000,ana,Björk,Jóga,Homogenic\n"
        "1700000000123,bob,Björk,Hunter,Homogenic\n"
        "2023-11-14T22:13:20+01:00,ana,Björk,Jóga,Homogenic\n"
        "14 Nov 2023 22:13,,Björk,Bachelorette,Homogenic\n",
        encoding="utf-8",
    )
    report = parse_paths([path], user="carl")
    assert report.format == "named-csv" and report.rejected == 0
    got = [(p.user_id, p.track_id, p.played_at.isoformat()) for p in report.events]
    assert got == [
        ("ana", track_key("Björk", "Jóga"), "2023-11-14T22:13:20+00:00"),
        ("bob", track_key("Björk", "Hunter"), "2023-11-14T22:13:20.123000+00:00"),
        ("ana", track_key("Björk", "Jóga"), "2023-11-14T21:13:20+00:00"),
        ("carl", track_key("Björk", "Bachelorette"), "2023-11-14T22:13:00+00:00"),  # no user: --user
    ]


def test_separate_date_and_time_columns_are_joined(tmp_path: Path) -> None:
    path = tmp_path / "backup.csv"
    path.write_text("date,time,artist,song\n2021-04-01,10:42:53,PRO8L3M,Backstage\n", encoding="utf-8")
    (play,) = parse_paths([path]).events
    assert play.played_at.isoformat() == "2021-04-01T10:42:53+00:00"


def test_spotify_json_converted_to_csv_keeps_its_names_and_skips_episodes(tmp_path: Path) -> None:
    path = tmp_path / "streaming_history.csv"
    path.write_text(
        "ts,username,ms_played,master_metadata_track_name,master_metadata_album_artist_name,"
        "spotify_track_uri,episode_name,spotify_episode_uri\n"
        "2023-08-07T21:07:25Z,jirek,108019,I Want It That Way,Backstreet Boys,spotify:track:47BB,,\n"
        "2023-08-07T21:10:25Z,jirek,1200000,,,,Ep 12,spotify:episode:9x\n",
        encoding="utf-8",
    )
    report = parse_paths([path])
    assert [(p.user_id, p.track_uri) for p in report.events] == [("jirek", "spotify:track:47BB")]
    assert report.skipped == {"episode": 1}


def test_a_file_of_ids_only_keeps_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text("listened_at,user,track_id\n1700000000,ana,mbid-1\n", encoding="utf-8")
    (play,) = parse_paths([path]).events
    assert (play.user_id, play.track_id, play.track_name) == ("ana", "mbid-1", None)


def test_each_refusal_names_its_line_and_reason_and_loses_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "ts,track_name,artist_name,ms_played,skipped\n"
        "2023-11-14 22:13:20,Jóga,Björk,305000,false\n"
        "noon,Hunter,Björk,1000,\n"
        "2023-11-14 22:20:00,,Björk,1000,\n"
        "2023-11-14 22:25:00,Bachelorette,Björk,-5,maybe\n"
        "1900-01-01 00:00:00,5 Years,Björk,1000,\n"
        "2023-11-14 22:30:00,All Is Full of Love\n"
        "2023-11-14 22:35:00,Alarm Call,Björk,200000,true\n",
        encoding="utf-8",
    )
    report = parse_paths([path])
    assert [p.track_name for p in report.events] == ["Jóga", "Alarm Call"]
    assert report.skipped == {"no track or artist": 1}
    reasons = {r.location: r.reason for r in report.rejects}
    assert reasons["line 3"] == "bad ts 'noon' (expected ISO-8601, Unix time or '31 Jan 2021 14:05')"
    assert reasons["line 5"] == "negative ms_played -5; skipped 'maybe' is not true or false"
    assert reasons["line 6"].startswith("played_at 1900-01-01T00:00:00+00:00 is before")
    assert reasons["line 7"] == "expected 5 columns, got 2"
    assert len(reasons) == 4


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("user_id,track_id,played_at", "csv"),  # the project's own CSV first
        ("uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid", "lastfm-scrobbles"),
        ("ts,track_name,artist_name", "named-csv"),
    ],
)
def test_more_specific_formats_are_told_first(header: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text(header + "\n", encoding="utf-8")
    assert detect_format(path) == expected


@pytest.mark.parametrize("header", ["artist,title,album", "ts,album,platform", "ts,artist_name"])
def test_a_header_without_a_time_and_a_track_is_no_play_file(header: str, tmp_path: Path) -> None:
    path = tmp_path / "library.csv"
    path.write_text(header + "\nBjörk,Jóga,Homogenic\n", encoding="utf-8")
    with pytest.raises(UnusableInput, match="format not recognised"):
        detect_format(path)
    report = parse_paths([path], format="named")
    assert report.accepted == 0
    assert [r.reason for r in report.rejects] == [
        "no header naming a time and a track (artist and title, or a track id; "
        "columns split at commas, semicolons or tabs)"
    ]


#: A European Excel's "CSV (semicolon delimited)": semicolons, decimal commas, quotes
#: around a name holding a semicolon, Windows-1252, CRLF.
EXCEL_SEMICOLONS = (
    "Date;Time;Artist;Track Name;Album;Rating\r\n"
    "05.01.2023;;;;;\r\n"
    "2023-01-05;14:03:00;Radiohead;Airbag;OK Computer;4,5\r\n"
    '2023-01-05;14:07:00;Björk;"Jóga; live";Homogenic;5\r\n'
    "2023-01-05;14:11:00;Sigur Rós;Hoppípolla;Takk...;3,0\r\n"
)


def test_a_semicolon_csv_from_a_european_excel_is_read(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_bytes(EXCEL_SEMICOLONS.encode("cp1252"))
    assert detect_format(path) == "named-csv"
    report = parse_paths([path], user="ana")
    got = [(p.user_id, p.artist_name, p.track_name, p.played_at.isoformat()) for p in report.events]
    assert got == [
        ("ana", "Radiohead", "Airbag", "2023-01-05T14:03:00+00:00"),
        ("ana", "Björk", "Jóga; live", "2023-01-05T14:07:00+00:00"),
        ("ana", "Sigur Rós", "Hoppípolla", "2023-01-05T14:11:00+00:00"),
    ]
    assert report.skipped == {"no track or artist": 1}
    assert report.rejected == 0


def test_a_tab_separated_file_with_a_header_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plays.tsv"
    path.write_text(
        "ts\tuser\tartist_name\ttrack_name\tms_played\n"
        "2023-11-14T22:13:20+01:00\tana\tAC/DC\tT.N.T., live\t215000\n"
        "1700000000\tbob\tBjörk\tJóga\t\n",
        encoding="utf-8",
    )
    assert detect_format(path) == "named-csv"
    report = parse_paths([path])
    got = [(p.user_id, p.track_id, p.played_at.isoformat(), p.ms_played) for p in report.events]
    assert got == [
        ("ana", track_key("AC/DC", "T.N.T., live"), "2023-11-14T21:13:20+00:00", 215000),
        ("bob", track_key("Björk", "Jóga"), "2023-11-14T22:13:20+00:00", None),
    ]


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("ts;artist;track;Notes, misc", "1700000000;Toto;Africa;live, 1982"),
        ("ts,artist,track,Notes; misc", "1700000000,Toto,Africa,live; 1982"),
        ("ts\tartist\ttrack\tNotes; misc, more", "1700000000\tToto\tAfrica\tlive; 1982, LA"),
    ],
)
def test_the_delimiter_is_the_one_splitting_the_header_into_most_known_names(
    header: str, row: str, tmp_path: Path
) -> None:
    path = tmp_path / "plays.csv"
    path.write_text(header + "\n" + row + "\n", encoding="utf-8")
    report = parse_paths([path])
    assert (report.format, report.accepted, report.rejected) == ("named-csv", 1, 0)
    play = report.events[0]
    assert (play.artist_name, play.track_name) == ("Toto", "Africa")
    assert play.played_at.isoformat() == "2023-11-14T22:13:20+00:00"


def test_account_data_written_as_csv_keeps_its_same_minute_replays(tmp_path: Path) -> None:
    # Spotify's account data has minute times: the same track twice in one minute is
    # two plays (seq 0 and 1), in JSON and in the CSV that tools convert it to.
    plays = parsed("acct_xkitsune47").events
    assert any(p.seq > 0 for p in plays)  # the real history has such replays
    path = tmp_path / "ana" / "StreamingHistory.csv"
    path.parent.mkdir()
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["endTime", "artistName", "trackName", "msPlayed"])
        for p in plays:
            out.writerow([p.played_at.strftime("%Y-%m-%d %H:%M"), p.artist_name, p.track_name, p.ms_played])
    back = parse_paths([path], user=plays[0].user_id)
    assert back.format == "named-csv" and back.rejected == 0
    assert sorted(p.event_id for p in back.events) == sorted(p.event_id for p in plays)
    # With seconds in the time, the same row twice is the same play.
    twice = tmp_path / "twice.csv"
    twice.write_text("ts,artist,track\n" + "2024-01-05 08:01:07,DODI,Intro\n" * 2)
    assert len({p.event_id for p in parse_paths([twice]).events}) == 1
