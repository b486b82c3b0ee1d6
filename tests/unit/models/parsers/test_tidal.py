"""TIDAL's ``streaming.csv``: a real listening history written as TIDAL writes it (day
first, to the minute, local time in each row's zone) reads back as the same plays;
the rows of ListenBrainz's TIDAL test data; refusals by line; a note above the header."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

from parser_data import parsed

from models.events import PlayEvent, track_key
from models.parsers import parse_paths
from models.parsers.detect import detect_format

HEADER = (
    "artist_name,track_title,entry_date,stream_duration_ms,product_type,ip_address,client_name_from_session,"
    "country_name,region_name,city_name,postal_code,time_zone"
)
#: Rows of metabrainz/listenbrainz-server's listenbrainz/testdata/tidal_streaming.csv.
LISTENBRAINZ_ROWS = [
    "Kid Cudi Feat. MGMT Feat. Ratatat,Pursuit Of Happiness (Nightmare),08/03/2022 19:01,270000.0,TRACK,"
    "000.00.000.000,Tidal Web Player with Widevine DRM Flac OAuth,Canada,Province,Cityname,A1B,"
    "America/Toronto",
    "Null Timezone Artist,Null Timezone Track,09/03/2022 0:00,120000.0,TRACK,null,mobile,null,null,null,"
    "null,null",
    "Barrie,Canyons,25/04/2025 17:11,4819.0,TRACK,null,mobile,null,null,null,null,null",
    "DJ Harrison,Erykah's Gun,25/04/2025 20:20,330.00000000000000,TRACK,null,mobile,null,null,null,null,null",
]
ZONES = ["Europe/Oslo", "America/Toronto", "null", "Asia/Tokyo"]


def as_row(play: PlayEvent, n: int) -> list[str]:
    zone = ZONES[n % len(ZONES)]
    local = play.played_at.astimezone(UTC if zone == "null" else ZoneInfo(zone))
    when = f"{local.day:02d}/{local.month:02d}/{local.year} {local.hour}:{local.minute:02d}"  # hour unpadded
    ms = "null" if play.ms_played is None else f"{play.ms_played}.0"
    return [play.artist_name or "", play.track_name or "", when, ms, "TRACK", "null", "mobile", "Norway",
            "null", "null", "null", zone]  # fmt: skip


def test_a_real_history_as_tidal_writes_it_reads_back_as_the_same_plays(tmp_path: Path) -> None:
    plays = [p for p in parsed("ext_dryd33n").events if p.artist_name and p.track_name][:4000]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    writer.writerows(as_row(p, n) for n, p in enumerate(plays))
    path = tmp_path / "kit" / "streaming.csv"
    path.parent.mkdir()
    path.write_text(out.getvalue())
    assert detect_format(path) == "tidal"

    back = parse_paths([tmp_path / "kit"])
    assert back.rejected == 0 and back.skipped == {}

    def key(p: PlayEvent) -> tuple[object, ...]:  # TIDAL writes times to the minute
        return p.track_id, p.played_at.replace(second=0, microsecond=0), p.ms_played

    assert sorted(map(key, back.events)) == sorted(map(key, plays))
    # Replays within one minute stay plays of their own (the events differ by seq).
    assert len({p.event_id for p in back.events}) == len(back.events)
    assert {p.user_id for p in back.events} == {"kit"} and {p.source for p in back.events} == {"tidal"}


def test_the_rows_of_listenbrainz_test_data(tmp_path: Path) -> None:
    path = tmp_path / "ana" / "streaming.csv"
    path.parent.mkdir()
    # A byte-order mark and a line before the header, as some downloads have.
    path.write_text("\ufeffTIDAL streaming history\n" + HEADER + "\n" + "\n".join(LISTENBRAINZ_ROWS) + "\n")
    report = parse_paths([path])
    assert report.format == "tidal" and report.rejected == 0
    got = [(p.artist_name, p.played_at.isoformat(), p.ms_played) for p in report.events]
    assert got == [
        ("Kid Cudi Feat. MGMT Feat. Ratatat", "2022-03-09T00:01:00+00:00", 270000),  # 19:01 in Toronto
        ("Null Timezone Artist", "2022-03-09T00:00:00+00:00", 120000),  # no zone: UTC
        ("Barrie", "2025-04-25T17:11:00+00:00", 4819),
        ("DJ Harrison", "2025-04-25T20:20:00+00:00", 330),
    ]
    assert report.events[2].track_id == track_key("Barrie", "Canyons")


def test_each_refusal_names_its_line_and_loses_nothing_else(tmp_path: Path) -> None:
    good = "Barrie,Canyons,25/04/2025 17:11,4819.0,TRACK,null,mobile,null,null,null,null,null"
    rows = [
        good,
        "Barrie,Canyons,31/02/2025 17:11,4819.0,TRACK,null,mobile,null,null,null,null,null",
        "Barrie,Canyons,25/04/2025 17:12,4819.0,TRACK,null,mobile,null,null,null,null,Europe/Atlantis",
        "Barrie,Canyons,25/04/2025 17:13,a while,TRACK,null,mobile,null,null,null,null,null",
        "null,null,25/04/2025 17:14,1.0,TRACK,null,mobile,null,null,null,null,null",
        "Barrie,Canyons,25/04/2025",
    ]
    path = tmp_path / "ana" / "streaming.csv"
    path.parent.mkdir()
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    report = parse_paths([path])
    assert [p.played_at.minute for p in report.events] == [11]
    assert report.skipped == {"no track or artist": 1}
    assert [(r.location, r.reason) for r in report.rejects] == [
        ("line 3", "bad entry_date '31/02/2025 17:11' (no such day or time)"),
        ("line 4", "unknown time_zone 'Europe/Atlantis' (expected an IANA name like Europe/Oslo)"),
        ("line 5", "bad stream_duration_ms 'a while' (expected milliseconds)"),
        ("line 7", "expected 12 columns, got 3"),
    ]
