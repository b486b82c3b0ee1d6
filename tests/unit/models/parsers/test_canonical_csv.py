"""Canonical CSV: good and broken rows, header variants, and exact round-trips."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from models.events import PlayEvent
from models.parsers import parse_paths, write_csv
from models.parsers.canonical_csv import parse
from models.parsers.context import ParseContext
from models.parsers.report import Reject

BROKEN = """user_id,track_id,played_at,ms_played,track_name,artist_name
ana,t1,2024-03-01T20:15:00Z,215000,One More Time,Daft Punk
ana,t2,yesterday,1000,,
,t3,2024-03-01T20:20:00Z,1000,,
ana,,2024-03-01T20:21:00Z,1000,,
bo,t4,2024-03-01T20:22:00Z,-5,,
bo,t5,2024-03-01T20:23:00Z

bo,t6,2024-03-01T20:24:00,abc,,
bo,t7,2024-03-01T20:25:00+02:00,,Song,Artist
cy,t8,2024-03-01T20:26:00Z,1,"unclosed,x
cy,t9,2024-03-01T20:27:00Z,2,"multi
line name",Artist
cy,t10,2024-03-01T20:28:00Z,3,a,b,extra
"""


def _outcomes(text: str, name: str = "plays.csv") -> list[PlayEvent | Reject]:
    out = list(parse(io.StringIO(text, newline=""), ParseContext(Path(name))))
    assert all(isinstance(o, PlayEvent | Reject) for o in out)  # a CSV has nothing to skip
    return out  # type: ignore[return-value]


def test_broken_rows_name_their_line_and_reason_and_lose_nothing_else() -> None:
    out = _outcomes(BROKEN)
    plays = [o for o in out if isinstance(o, PlayEvent)]
    rejects = {r.location: r.reason for r in out if isinstance(r, Reject)}
    assert [p.track_id for p in plays] == ["t1", "t7", "t9"]
    assert rejects == {
        "line 3": "bad played_at 'yesterday' (expected ISO-8601)",
        "line 4": "empty user_id",
        "line 5": "empty track_id",
        "line 6": "negative ms_played -5",
        "line 7": "expected 6 columns, got 3",
        "line 9": "ms_played 'abc' is not a whole number",
        "line 11": "a quoted field opened on this line is not closed properly",
        "line 14": "expected 6 columns, got 7",
    }
    assert all(r.file == "plays.csv" for r in out if isinstance(r, Reject))


def test_times_are_utc_names_kept_and_multiline_quotes_read() -> None:
    plays = [o for o in _outcomes(BROKEN) if isinstance(o, PlayEvent)]
    one, offset, multi = plays
    assert one.played_at == datetime(2024, 3, 1, 20, 15, tzinfo=UTC)
    assert (one.ms_played, one.track_name, one.artist_name, one.source) == (
        215000,
        "One More Time",
        "Daft Punk",
        "csv",
    )
    assert offset.played_at == datetime(2024, 3, 1, 18, 25, tzinfo=UTC)  # +02:00 -> UTC
    assert offset.ms_played is None
    assert multi.track_name == "multi\nline name"


def test_several_problems_in_one_row_are_all_named() -> None:
    text = "user_id,track_id,played_at,ms_played\n ,t1,never,-1\n"
    (reject,) = _outcomes(text)
    assert isinstance(reject, Reject)
    assert reject.location == "line 2"
    assert reject.reason == "empty user_id; bad played_at 'never' (expected ISO-8601); negative ms_played -1"


def test_header_in_any_order_and_case_with_bom_crlf_and_unknown_columns() -> None:
    text = "\ufeffPlayed_At ,note,TRACK_ID,user_id\r\n2024-03-01 20:15,hi,t1,ana\r\n"
    (play,) = _outcomes(text)
    assert isinstance(play, PlayEvent)
    assert (play.user_id, play.track_id, play.played_at) == (
        "ana",
        "t1",
        datetime(2024, 3, 1, 20, 15, tzinfo=UTC),
    )


def test_without_header_the_columns_are_canonical_order() -> None:
    (play,) = _outcomes("ana,t1,2024-03-01T20:15:00,1234\n")
    assert isinstance(play, PlayEvent)
    assert (play.user_id, play.track_id, play.ms_played) == ("ana", "t1", 1234)


def test_an_export_resaved_by_a_european_excel_keeps_its_plays(tmp_path: Path) -> None:
    # Semicolons, Windows-1252, CRLF, quotes around a name holding a semicolon.
    path = tmp_path / "plays.csv"
    path.write_bytes(
        "user_id;track_id;played_at;ms_played;track_name;artist_name;seq;source;track_uri;skipped\r\n"
        'ana;t:1;2024-03-01T20:15:00Z;215000;"Jóga; live";Björk;1;csv;;\r\n'
        "bo;t:2;2024-03-01T21:00:00+02:00;;Hoppípolla;Sigur Rós;0;spotify-account;;true\r\n".encode("cp1252")
    )
    report = parse_paths([path])
    assert (report.format, report.accepted, report.rejected) == ("csv", 2, 0)
    assert report.events == [
        PlayEvent(user_id="ana", track_id="t:1", played_at=datetime(2024, 3, 1, 20, 15, tzinfo=UTC),
                  ms_played=215000, track_name="Jóga; live", artist_name="Björk", source="csv", seq=1),
        PlayEvent(user_id="bo", track_id="t:2", played_at=datetime(2024, 3, 1, 19, 0, tzinfo=UTC),
                  track_name="Hoppípolla", artist_name="Sigur Rós", source="spotify-account", skipped=True),
    ]  # fmt: skip


def test_broken_rows_with_semicolons_are_refused_as_with_commas() -> None:
    out = _outcomes(BROKEN.replace(",", ";"))
    assert [p.track_id for p in out if isinstance(p, PlayEvent)] == ["t1", "t7", "t9"]
    assert [r.location for r in out if isinstance(r, Reject)] == [
        "line 3", "line 4", "line 5", "line 6", "line 7", "line 9", "line 11", "line 14"
    ]  # fmt: skip


def test_a_tab_separated_canonical_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plays.tsv"
    path.write_text("user_id\tplayed_at\ttrack_id\nana\t2024-03-01T21:15:00+01:00\tt,1\n", encoding="utf-8")
    report = parse_paths([path])
    assert report.format == "csv"
    (play,) = report.events
    assert (play.track_id, play.played_at.isoformat()) == ("t,1", "2024-03-01T20:15:00+00:00")


def test_without_a_header_the_refusal_names_the_delimiters_tried() -> None:
    (reject,) = _outcomes("ana;t1;2024-03-01T20:15:00\n")
    assert isinstance(reject, Reject)
    assert (reject.location, reject.reason) == (
        "line 1",
        "no header naming user_id,track_id,played_at (columns split at commas, semicolons or tabs)"
        " and 1 columns",
    )


def test_header_repeating_a_column_is_rejected_at_line_1() -> None:
    (reject,) = _outcomes("user_id,track_id,played_at,user_id\nana,t,2024-01-01,bo\n")
    assert isinstance(reject, Reject)
    assert (reject.location, reject.reason) == ("line 1", "header repeats column user_id")


def test_times_before_earliest_play_or_in_the_future_are_rejected() -> None:
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    text = f"user_id,track_id,played_at\nana,t1,1999-12-31T23:59:59Z\nana,t2,{future}\n"
    reasons = [r.reason for r in _outcomes(text) if isinstance(r, Reject)]
    assert reasons[0] == "played_at 1999-12-31T23:59:59+00:00 is before 2000-01-01"
    assert reasons[1].endswith("is in the future")


def test_pandas_style_float_durations_are_whole_numbers() -> None:
    (play,) = _outcomes("user_id,track_id,played_at,ms_played\nana,t1,2024-03-01T20:15:00Z,1500.0\n")
    assert isinstance(play, PlayEvent) and play.ms_played == 1500


def test_parse_paths_counts_the_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv.gz"
    path.write_bytes(gzip.compress(BROKEN.encode()))
    report = parse_paths([path])
    assert (report.format, report.accepted, report.rejected) == ("csv", 3, 8)
    assert [r.location for r in report.rejects][:2] == ["line 3", "line 4"]


# --- round-trips ------------------------------------------------------------------------

_SOURCES = st.sampled_from(
    ["csv", "jodie", "lastfm-1k", "spotify-account", "spotify-extended", "spotify-api"]
)
_NOW = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)


@st.composite
def play_events(draw: st.DrawFn) -> PlayEvent:
    stamp = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=_NOW))
    zone = draw(
        st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
    )
    played_at = stamp.replace(tzinfo=UTC).astimezone(zone)
    name = st.none() | st.text(max_size=40)
    try:
        return PlayEvent(
            user_id=draw(st.text(min_size=1, max_size=30)),
            track_id=draw(st.text(min_size=1, max_size=40)),
            played_at=played_at,
            ms_played=draw(st.none() | st.integers(0, 24 * 3600 * 1000)),
            track_name=draw(name),
            artist_name=draw(name),
            source=draw(_SOURCES),
            seq=draw(st.integers(0, 10_000)),
            track_uri=draw(st.none() | st.text(max_size=40)),
            skipped=draw(st.none() | st.booleans()),
        )
    except ValueError:  # pydantic rejects e.g. an id that is only whitespace
        reject()


@given(st.lists(play_events(), max_size=20))
@settings(max_examples=300, deadline=None)
def test_any_plays_round_trip_through_canonical_csv(plays: list[PlayEvent]) -> None:
    out = io.StringIO(newline="")
    assert write_csv(plays, out) == len(plays)
    back = list(parse(io.StringIO(out.getvalue(), newline=""), ParseContext(Path("x.csv"))))
    assert back == plays
    assert [p.event_id for p in back] == [p.event_id for p in plays]


@given(st.lists(play_events(), min_size=1, max_size=10))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_round_trip_through_a_gz_file_on_disk(tmp_path: Path, plays: list[PlayEvent]) -> None:
    path = tmp_path / "plays.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
        write_csv(plays, out)
    report = parse_paths([path])
    assert report.rejected == 0
    assert report.events == plays


def test_a_quote_never_closed_costs_only_its_own_line() -> None:
    text = (
        "user_id,track_id,played_at\n"
        'ana,"t1,2024-03-01T20:15:00Z\n'
        "ana,t2,2024-03-01T20:16:00Z\n"
        "ana,t3,2024-03-01T20:17:00Z\n"
    )
    out = _outcomes(text)
    assert isinstance(out[0], Reject) and out[0].location == "line 2"
    assert [o.track_id for o in out[1:] if isinstance(o, PlayEvent)] == ["t2", "t3"]


def test_awkward_characters_round_trip() -> None:
    at = datetime(2024, 3, 1, 20, 15, 0, 123456, tzinfo=UTC)
    plays = [
        PlayEvent(
            user_id="a\rb",
            track_id='t,"1"',
            played_at=at,
            track_name="x\u2028y\x85z\r\nw",
            artist_name="\x1c",
            track_uri="\x00",
            source="spotify-api",
            skipped=False,
        ),
        PlayEvent(user_id="ü" * 3, track_id="\ufeffid", played_at=at, track_name="", artist_name=" 坂本 "),
    ]
    out = io.StringIO(newline="")
    write_csv(plays, out)
    assert list(parse(io.StringIO(out.getvalue(), newline=""), ParseContext(Path("x.csv")))) == plays
