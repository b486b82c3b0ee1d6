"""Format detection from content: names do not matter, compression is transparent, unknown is an error."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import shutil
import zipfile
from pathlib import Path

import pytest
from parser_data import JODIE, SPOTIFY, need

from models.parsers import UnusableInput, detect_format, parse_paths

SAMPLES = {
    "csv": "user_id,track_id,played_at\nana,t1,2024-01-01T00:00:00Z\n",
    "lastfm-1k": "user_000001\t2009-05-04T23:08:57Z\t\tDeep Dish\t\tFuck Me Im Famous\n",
    "jodie": "0\t0\t0\n1\t1\t54\n",
    "spotify-account": json.dumps(
        [{"endTime": "2024-01-05 08:01", "artistName": "A", "trackName": "B", "msPlayed": 1}]
    ),
    "spotify-extended": json.dumps(
        [
            {
                "ts": "2023-06-26T22:56:26Z",
                "ms_played": 1,
                "master_metadata_track_name": "B",
                "master_metadata_album_artist_name": "A",
            }
        ],
        indent=2,
    ),
}

PLAYS = {"csv": 1, "lastfm-1k": 1, "jodie": 2, "spotify-account": 1, "spotify-extended": 1}


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
@pytest.mark.parametrize("pack", ["plain", "gz", "bz2", "xz", "bom"])
def test_content_decides_whatever_the_name_or_packing(tmp_path: Path, fmt: str, pack: str) -> None:
    data = SAMPLES[fmt].encode()
    packed = {
        "plain": data,
        "gz": gzip.compress(data),
        "bz2": bz2.compress(data),
        "xz": lzma.compress(data),
        "bom": b"\xef\xbb\xbf" + data,
    }[pack]
    path = tmp_path / "download.bin"
    path.write_bytes(packed)
    assert detect_format(path) == fmt
    report = parse_paths([path])
    assert (report.format, report.accepted, report.rejected) == (fmt, PLAYS[fmt], 0)


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_bytes(SAMPLES["csv"].encode("utf-16"))
    assert detect_format(path) == "csv"
    assert parse_paths([path]).accepted == 1


@pytest.mark.parametrize("delimiter", [";", "\t"])
@pytest.mark.parametrize(
    ("text", "fmt", "track"),
    [
        ("user_id,track_id,played_at\nana,t1,2024-01-05T14:03:00+01:00\n", "csv", None),
        ("timestamp,artist,track\n2024-01-05 13:03:00,Radiohead,Airbag\n", "named-csv", "Airbag"),
        ("Date,Time,Artist,Song\n2024-01-05,13:03:00,Björk,Jóga\n", "named-csv", "Jóga"),
    ],
)
def test_semicolon_and_tab_headers_are_told_like_commas(
    tmp_path: Path, text: str, fmt: str, track: str | None, delimiter: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(text.replace(",", delimiter).encode("cp1252"))  # as Excel saves it
    assert detect_format(path) == fmt
    report = parse_paths([path], user="ana")
    assert (report.accepted, report.rejected) == (1, 0)
    (play,) = report.events
    assert (play.user_id, play.track_name) == ("ana", track)
    assert play.played_at.isoformat() == "2024-01-05T13:03:00+00:00"


def test_a_semicolon_file_without_a_known_header_is_still_unknown(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("artist;title;album\nBjörk;Jóga;Homogenic\n", encoding="utf-8")
    with pytest.raises(UnusableInput, match="format not recognised"):
        detect_format(path)


def test_real_files_are_detected_under_any_name(tmp_path: Path) -> None:
    expected = {
        "ext_calebbynum": "spotify-extended",
        "ext_erickmay": "spotify-extended",
        "acct_xkitsune47": "spotify-account",
    }
    for folder, fmt in expected.items():
        source = sorted(need(SPOTIFY / folder).glob("*.json"))[0]
        copy = tmp_path / f"{folder}.data"
        shutil.copy(source, copy)
        assert detect_format(copy) == fmt
    assert detect_format(need(JODIE)) == "jodie"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"hello world\n", "format not recognised"),
        (b"", "is empty"),
        (b'[{"name": "not a play"}]', "format not recognised"),
        (b"\x00\xff\xfe garbage \x89PNG", "format not recognised"),
    ],
)
def test_unknown_content_is_unusable(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "thing.json"
    path.write_bytes(content)
    with pytest.raises(UnusableInput, match=reason):
        detect_format(path)


def test_zip_archive_and_missing_file_are_unusable(tmp_path: Path) -> None:
    archive = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("StreamingHistory0.json", "[]")
    with pytest.raises(UnusableInput, match="is a zip archive"):  # a container, not a format
        detect_format(archive)
    with pytest.raises(UnusableInput, match="no such file"):
        detect_format(tmp_path / "nope.json")


def test_explicit_format_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "plays.txt"
    path.write_text("ana,t1,2024-01-01T00:00:00Z\n")  # headerless: detection says nothing
    with pytest.raises(UnusableInput):
        detect_format(path)
    report = parse_paths([path], format="csv")
    assert (report.accepted, report.events[0].user_id) == (1, "ana")
    with pytest.raises(UnusableInput, match="unknown format"):
        parse_paths([path], format="xml")
