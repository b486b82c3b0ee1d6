"""Deezer's listening history: a real listening history written as Deezer's workbook
(a dozen sheets, the plays in ``10_listeningHistory``, every cell text, rows out of
order, some repeated) reads back as the same plays, and so does the sheet saved as a
CSV; rows of real exports; refusals by line; damaged workbooks refused by name."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from parser_data import parsed

from models.events import PlayEvent, track_key
from models.parsers import UnusableInput, parse_paths
from models.parsers.detect import detect_format

HEADER = ["Song Title", "Artist", "ISRC", "Album Title", "IP Address", "Listening Time", "Platform Name",
          "Platform Model", "Date"]  # fmt: skip
#: The sheets of a 2024 export, in order.
SHEETS = ["1_creationData", "2_customizationData", "3_setupData", "4_favoriteArtist", "5_favoriteAlbum",
          "6_favoritePodcast", "7_favoritePlaylist", "8_favoriteSong", "9_dislikedTracks",
          "10_listeningHistory", "11_playlistCreated", "12_businessData", "13_navigationData",
          "14_tracking"]  # fmt: skip
#: Rows of real exports (MarionBml/deezer-dataset, 2025; RGalacho/ltbrainz-deezer-importer's
#: fixture), their IP addresses left out.
REAL_ROWS = [
    ["I'm Not a Girl, Not Yet a Woman", "Britney Spears", "USJI10100424", "Greatest Hits: My Prerogative", "",
     "-1", "None", "None", "2012-05-24 17:30:56"],
    ["Sunshine & City Lights", "Greyson Chance", "USUM71212066", "Sunshine & City Lights", "", "222",
     "android", "Google Pixel 4a", "2025-09-13 09:57:22"],
    ["Seven Beers With The Wrong Woman", "King Dude", "USA2P2413450", "Songs of The 1940s - Vol. 3 & 4", "",
     "218", "web", "", "2024-07-06 11:05:37"],
]  # fmt: skip


def as_row(play: PlayEvent) -> list[str]:
    seconds = "-1" if play.ms_played is None else str(play.ms_played // 1000)
    return [play.track_name or "", play.artist_name or "", "ISRC0000", "Album", "0.0.0.0", seconds, "android",
            "Pixel", play.played_at.strftime("%Y-%m-%d %H:%M:%S")]  # fmt: skip


def workbook(path: Path, rows: list[list[str]]) -> Path:
    """``rows`` as Deezer writes them: in ``10_listeningHistory`` among the other sheets,
    every cell an inline string (openpyxl writes shared strings: the cells are set as
    text, which is what a reader sees either way)."""
    book = Workbook()
    book.active.title = SHEETS[0]
    for name in SHEETS[1:]:
        book.create_sheet(name)
    book[SHEETS[1]].append(["Not", "plays"])
    history = book["10_listeningHistory"]
    history.append(HEADER)
    for row in rows:
        history.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def test_a_real_history_as_deezers_workbook_reads_back_as_the_same_plays(tmp_path: Path) -> None:
    plays = [p for p in parsed("ext_dryd33n").events if p.artist_name and p.track_name][:3000]
    rows = [as_row(p) for p in plays]
    rows += rows[:25]  # repeated word for word, as in real exports
    random.Random(3).shuffle(rows)  # and out of time order
    path = workbook(tmp_path / "kit" / "deezer-data_2175171744.xlsx", rows)
    assert detect_format(path) == "deezer"

    back = parse_paths([tmp_path / "kit"])
    assert back.rejected == 0 and back.skipped == {} and back.accepted == len(rows)

    def key(p: PlayEvent) -> tuple[object, ...]:  # Deezer writes whole seconds
        ms = None if p.ms_played is None else p.ms_played // 1000 * 1000
        return p.track_id, p.played_at.replace(microsecond=0), ms

    assert sorted(set(map(key, back.events))) == sorted(set(map(key, plays)))
    assert len({p.event_id for p in back.events}) == len(set(map(key, plays)))  # a repeat is the same play
    assert {p.user_id for p in back.events} == {"kit"} and {p.source for p in back.events} == {"deezer"}

    # The sheet saved as a CSV (how importers ask for it) reads the same.
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([HEADER, *rows])
    saved = tmp_path / "csv" / "kit" / "listeningHistory.csv"
    saved.parent.mkdir(parents=True)
    saved.write_text(out.getvalue())
    assert [p.event_id for p in parse_paths([saved]).events] == [p.event_id for p in back.events]


def test_rows_of_real_exports(tmp_path: Path) -> None:
    report = parse_paths([workbook(tmp_path / "ana" / "deezer-data_1.xlsx", REAL_ROWS)])
    assert report.format == "deezer" and report.rejected == 0
    got = [(p.track_name, p.played_at.isoformat(), p.ms_played) for p in report.events]
    assert got == [
        ("I'm Not a Girl, Not Yet a Woman", "2012-05-24T17:30:56+00:00", None),  # -1: unknown
        ("Sunshine & City Lights", "2025-09-13T09:57:22+00:00", 222_000),
        ("Seven Beers With The Wrong Woman", "2024-07-06T11:05:37+00:00", 218_000),
    ]
    assert report.events[1].track_id == track_key("Greyson Chance", "Sunshine & City Lights")
    assert {p.user_id for p in report.events} == {"ana"}


def test_each_refusal_names_its_line_and_loses_nothing_else(tmp_path: Path) -> None:
    good = REAL_ROWS[1]
    rows = [
        good,
        [*good[:5], "a while", *good[6:]],
        [*good[:8], "13/09/2025"],
        ["", "", *good[2:]],
    ]
    report = parse_paths([workbook(tmp_path / "ana" / "deezer-data_1.xlsx", rows)])
    assert report.accepted == 1 and report.skipped == {"no track or artist": 1}
    assert [(r.location, r.reason) for r in report.rejects] == [
        ("line 3", "bad Listening Time 'a while' (expected whole seconds, or -1)"),
        ("line 4", "bad Date '13/09/2025' (expected 2025-09-13 09:57:22)"),
    ]


def test_a_damaged_workbook_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ana" / "deezer-data_1.xlsx"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as book:  # a workbook's parts, but no sheet in them
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook>")
    with pytest.raises(UnusableInput, match=r"deezer-data_1\.xlsx: is an Excel workbook that cannot be read"):
        parse_paths([path])


def test_a_workbook_inside_a_zip_is_read_in_place(tmp_path: Path) -> None:
    book = workbook(tmp_path / "deezer-data_1.xlsx", REAL_ROWS)
    zipped = tmp_path / "exports" / "ana.zip"  # the archive's name is the listener's
    zipped.parent.mkdir()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(book, "deezer-data_1.xlsx")
    report = parse_paths([zipped])
    assert (report.format, report.accepted) == ("deezer", 3)
    assert {p.user_id for p in report.events} == {"ana"}


def test_a_workbook_is_rendered_once_for_detection_and_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.parsers import workbook as workbooks

    renders: list[int] = []
    real = workbooks.sheet_text

    def counted(raw: io.BytesIO) -> str:
        renders.append(1)
        return real(raw)

    monkeypatch.setattr(workbooks, "sheet_text", counted)
    rows = [[*REAL_ROWS[1][:8], f"2025-09-13 10:{m:02d}:00"] for m in range(7)]  # rows no other test wrote
    report = parse_paths([workbook(tmp_path / "ana" / "deezer-data_1.xlsx", rows)])
    assert report.accepted == 7 and len(renders) == 1
