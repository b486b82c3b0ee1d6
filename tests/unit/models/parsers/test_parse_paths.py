"""The entry point: folders, unusable input, corrupt files, streaming, and garbage that never crashes."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.parsers import FORMAT_NAMES, ParseReport, UnusableInput, iter_paths, parse_paths

ACCOUNT = [{"endTime": "2024-01-05 08:01", "artistName": "Björk", "trackName": "Jóga", "msPlayed": 300000}]
CSV = "user_id,track_id,played_at\n" + "".join(f"ana,t{i},2024-01-01T00:{i:02d}:00Z\n" for i in range(50))


def test_a_folder_is_its_usable_files_and_the_rest_is_listed(tmp_path: Path) -> None:
    export = tmp_path / "ana"
    (export / "deeper").mkdir(parents=True)
    (export / "StreamingHistory0.json").write_text(json.dumps(ACCOUNT))
    (export / "deeper" / "plays.csv").write_text(CSV)
    (export / "Userdata.json").write_text('{"username": "x"}')
    (export / "ReadMe.pdf").write_bytes(b"%PDF-1.4")
    (export / ".hidden.csv").write_text(CSV)
    report = parse_paths([export])
    assert report.format == "spotify-account+csv"
    assert report.accepted == 51
    assert sorted(Path(p).name for p in report.ignored) == ["ReadMe.pdf", "Userdata.json"]
    assert [Path(f.path).name for f in report.files] == ["StreamingHistory0.json", "plays.csv"]


def test_the_same_file_named_twice_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text(CSV)
    assert parse_paths([path, tmp_path, str(path)]).accepted == 50


def test_unusable_inputs_raise_before_any_play(tmp_path: Path) -> None:
    good = tmp_path / "plays.csv"
    good.write_text(CSV)
    (tmp_path / "empty").mkdir()
    for paths, reason in [
        ([good, tmp_path / "missing.csv"], "no such file or directory"),
        ([tmp_path / "empty"], "holds no file in a known format"),
        ([], "nothing to parse"),
    ]:
        with pytest.raises(UnusableInput, match=reason):
            iter_paths(paths)  # raised at the call, not at the first next()


def test_forced_format_in_a_folder_takes_matching_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("ana,t1,2024-01-01T00:00:00Z\n")  # no header: not detected
    (tmp_path / "notes.md").write_text("# notes")
    report = parse_paths([tmp_path], format="csv")
    assert report.accepted == 1 and [Path(p).name for p in report.ignored] == ["notes.md"]


def test_a_truncated_gzip_keeps_what_was_read_and_says_so(tmp_path: Path) -> None:
    rows = "user_id,track_id,played_at\n" + "".join(
        f"user{i},track{i * 7919 % 10007},2024-01-01T{i % 24:02d}:{i % 60:02d}:00Z\n" for i in range(100_000)
    )
    packed = gzip.compress(rows.encode())
    path = tmp_path / "plays.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])
    report = parse_paths([path])
    assert 1000 < report.accepted < 100_000
    assert report.rejected == 1
    assert report.rejects[0].reason.startswith("file is truncated or corrupt")
    assert report.rejects[0].location == f"after {report.accepted} records"


def test_iter_paths_streams_and_fills_the_report(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text(CSV + "bo,t,never\n")
    report = ParseReport(max_rejects=0)
    plays = iter_paths([path], report=report)
    assert report.accepted == 0  # nothing read yet
    assert sum(1 for _ in plays) == 50
    assert (report.accepted, report.rejected, report.rejects) == (50, 1, [])  # counted, not kept
    assert report.events == []


# --- garbage ----------------------------------------------------------------------------

_KEYS = [
    "ts",
    "endTime",
    "ms_played",
    "msPlayed",
    "username",
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "artistName",
    "trackName",
    "spotify_track_uri",
    "skipped",
    "episode_name",
    "spotify_episode_uri",
    "podcastName",
    "audiobook_title",
]
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["2024-01-05 08:01", "2023-06-26T22:56:26Z", "", " ", "Unknown Artist", "\ud800x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_RECORDS = st.lists(st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=8) | _JSON, max_size=8)
_TEXTS = [
    CSV[:300],
    json.dumps(ACCOUNT * 3, indent=2),
    "0\t0\t0\n1\t1\t54\n",
    "u\t2009-05-04T23:08:57Z\t\tA\t\tB\n",
]


@st.composite
def garbage(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "text", "mutated", "records"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    if kind == "text":
        return draw(
            st.text(
                alphabet=st.sampled_from(list('[]{},:"\\\t\n\r ,0123456789-TZ:eE.ab\ufeff\x00é')),
                max_size=300,
            )
        ).encode("utf-8", "surrogatepass")
    if kind == "records":
        dump = draw(st.sampled_from([None, 2]))
        return json.dumps(draw(_RECORDS), indent=dump).encode("utf-8", "surrogatepass")
    data = bytearray(draw(st.sampled_from(_TEXTS)).encode())
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            data[at:at] = draw(st.binary(min_size=1, max_size=5))
        else:
            del data[at : at + draw(st.integers(1, 20))]
    return bytes(data)


def _check(report: ParseReport, path: Path) -> None:
    assert report.accepted == len(report.events)
    assert report.rejected == len(report.rejects)
    for reject in report.rejects:
        assert reject.file == str(path) and reject.location and reject.reason
    for play in report.events:
        play.to_json()  # every accepted play can go on the wire


@given(garbage(), st.sampled_from([None, *FORMAT_NAMES]), st.booleans())
@settings(max_examples=400, deadline=None)
def test_garbage_gives_rejects_or_unusable_input_never_a_crash(
    data: bytes, fmt: str | None, packed: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "StreamingHistory0.json"
        path.write_bytes(gzip.compress(data) if packed else data)
        try:
            report = parse_paths([path], format=fmt)
        except UnusableInput:
            return
        _check(report, path)


def test_surrogate_escapes_and_invalid_utf8_are_rejects_not_crashes(tmp_path: Path) -> None:
    row = ACCOUNT[0]
    path = tmp_path / "StreamingHistory0.json"
    path.write_bytes(
        b"["
        + json.dumps(row).encode()
        + b","
        + json.dumps({**row, "trackName": "lone \ud800 surrogate"}).encode()  # escaped in JSON
        + b","
        + json.dumps({**row, "trackName": "MARKER"}).encode().replace(b"MARKER", b"bad \xff byte")
        + b"]"
    )
    report = parse_paths([path], user="ana")
    _check(report, path)
    assert report.accepted == 1
    assert [(r.location, r.reason) for r in report.rejects] == [
        ("record 2 (line 1)", "artist or track name is not valid UTF-8 text"),
        ("record 3 (line 1)", "artist or track name is not valid UTF-8 text"),
    ]
