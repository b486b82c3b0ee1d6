"""ListenBrainz listens: real listening histories written out as an export, read back
exactly; the export's own folder layout, zipped or not; refusals by reason."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from parser_data import parsed

from models.events import PlayEvent
from models.parsers import UnusableInput, parse_paths
from models.parsers.detect import detect_format


def as_listen(play: PlayEvent, *, with_user: bool = True) -> dict[str, object]:
    """A play as a ListenBrainz export line holds it (what the site's exporter writes)."""
    info: dict[str, object] = {"submission_client": "test", "duration_ms": 215000}
    if play.track_uri:
        info["spotify_id"] = "https://open.spotify.com/track/" + play.track_uri.rsplit(":", 1)[1]
    listen: dict[str, object] = {
        "inserted_at": int(play.ts) + 30,
        "listened_at": int(play.ts),
        "recording_msid": "00000000-0000-0000-0000-000000000000",
        "track_metadata": {
            "artist_name": play.artist_name,
            "track_name": play.track_name,
            "release_name": None,
            "additional_info": info,
            "mbid_mapping": {
                "recording_mbid": "ffffffff-0000-0000-0000-000000000000",
                "artists": [{"artist_mbid": "a"}],
            },
        },
    }
    if with_user:
        listen["user_name"] = play.user_id
    return listen


def counted(folder: str) -> list[PlayEvent]:
    """A real Spotify export's plays a scrobbler would have sent (30 s or more)."""
    return [p for p in parsed(folder).events if p.ms_played is not None and p.ms_played >= 30_000]


@pytest.mark.parametrize("folder", ["ext_erickmay", "acct_xkitsune47"])
def test_a_real_history_reads_back_as_the_same_plays(folder: str, tmp_path: Path) -> None:
    spotify = counted(folder)
    path = tmp_path / "listens.jsonl"
    path.write_text("\n".join(json.dumps(as_listen(p), ensure_ascii=False) for p in spotify) + "\n")
    assert detect_format(path) == "listenbrainz"
    back = parse_paths([path])
    assert back.rejected == 0 and not back.skipped

    def key(p: PlayEvent) -> tuple[object, ...]:
        # Spotify account data has minute times: the listens carry the same seconds.
        return (p.user_id, p.track_id, p.played_at, p.track_uri, p.track_name, p.artist_name)

    assert sorted(map(key, back.events)) == sorted(map(key, spotify))
    assert {p.source for p in back.events} == {"listenbrainz"} and all(
        p.ms_played is None for p in back.events
    )


def test_the_export_folder_or_zip_reads_as_its_listens_only(tmp_path: Path) -> None:
    plays = counted("ext_erickmay")[:300]
    root = tmp_path / "listenbrainz_ana_1700000000"
    (root / "listens" / "2020").mkdir(parents=True)
    (root / "user.json").write_text('{"user_id": 42, "username": "ana"}')
    (root / "feedback.jsonl").write_text('{"recording_msid": "x", "score": 1, "created": 1600000000}\n')
    lines = [json.dumps(as_listen(p, with_user=False)) for p in plays]
    (root / "listens" / "2020" / "1.jsonl").write_text("\n".join(lines[:100]) + "\n")
    with gzip.open(root / "listens" / "2020" / "2.jsonl.gz", "wt") as fh:  # compressed by hand
        fh.write("\n".join(lines[100:]) + "\n")
    report = parse_paths([root])
    assert report.accepted == 300 and report.rejected == 0
    assert sorted(Path(p).name for p in report.ignored) == ["feedback.jsonl", "user.json"]
    # No user_name on the lines: the export's user.json names the listener; without
    # it, the folder holding listens/ does; a listener given on the command line wins.
    assert {p.user_id for p in report.events} == {"ana"}
    assert {p.user_id for p in parse_paths([root], user="bob").events} == {"bob"}
    # As ListenBrainz ships it, a zip of that folder's contents, read in place.
    zipped = tmp_path / "downloads" / "listenbrainz_ana_1700000000.zip"
    zipped.parent.mkdir()
    shutil.make_archive(str(zipped.with_suffix("")), "zip", root)
    from_zip = parse_paths([zipped])
    assert [p.model_dump() for p in from_zip.events] == [p.model_dump() for p in report.events]
    (root / "user.json").unlink()
    assert {p.user_id for p in parse_paths([root]).events} == {"listenbrainz_ana_1700000000"}
    with zipfile.ZipFile(zipped, "w") as archive:  # no user.json: the archive's name, as the folder's
        for path in (root / "listens").rglob("*.jsonl*"):
            archive.write(path, path.relative_to(root).as_posix())
    assert {p.user_id for p in parse_paths([zipped]).events} == {"listenbrainz_ana_1700000000"}


def test_an_older_export_as_one_json_array(tmp_path: Path) -> None:
    plays = counted("ext_erickmay")[:50]
    path = tmp_path / "ana_lb-2021-01-01.json"
    path.write_text(json.dumps([as_listen(p) for p in plays], indent=2))
    report = parse_paths([path])
    assert report.format == "listenbrainz" and report.accepted == 50


def test_each_refusal_names_its_record_and_reason_and_loses_nothing_else(tmp_path: Path) -> None:
    good = {
        "listened_at": 1700000000,
        "user_name": "ana",
        "track_metadata": {"artist_name": "A", "track_name": "B"},
    }
    rows = [
        good,
        {**good, "listened_at": 1700000100, "playing_now": True},
        {**good, "listened_at": 86400},
        {**good, "listened_at": True},
        {"user_name": "ana", "track_metadata": {"artist_name": "A", "track_name": "B"}, "listened_at": None},
        {**good, "track_metadata": "B by A"},
        {
            **good,
            "listened_at": "2023-11-14T22:20:00Z",
            "track_metadata": {"artist_name": "A", "track_name": None},
        },
        {**good, "listened_at": "2023-11-14T22:25:00+01:00"},
    ]
    text = "\n".join(json.dumps(r) for r in rows[:3]) + '\n{"listened_at": 17000, "track_metadata": \n'
    text += "\n".join(json.dumps(r) for r in rows[3:]) + "\n"
    path = tmp_path / "listens.jsonl"
    path.write_text(text)
    report = parse_paths([path])
    reasons = [r.reason for r in report.rejects]
    assert report.accepted == 2
    assert report.skipped == {"now playing": 1, "no track or artist": 1}
    assert any("before 2002" in r for r in reasons)
    assert any("bad listened_at True" in r for r in reasons)
    assert any("bad listened_at None" in r for r in reasons)
    assert any("track_metadata is not an object" in r for r in reasons)
    assert any(r.startswith("invalid JSON") for r in reasons)
    assert report.events[1].played_at.isoformat() == "2023-11-14T21:25:00+00:00"


def test_forced_format_on_a_file_of_another_layout_says_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "endsong_0.json"
    path.write_text('[{"ts": "2014-05-25T05:43:44Z", "ms_played": 40000, "master_metadata_track_name": "x"}]')
    report = parse_paths([path], format="listenbrainz")
    assert report.accepted == 0 and report.rejects[0].reason == "track_metadata is not an object"
    with pytest.raises(UnusableInput, match="unknown format"):
        parse_paths([path], format="listenbrainz-v9")


def test_saved_api_answers_read_as_their_listens(tmp_path: Path) -> None:
    # What `curl .../1/user/ana/listens?count=1000 > listens.json` saves: the listens
    # inside a payload that names the listener (the lines carry no user_name).
    plays = counted("ext_erickmay")[:1000]
    answer = {
        "payload": {
            "count": len(plays),
            "latest_listen_ts": int(plays[-1].ts),
            "listens": [as_listen(p, with_user=False) for p in plays],
            "user_id": "ana",
        }
    }
    path = tmp_path / "downloads" / "listens.json"
    path.parent.mkdir()
    path.write_text(json.dumps(answer, indent=4))
    assert path.stat().st_size > 256 * 1024  # longer than the sample the format is guessed from
    assert detect_format(path) == "listenbrainz"
    report = parse_paths([path])
    assert report.accepted == len(plays) and report.rejected == 0
    assert {p.user_id for p in report.events} == {"ana"}
    assert sorted(p.played_at for p in report.events) == sorted(p.played_at for p in plays)
    assert {p.user_id for p in parse_paths([path], user="bob").events} == {"bob"}
    # The playing-now answer: its one listen is no play yet.
    now = tmp_path / "playing_now.json"
    listen = {**as_listen(plays[0], with_user=False), "playing_now": True}
    del listen["listened_at"]
    payload = {"count": 1, "listens": [listen], "playing_now": True, "user_id": "ana"}
    now.write_text(json.dumps({"payload": payload}))
    assert parse_paths([now]).skipped == {"now playing": 1}
    # A listen inside an answer that is refused is placed within the answer.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"payload": {"listens": [as_listen(plays[0]), "x", {"listened_at": 5}]}}))
    rejected = parse_paths([bad], format="listenbrainz").rejects
    assert [r.location for r in rejected] == ["record 1 (line 1), listen 2", "record 1 (line 1), listen 3"]
    assert rejected[0].reason == "listen is not a JSON object"
