"""Whose plays a file holds when its records do not say: the folder above the export's
own, passing over Spotify's and Google Takeout's folder and archive names, also when a
browser re-download or a copy added its suffix; the suffix dropped from a downloaded
archive's name, never from a folder the user named."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from models.parsers import parse_paths
from models.parsers.context import ParseContext

ACCOUNT = [{"endTime": "2024-01-05 08:01", "artistName": "Björk", "trackName": "Jóga", "msPlayed": 300000}]
WATCHED = [
    {
        "header": "YouTube Music",
        "title": "Watched Solar",
        "titleUrl": "https://music.youtube.com/watch?v=-e8N",
        "subtitles": [{"name": "Sault - Topic"}],
        "time": "2023-01-05T14:03:12.345Z",
    }
]


@pytest.mark.parametrize(
    "archive",
    [
        "takeout-20230105T140312Z-001.zip",
        "takeout-20240301T101010Z-002.zip",
        "takeout-20240301T101010Z-001 (1).zip",
        "my_spotify_data (1).zip",
        "my_spotify_data(2).zip",
        "my_spotify_data - Copy.zip",
        "my_spotify_data - Copy (2).zip",
        "Takeout (1)",
    ],
)
def test_an_export_archive_or_its_copy_names_no_listener(archive: str) -> None:
    path = Path("exports") / "ana" / archive / "Takeout" / "watch-history.json"
    assert ParseContext(path).fallback_user == "ana"


@pytest.mark.parametrize(
    ("folders", "listener"),
    [
        ("ana (1).zip", "ana"),  # the browser's second download of ana.zip
        ("ana(2).zip", "ana"),
        ("ana - Copy.zip", "ana"),
        ("ana (2)", "ana (2)"),  # a folder: named by whoever made it
        ("ana (1)/my_spotify_data (1).zip", "ana (1)"),
        ("takeout-ana", "takeout-ana"),  # not Takeout's time and part
        ("Kid A (2000).zip", "Kid A (2000)"),  # a year, not a copy number
        ("jdoe-1.zip", "jdoe-1"),
    ],
)
def test_a_copy_suffix_is_dropped_only_from_a_downloaded_archive(folders: str, listener: str) -> None:
    path = Path("exports") / folders / "StreamingHistory0.json"
    assert ParseContext(path).fallback_user == listener


def test_takeout_and_a_re_downloaded_spotify_zip_are_the_listener_above(tmp_path: Path) -> None:
    folder = tmp_path / "ana"
    folder.mkdir()
    with zipfile.ZipFile(folder / "takeout-20230105T140312Z-001.zip", "w") as archive:
        archive.writestr("Takeout/YouTube and YouTube Music/history/watch-history.json", json.dumps(WATCHED))
    with zipfile.ZipFile(folder / "my_spotify_data (1).zip", "w") as archive:
        archive.writestr("Spotify Account Data/StreamingHistory_music_0.json", json.dumps(ACCOUNT))
    report = parse_paths([tmp_path])
    assert report.accepted == 2 and report.format == "spotify-account+youtube-music"
    assert {p.user_id for p in report.events} == {"ana"}
    assert {p.user_id for p in parse_paths([tmp_path], user="bob").events} == {"bob"}
