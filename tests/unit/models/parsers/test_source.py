"""Opening files as text: Windows-1252 lines (Excel's CSVs) read as such wherever they
are in a file, mixed with UTF-8; binary lines and JSON keep their bad bytes as rejects."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from models.events import track_key
from models.parsers import parse_paths
from models.parsers.detect import SAMPLE_CHARS, detect_format
from models.parsers.source import cp1252, open_text

#: What Excel on Windows saves: Windows-1252, CRLF.
EXCEL = (
    "timestamp,artist,track\r\n"
    "2023-01-05 14:03:00,Björk,Jóga\r\n"
    "2023-01-05 14:07:00,Sigur Rós,Svefn-g-englar\r\n"
    "2023-01-05 14:11:00,Toto,Africa\r\n"
    "2023-01-05 14:15:00,Beyoncé,Hold Up\r\n"
    "2023-01-05 14:19:00,Mötley Crüe,Kickstart My Heart – Live\r\n"
)


def _read(path: Path) -> str:
    with open_text(path) as text:
        return text.read()


@pytest.mark.parametrize("packed", [False, True])
def test_an_excel_csv_in_windows_1252_loses_no_row(tmp_path: Path, packed: bool) -> None:
    data = EXCEL.encode("cp1252")
    path = tmp_path / ("history.csv.gz" if packed else "history.csv")
    path.write_bytes(gzip.compress(data) if packed else data)
    assert _read(path) == EXCEL
    report = parse_paths([path])
    assert (report.format, report.accepted, report.rejected) == ("named-csv", 5, 0)
    assert [p.artist_name for p in report.events] == ["Björk", "Sigur Rós", "Toto", "Beyoncé", "Mötley Crüe"]
    assert report.events[0].track_id == track_key("Björk", "Jóga")  # the same id as from UTF-8
    assert report.events[4].track_name == "Kickstart My Heart – Live"  # 0x96, a cp1252-only dash
    assert report.events[3].played_at.isoformat() == "2023-01-05T14:15:00+00:00"


def test_the_bytes_windows_1252_leaves_undefined_read_as_latin_1() -> None:
    assert cp1252(b"\x80\x81\x8d\x8f\x90\x9d\xe9") == "€\x81\x8d\x8f\x90\x9dé"


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("shift", [-1, 0, 1, 2])
def test_a_windows_1252_line_far_into_an_ascii_file_is_read(tmp_path: Path, packed: bool, shift: int) -> None:
    # Past the detection sample, and with the accented byte on either side of a
    # boundary of the 8 KiB chunks text is decoded in.
    row = "2023-01-05 14:03:00,Toto,Africa\n"
    head = "timestamp,artist,track\n" + (SAMPLE_CHARS // len(row) + 10) * row
    last = "2023-01-05 14:07:00,Björk,Jóga\n"
    spaces = (shift - len(head) - len(row) - last.index("ö")) % 8192  # trailing blanks do not count
    data = (head + row.replace("Africa", "Africa" + " " * spaces)).encode() + last.encode("cp1252")
    assert (len(data) - len(last) + last.index("ö")) % 8192 == shift % 8192
    path = tmp_path / ("big.csv.gz" if packed else "big.csv")
    path.write_bytes(gzip.compress(data) if packed else data)
    assert detect_format(path) == "named-csv"
    report = parse_paths([path])
    assert (report.accepted, report.rejected) == (head.count("\n") + 1, 0)
    assert {p.artist_name for p in report.events} == {"Toto", "Björk"}
    play = report.events[-1]
    assert (play.artist_name, play.track_name) == ("Björk", "Jóga")
    assert play.played_at.isoformat() == "2023-01-05T14:07:00+00:00"


def test_utf_8_and_windows_1252_lines_mix_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "merged.csv"
    path.write_bytes(
        b"\xef\xbb\xbfts,artist,track\n"
        + "1700000000,Björk,Jóga\n".encode()
        + "1700000060,Sigur Rós,Hoppípolla\n".encode("cp1252")
        + "1700000120,Ólafur Arnalds,Saman\n".encode()
    )
    report = parse_paths([path])
    assert report.rejected == 0
    assert [p.artist_name for p in report.events] == ["Björk", "Sigur Rós", "Ólafur Arnalds"]
    assert [p.played_at.isoformat() for p in report.events][-1] == "2023-11-14T22:15:20+00:00"


def test_a_binary_line_is_still_rejected_and_costs_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_bytes(
        b"ts,artist,track\n"
        b"1700000000,Bj\xf6rk,J\xf3ga\n"
        b"1700000060,\x00\x89PNG\x1a\xff,x\n"  # control characters: not Windows-1252 text
        b"1700000120,Toto,Africa\n"
    )
    assert "\udc89" in _read(path) and "\udcff" in _read(path)
    report = parse_paths([path])
    assert [p.artist_name for p in report.events] == ["Björk", "Toto"]
    assert [(r.location, r.reason) for r in report.rejects] == [
        ("line 3", "artist or track name is not valid UTF-8 text")
    ]


def test_json_is_utf_8_so_a_bad_byte_in_it_stays_a_reject(tmp_path: Path) -> None:
    row = {"endTime": "2024-01-05 08:01", "artistName": "Björk", "trackName": "MARKER", "msPlayed": 300000}
    path = tmp_path / "StreamingHistory0.json"
    path.write_bytes(b"  \n" + json.dumps([row]).encode().replace(b"MARKER", b"J\xf3ga"))
    assert "J\udcf3ga" in _read(path)
    report = parse_paths([path], user="ana")
    assert (report.accepted, [r.reason for r in report.rejects]) == (
        0,
        ["artist or track name is not valid UTF-8 text"],
    )
