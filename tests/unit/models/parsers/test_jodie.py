"""JODIE files: the bundled Last.fm plays, the origin setting, the paper's CSV layout, bad rows."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from parser_data import JODIE, need, parsed

from models.events import PlayEvent
from models.parsers import detect_format, parse_paths
from models.parsers.context import ParseContext
from models.parsers.jodie import parse
from models.parsers.report import Reject
from models.settings import ModelSettings


def test_bundled_lastfm_file_gives_the_documented_counts() -> None:
    report = parsed("jodie")
    assert (report.format, report.accepted, report.rejected) == ("jodie", 129310, 0)
    assert len({e.user_id for e in report.events}) == 304
    assert len({e.track_id for e in report.events}) == 789
    assert len({e.event_id for e in report.events}) == 129310
    first = min(e.played_at for e in report.events)
    last = max(e.played_at for e in report.events)
    assert first == ModelSettings().jodie_origin
    assert last - first == timedelta(seconds=34062945)  # the last offset in the file, ~394 days
    assert all(e.ms_played is None and e.source == "jodie" for e in report.events[:1000])


def test_bundled_file_is_detected_as_jodie() -> None:
    assert detect_format(need(JODIE)) == "jodie"


def test_origin_is_a_setting() -> None:
    origin = datetime(2015, 6, 1, tzinfo=UTC)
    ctx = ParseContext(Path("x.tsv"), settings=ModelSettings(jodie_origin=origin))
    (play,) = parse(io.StringIO("3\t9\t3600.25\n"), ctx)
    assert isinstance(play, PlayEvent)
    assert play.played_at == origin + timedelta(seconds=3600.25)
    assert (play.user_id, play.track_id) == ("3", "9")


def test_bad_rows_name_their_line(tmp_path: Path) -> None:
    text = "0\t0\t0\n1\t1\n\n2\t2\t-5\n3\t3\tnan\n4\t\t7\n5\t5\t1e30\n6\t6\t10\r\n"
    out = list(parse(io.StringIO(text, newline=""), ParseContext(Path("p.tsv"))))
    rejects = [(r.location, r.reason) for r in out if isinstance(r, Reject)]
    assert rejects == [
        ("line 2", "expected 3 columns (user, item, seconds), got 2"),
        ("line 4", "seconds -5 is not a time after the origin"),
        ("line 5", "seconds 'nan' is not a number"),
        ("line 6", "empty track_id"),
        ("line 7", "seconds 1e30 is too far from the origin"),
    ]
    assert [p.user_id for p in out if isinstance(p, PlayEvent)] == ["0", "6"]


def test_paper_csv_layout_with_header_and_features(tmp_path: Path) -> None:
    path = tmp_path / "lastfm.csv"
    path.write_text(
        "user_id,item_id,timestamp,state_label,comma_separated_list_of_features\n"
        "0,0,0.0,0,0.1,0.2\n1,1,54.0,0,0.3,0.4\n"
    )
    assert detect_format(path) == "jodie"
    report = parse_paths([path])
    assert (report.accepted, report.rejected) == (2, 0)
    assert report.events[1].played_at == ModelSettings().jodie_origin + timedelta(seconds=54)


def test_separators_that_float_refuses_are_a_reject_not_a_crash() -> None:
    # Python's regex \s matches the ASCII separators \x1c-\x1f; float() does not strip them.
    out = list(parse(io.StringIO("1\t2\t0\x1c\n3\t4\t5\n"), ParseContext(Path("p.tsv"))))
    assert [(r.location, r.reason) for r in out if isinstance(r, Reject)] == [
        ("line 1", "seconds '0\\x1c' is not a number")
    ]
    assert [p.user_id for p in out if isinstance(p, PlayEvent)] == ["3"]
