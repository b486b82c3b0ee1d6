"""Last.fm scrobble exports ("Recent Tracks" CSV): real listening histories written out
as an export, read back exactly; the listener from the export's file name; refusals."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from parser_data import parsed

from models.events import PlayEvent
from models.parsers import parse_paths
from models.parsers.detect import detect_format
from models.parsers.report import UnusableInput

HEADER = ["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"]


def export(plays: list[PlayEvent], path: Path, *, newline: str = "\n", bom: bool = False) -> Path:
    """The plays as lastfm.ghan.nl writes them: every value quoted, newest first."""
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        out = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator=newline)
        fh.write(",".join(HEADER) + newline)
        for p in sorted(plays, key=lambda p: p.played_at, reverse=True):
            when = p.played_at.strftime("%d %b %Y, %H:%M")
            out.writerow([int(p.ts), when, p.artist_name, "", "", "", p.track_name, "mbid-sometimes"])
    return path


def counted(folder: str) -> list[PlayEvent]:
    return [p for p in parsed(folder).events if p.ms_played is not None and p.ms_played >= 30_000]


@pytest.mark.parametrize(
    ("folder", "newline", "bom"), [("ext_dryd33n", "\n", False), ("acct_xkitsune47", "\r\n", True)]
)
def test_a_real_history_reads_back_as_the_same_plays(
    folder: str, newline: str, bom: bool, tmp_path: Path
) -> None:
    spotify = counted(folder)
    path = export(spotify, tmp_path / "scrobbles-jbtwaalf-1700169007.csv", newline=newline, bom=bom)
    assert detect_format(path) == "lastfm-scrobbles"
    back = parse_paths([path])
    assert back.rejected == 0 and not back.skipped

    def key(p: PlayEvent) -> tuple[object, ...]:
        return (p.track_id, p.played_at, p.track_name, p.artist_name)

    # Same songs and times as the Spotify export (same track ids: names, not MBIDs).
    assert sorted(map(key, back.events)) == sorted(map(key, spotify))
    assert {p.user_id for p in back.events} == {"jbtwaalf"}
    assert {p.source for p in back.events} == {"lastfm"}


def test_the_listener_is_the_one_given_else_the_file_name_else_the_folder(tmp_path: Path) -> None:
    plays = counted("ext_dryd33n")[:20]
    (tmp_path / "ana").mkdir()
    named = export(plays, tmp_path / "ana" / "scrobbles-ana_lfm-1700169007.csv")
    plain = export(plays, tmp_path / "ana" / "recenttracks.csv")
    assert {p.user_id for p in parse_paths([named]).events} == {"ana_lfm"}
    assert {p.user_id for p in parse_paths([plain]).events} == {"ana"}
    assert {p.user_id for p in parse_paths([named], user="bob").events} == {"bob"}


def test_each_refusal_names_its_line_and_reason_and_loses_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "scrobbles.csv"
    path.write_text(
        ",".join(HEADER) + "\n"
        '"1700000000","14 Nov 2023, 22:13","Björk","","Homogenic","","Jóga",""\n'
        '"","14 Nov 2023, 22:09","Björk","","Homogenic","","Hunter",""\n'
        '"","","Björk","","Homogenic","","Bachelorette",""\n'
        '"0","01 Jan 1970, 00:00","Björk","","","","5 Years",""\n'
        '"1699990000","","","","","","",""\n'
        '"1699980000","","Björk","Homogenic","Jóga"\n'
        '"1699970000","14 Nov 2023, 14:46","Björk","","Homogenic","","All Is Full of Love",""\n'
    )
    report = parse_paths([path])
    reasons = {r.location: r.reason for r in report.rejects}
    assert [p.track_name for p in report.events] == ["Jóga", "Hunter", "All Is Full of Love"]
    assert report.events[1].played_at.isoformat() == "2023-11-14T22:09:00+00:00"
    assert reasons == {
        "line 4": "no uts, and bad utc_time ''",
        "line 5": "bad uts '0' (expected Unix seconds)",
        "line 7": "expected 8 columns, got 5",
    }
    assert report.skipped == {"no track or artist": 1}


def test_a_file_without_the_header_is_refused_once(tmp_path: Path) -> None:
    path = tmp_path / "scrobbles.csv"
    path.write_text('"1700000000","14 Nov 2023, 22:13","Björk","","Homogenic","","Jóga",""\n')
    report = parse_paths([path], format="lastfm")
    assert report.accepted == 0 and len(report.rejects) == 1
    assert report.rejects[0].reason.startswith("no header naming uts,utc_time,artist,track")


def clean(text: str | None) -> str:
    """A name as lastfm-to-csv writes it: commas and quotes stripped."""
    return (text or "").replace(",", "").replace('"', "")


def to_csv_export(plays: list[PlayEvent], path: Path, *, header: bool) -> Path:
    """The plays as benjaminbenben's lastfm-to-csv writes them: no quoting, newest
    first, times to the minute, a still-playing row on top."""
    newest = sorted(plays, key=lambda p: p.played_at, reverse=True)
    lines = ["artist,album,name,date"] if header else []
    lines.append(f"{clean(newest[0].artist_name)},,{clean(newest[0].track_name)},")  # now playing
    for p in newest:
        when = p.played_at.strftime("%d %b %Y %H:%M")
        lines.append(f"{clean(p.artist_name)},,{clean(p.track_name)},{when}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("header", [False, True])
def test_a_real_history_from_lastfm_to_csv_reads_back_as_the_same_plays(header: bool, tmp_path: Path) -> None:
    spotify = counted("ext_dryd33n")
    path = to_csv_export(spotify, tmp_path / "jbtwaalf.csv", header=header)
    assert detect_format(path) == "lastfm-scrobbles"
    back = parse_paths([path])
    assert back.rejected == 0 and back.skipped == {"now playing": 1}

    def key(p: PlayEvent) -> tuple[object, ...]:
        return (clean(p.track_name), clean(p.artist_name), p.played_at.replace(second=0))

    assert sorted(map(key, back.events)) == sorted(map(key, spotify))
    assert {p.user_id for p in back.events} == {"jbtwaalf"}
    assert parse_paths([path], user="bob").events[0].user_id == "bob"


def test_lastfm_to_csv_refusals_name_their_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "ana.csv"
    path.write_text(
        "Björk,Homogenic,Jóga,14 Nov 2023 22:13\n"
        "Björk,Homogenic,Hunter,14 Nov 2023 2209\n"
        "Björk,Homogenic,Bachelorette,01 Jan 1970 00:00\n"
        ",Homogenic,,14 Nov 2023 22:01\n"
        "Björk,Homogenic,5 Years\n"
        "Björk,Homogenic,All Is Full of Love,14 Nov 2023 14:46\n",
        encoding="utf-8",
    )
    report = parse_paths([path])
    assert [p.track_name for p in report.events] == ["Jóga", "All Is Full of Love"]
    assert report.events[0].played_at.isoformat() == "2023-11-14T22:13:00+00:00"
    assert {r.location: r.reason for r in report.rejects} == {
        "line 2": "bad date '14 Nov 2023 2209' (expected like '31 Jan 2021 14:05')",
        "line 3": "scrobble time 1970-01-01T00:00:00+00:00 is before 2002",
        "line 5": "expected 4 columns, got 3",
    }
    assert report.skipped == {"no track or artist": 1}


def test_four_columns_without_a_date_are_no_lastfm_to_csv(tmp_path: Path) -> None:
    path = tmp_path / "ana.csv"
    path.write_text("Björk,Homogenic,Jóga,yesterday\nBjörk,Homogenic,Hunter,\n", encoding="utf-8")
    with pytest.raises(UnusableInput, match="format not recognised"):
        detect_format(path)


@pytest.mark.parametrize(
    "name",
    [
        "jdoe.csv",
        "jdoe (1).csv",
        "jdoe(2).csv",
        "jdoe - Copy.csv",
        "scrobbles-jdoe-1673000000.csv",
        "scrobbles-jdoe-1673000000 (1).csv",
        "scrobbles-jdoe-1673000000 - Copy (2).csv",
    ],
)
def test_a_browser_copy_suffix_is_not_part_of_the_listener(name: str, tmp_path: Path) -> None:
    plays = counted("ext_dryd33n")[:20]
    path = tmp_path / "downloads" / name
    path.parent.mkdir()
    if name.startswith("scrobbles-"):
        export(plays, path)
    else:
        to_csv_export(plays, path, header=False)
    assert detect_format(path) == "lastfm-scrobbles"
    assert {p.user_id for p in parse_paths([path]).events} == {"jdoe"}
