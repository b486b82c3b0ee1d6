"""Zip archives read in place: real Spotify exports zipped the way Spotify ships them
read as the same plays as the folder; members named under the archive; corrupt
archives and members refused with their reason, nothing else lost."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from parser_data import SPOTIFY, need

from models.parsers import UnusableInput, parse_paths
from models.parsers.archive import members

#: Files of Spotify's download that hold no plays (the parser must pass them over).
NOT_PLAYS = {
    "Userdata.json": '{"username": "x"}',
    "Playlist1.json": '{"playlists": []}',
    "ReadMe.pdf": "%PDF",
}


def spotify_zip(source: Path, path: Path, *, inner: str) -> Path:
    """``source``'s files zipped as Spotify ships them: one folder inside, other files
    beside the plays, and the ``__MACOSX`` shadow files a Mac adds when re-zipping."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(source.iterdir()):
            archive.write(file, f"{inner}/{file.name}")
            archive.writestr(f"__MACOSX/{inner}/._{file.name}", b"\x00\x05\x16\x07")
        for name, text in NOT_PLAYS.items():
            archive.writestr(f"{inner}/{name}", text)
    return path


@pytest.mark.parametrize(
    ("folder", "inner"),
    [("acct_xkitsune47", "Spotify Account Data"), ("ext_erickmay", "Spotify Extended Streaming History")],
)
def test_a_real_export_zipped_reads_as_the_folder_does(folder: str, inner: str, tmp_path: Path) -> None:
    source = need(SPOTIFY / folder)
    unzipped = tmp_path / "unzipped" / "kit"
    shutil.copytree(source, unzipped)
    zipped = spotify_zip(source, tmp_path / "zipped" / "kit" / "my_spotify_data.zip", inner=inner)
    direct, from_zip = parse_paths([unzipped]), parse_paths([zipped])
    assert from_zip.accepted == direct.accepted > 0
    # Same plays, same listeners, same event ids: where a record names no listener, it
    # is the folder above the archive, as above the unzipped files (Spotify's own
    # folder and archive names say nothing).
    assert [p.model_dump() for p in from_zip.events] == [p.model_dump() for p in direct.events]
    assert from_zip.rejected == direct.rejected and from_zip.skipped == direct.skipped
    assert sorted(Path(p).name for p in from_zip.ignored) == sorted(NOT_PLAYS)
    assert all("__MACOSX" not in f.path for f in from_zip.files)


def test_archives_inside_a_folder_are_read_beside_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "ana"
    folder.mkdir()
    play = {"endTime": "2024-01-05 08:01", "artistName": "Björk", "trackName": "Jóga", "msPlayed": 300000}
    (folder / "StreamingHistory_music_0.json").write_text(json.dumps([play]))
    with zipfile.ZipFile(folder / "my_spotify_data.zip", "w") as archive:
        archive.writestr(
            "StreamingHistory_music_1.json", json.dumps([play | {"endTime": "2023-01-05 08:01"}])
        )
    report = parse_paths([folder])
    assert report.accepted == 2
    assert {p.user_id for p in report.events} == {"ana"}
    assert [Path(f.path).relative_to(folder).as_posix() for f in report.files] == [
        "StreamingHistory_music_0.json",
        "my_spotify_data.zip/StreamingHistory_music_1.json",
    ]


def test_a_reject_names_the_file_inside_the_archive(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr(
            "MyData/plays.csv", "user_id,track_id,played_at\nana,t1,2024-01-01T00:00:00Z\nana,t2,noon\n"
        )
    report = parse_paths([tmp_path / "export.zip"])
    assert report.accepted == 1
    assert [str(r) for r in report.rejects] == [
        f"{tmp_path / 'export.zip' / 'MyData' / 'plays.csv'} line 3: bad played_at 'noon' (expected ISO-8601)"
    ]


def test_a_member_found_corrupt_while_read_is_rejected_and_costs_nothing_else(tmp_path: Path) -> None:
    rows = "".join(f"{{user}},t{i},2024-01-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z\n" for i in range(12_000))
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("a.csv", "user_id,track_id,played_at\n" + rows.format(user="ana"))
        archive.writestr("b.csv", "user_id,track_id,played_at\n" + rows.format(user="bob"))
    raw = bytearray(path.read_bytes())
    # A byte of b.csv's last row, stored as is and past the sample detection reads:
    # the member's CRC fails only when its end is read.
    at = raw.rindex(b"bob,t11999")
    raw[at : at + 3] = b"eve"
    path.write_bytes(bytes(raw))
    report = parse_paths([path])
    assert sum(p.user_id == "ana" for p in report.events) == 12_000
    assert [(Path(r.file).name, r.reason) for r in report.rejects] == [
        ("b.csv", "file is truncated or corrupt (Bad CRC-32 for file 'b.csv')")
    ]


def test_a_broken_archive_is_unusable_and_named(tmp_path: Path) -> None:
    path = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("StreamingHistory_music_0.json", "[]")
    path.write_bytes(path.read_bytes()[:30])  # the local header's magic, no directory
    with pytest.raises(UnusableInput, match=r"my_spotify_data\.zip: corrupt zip archive"):
        parse_paths([path])


def test_a_zip_inside_an_archive_is_read_in_place_and_a_corrupt_one_left_out(tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("plays.csv", "user_id,track_id,played_at\nana,t1,2024-01-01T00:00:00Z\n")
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as archive:
        archive.write(inner, "inner.zip")
        archive.writestr("broken.zip", b"PK\x03\x04 not an archive")
        archive.writestr("plays.csv", "user_id,track_id,played_at\nbob,t1,2024-01-01T00:00:00Z\n")
    report = parse_paths([outer])
    assert sorted(p.user_id for p in report.events) == ["ana", "bob"]
    assert [Path(p).name for p in report.ignored] == ["broken.zip"]
    assert [str(p.relative_to(tmp_path)) for p in members(outer)] == [
        "outer.zip/broken.zip", "outer.zip/inner.zip/plays.csv", "outer.zip/plays.csv",
    ]  # fmt: skip


