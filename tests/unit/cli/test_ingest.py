"""`encore validate` and `encore import` end to end through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from models.parsers import parse_paths

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
JODIE = SHARED / "lastfm_jodie" / "lastfm.tsv.gz"
SPOTIFY = SHARED / "spotify_exports"

BROKEN_CSV = """user_id,track_id,played_at,ms_played,track_name,artist_name
ana,t1,2024-03-01T20:15:00Z,215000,One More Time,Daft Punk
ana,t2,2024-03-01T20:19:00Z,,,
ana,t3,not-a-time,1000,,
,t4,2024-03-01T20:20:00Z,1000,,
bo,t5,2024-03-01T20:22:00Z,-5,,
bo,t6,2024-03-01T20:23:00Z
bo,t7,2024-03-01T20:24:00+01:00,5000,Song,Artist
"""

runner = CliRunner()


def _need(path: Path) -> Path:
    if not path.exists():
        import os

        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {path}")
        pytest.skip(f"shared data not present: {path}")
    return path


def _json(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, [*args, "--json"])
    return result.exit_code, json.loads(result.stdout)  # stdout is exactly one JSON object


def test_validate_bundled_lastfm_file() -> None:
    code, data = _json("validate", str(_need(JODIE)))
    assert code == 0
    assert {
        k: data[k] for k in ("format", "accepted", "rejected", "users", "tracks", "skipped", "rejects")
    } == {
        "format": "jodie",
        "accepted": 129310,
        "rejected": 0,
        "users": 304,
        "tracks": 789,
        "skipped": {},
        "rejects": [],
    }
    assert (data["first_played_at"], data["last_played_at"]) == (
        "2009-01-01T00:00:00Z",
        "2010-01-30T05:55:45Z",
    )
    assert data["short_plays"] is None  # no durations in this file


@pytest.mark.parametrize(
    ("folder", "accepted", "skipped", "short", "duplicates"),
    [
        ("acct_xkitsune47", 30150, {}, 3895, 0),
        ("ext_calebbynum", 6435, {"episode": 9, "no track or artist": 7}, 427, 3),
        ("ext_dryd33n", 4021, {"episode": 179, "no track or artist": 6}, 1882, 18),
        ("ext_erickmay", 2079, {"no track or artist": 1}, 478, 1),
    ],
)
def test_validate_spotify_folders(
    folder: str, accepted: int, skipped: dict[str, int], short: int, duplicates: int
) -> None:
    code, data = _json("validate", str(_need(SPOTIFY / folder)))
    assert code == 0
    assert (data["accepted"], data["skipped"], data["rejected"], data["users"]) == (accepted, skipped, 0, 1)
    assert (data["short_plays"], data["duplicate_event_ids"]) == (short, duplicates)


def test_broken_csv_lists_each_reject_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text(BROKEN_CSV)
    code, data = _json("validate", str(path))
    assert code == 1
    assert (data["accepted"], data["rejected"]) == (3, 4)
    assert [(r["location"], r["reason"]) for r in data["rejects"]] == [  # type: ignore[attr-defined]
        ("line 4", "bad played_at 'not-a-time' (expected ISO-8601)"),
        ("line 5", "empty user_id"),
        ("line 6", "negative ms_played -5"),
        ("line 7", "expected 6 columns, got 3"),
    ]
    assert all(r["file"] == str(path) for r in data["rejects"])  # type: ignore[attr-defined]


def test_table_output_shows_counts_and_rejects(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text(BROKEN_CSV)
    result = runner.invoke(app, ["validate", str(path), "--max-rejects", "2"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    out = result.stdout
    assert "accepted" in out and " 3 " in out
    assert "first 2 of 4" in out and "line 4" in out and "line 5" in out and "line 6" not in out
    assert "2024-03-01T19:24:00Z" in out  # the +01:00 play, the last one, in UTC


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "/nonexistent/plays.csv"], "no such file or directory"),
        (["validate", "{csv}", "--format", "xml"], "unknown format"),
        (["validate", "{txt}"], "format not recognised"),
        (["import", "/nonexistent/plays.csv", "--out", "{out}"], "no such file or directory"),
    ],
)
def test_unusable_input_exits_2_with_a_message_on_stderr(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "plays.csv").write_text(BROKEN_CSV)
    (tmp_path / "notes.txt").write_text("hello")
    paths = {
        "csv": str(tmp_path / "plays.csv"),
        "txt": str(tmp_path / "notes.txt"),
        "out": str(tmp_path / "o.csv"),
    }
    result = runner.invoke(app, [a.format(**paths) for a in args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "o.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_unusable_input_with_json_still_prints_one_json_object(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    cases = [
        (["validate", str(tmp_path / "notes.txt")], str(tmp_path / "notes.txt"), "format not recognised"),
        (["import", "/nowhere/p.csv", "--out", str(tmp_path / "o.csv")], "/nowhere/p.csv", "no such file"),
    ]
    for args, path, reason in cases:
        code, doc = _json(*args)
        assert code == 2
        assert doc["unusable"]["path"] == path  # type: ignore[index]
        assert reason in doc["unusable"]["reason"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("folder", "name", "accepted"),
    [("acct_xkitsune47", "plays.csv.gz", 30150), ("ext_dryd33n", "plays.csv", 4021)],
)
def test_import_writes_canonical_csv_that_reads_back_to_the_same_plays(
    tmp_path: Path, folder: str, name: str, accepted: int
) -> None:
    source = _need(SPOTIFY / folder)
    out = tmp_path / name
    code, data = _json("import", str(source), "--out", str(out))
    assert code == 0
    assert (data["accepted"], data["written"], data["out"]) == (accepted, accepted, str(out))
    again = parse_paths([out])
    assert again.format == "csv" and again.rejected == 0
    assert again.events == parse_paths([source]).events  # every field, seq and source included


def test_import_of_a_broken_file_writes_the_good_rows_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text(BROKEN_CSV)
    out = tmp_path / "clean.csv"
    result = runner.invoke(app, ["import", str(path), "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "written" in result.stdout
    assert [e.track_id for e in parse_paths([out]).events] == ["t1", "t2", "t7"]


def test_user_option_names_the_listener(tmp_path: Path) -> None:
    path = tmp_path / "StreamingHistory0.json"
    path.write_text('[{"endTime": "2024-01-05 08:01", "artistName": "A", "trackName": "B", "msPlayed": 1}]')
    out = tmp_path / "o.csv"
    assert runner.invoke(app, ["import", str(path), "--out", str(out), "--user", "ana"]).exit_code == 0
    assert parse_paths([out]).events[0].user_id == "ana"
