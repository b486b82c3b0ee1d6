"""Last.fm API dumps: a real listening history written as getRecentTracks pages reads
back as the same plays, in every shape backup scripts save; refusals by track."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from parser_data import parsed

from models.events import PlayEvent
from models.parsers import parse_paths
from models.parsers.detect import detect_format

IMAGES = [{"size": s, "#text": f"https://lastfm.freetls.fastly.net/i/u/{s}/2a96cbd8b46e442fc41c2b86b821562f.png"}
          for s in ("small", "medium", "large", "extralarge")]  # fmt: skip


def counted(folder: str) -> list[PlayEvent]:
    return [p for p in parsed(folder).events if p.ms_played is not None and p.ms_played >= 30_000]


def as_track(play: PlayEvent, *, extended: bool = False) -> dict[str, object]:
    """A play as the API's recenttracks lists it (newest first, uts as text)."""
    artist = {"url": "https://www.last.fm/music/x", "name": play.artist_name} if extended else {
        "mbid": "", "#text": play.artist_name}  # fmt: skip
    return {
        "artist": artist, "streamable": "0", "image": IMAGES, "mbid": "", "album": {"mbid": "", "#text": ""},
        "name": play.track_name, "url": "https://www.last.fm/music/x/_/y",
        "date": {"uts": str(int(play.ts)), "#text": play.played_at.strftime("%d %b %Y, %H:%M")},
    }  # fmt: skip


def pages(plays: list[PlayEvent], user: str, size: int = 200) -> list[dict[str, object]]:
    newest = sorted(plays, key=lambda p: p.played_at, reverse=True)
    tracks = [as_track(p) for p in newest]
    tracks.insert(0, {**as_track(newest[0]), "@attr": {"nowplaying": "true"}} | {"date": None})
    chunks = [tracks[i : i + size] for i in range(0, len(tracks), size)]
    return [
        {"recenttracks": {"track": chunk, "@attr": {"user": user, "page": str(n), "perPage": str(size),
                                                   "totalPages": str(len(chunks)), "total": str(len(plays))}}}
        for n, chunk in enumerate(chunks, 1)
    ]  # fmt: skip


def key(p: PlayEvent) -> tuple[object, ...]:
    return (p.user_id, p.track_id, p.played_at.replace(microsecond=0), p.track_name, p.artist_name)


def test_a_real_history_as_api_pages_reads_back_as_the_same_plays(tmp_path: Path) -> None:
    spotify = counted("ext_erickmay")
    path = tmp_path / "recenttracks.json"
    path.write_text(json.dumps(pages(spotify, user=spotify[0].user_id), ensure_ascii=False))
    assert detect_format(path) == "lastfm-api"
    back = parse_paths([path])
    assert back.rejected == 0 and back.skipped == {"now playing": 1}
    # Last.fm keeps whole seconds: the same plays, to the second.
    assert sorted(map(key, back.events)) == sorted(map(key, spotify))
    assert {p.source for p in back.events} == {"lastfm"}


@pytest.mark.parametrize("shape", ["one page per file", "bare tracks", "json lines", "extended"])
def test_every_saved_shape_reads_the_same(shape: str, tmp_path: Path) -> None:
    plays = counted("acct_xkitsune47")[:1500]
    folder = tmp_path / "ana"
    folder.mkdir()
    if shape == "one page per file":  # one page of 1,000 tracks is longer than detection's sample
        for n, page in enumerate(pages(plays, user="ana", size=1000), 1):
            (folder / f"page_{n}.json").write_text(json.dumps(page, indent=2))
    elif shape == "bare tracks":
        (folder / "tracks.json").write_text(json.dumps([as_track(p) for p in plays]))
    elif shape == "json lines":
        (folder / "tracks.jsonl").write_text("".join(json.dumps(as_track(p)) + "\n" for p in plays))
    else:
        (folder / "tracks.json").write_text(json.dumps([as_track(p, extended=True) for p in plays]))
    back = parse_paths([folder])
    assert back.format == "lastfm-api" and back.rejected == 0
    assert sorted(map(key, back.events)) == sorted(
        key(p.model_copy(update={"user_id": "ana"})) for p in plays
    )


def test_each_refusal_names_its_track_and_loses_nothing_else(tmp_path: Path) -> None:
    good = {"artist": {"#text": "Björk"}, "name": "Jóga", "date": {"uts": "1700000000"}}
    page = {"recenttracks": {"@attr": {"user": "ana"}, "track": [
        good,
        {"artist": {"#text": "Björk"}, "name": "Hunter", "date": {"uts": "1970"}},
        {"artist": {"#text": ""}, "name": "Untitled", "date": {"uts": "1700000100"}},
        "Bachelorette",
        {"artist": {"#text": "Björk"}, "name": "Alarm Call", "date": {"#text": "14 Nov 2023, 22:13"}},
        good | {"name": "All Is Full of Love", "date": {"uts": 1700000200}},
    ]}}  # fmt: skip
    path = tmp_path / "page.json"
    path.write_text(json.dumps([page, {"recenttracks": "x"}]))
    report = parse_paths([path])
    assert [p.track_name for p in report.events] == ["Jóga", "All Is Full of Love"]
    assert report.skipped == {"no track or artist": 1}
    assert {r.location: r.reason for r in report.rejects} == {
        "record 1 (line 1), track 2": "bad date.uts '1970' (expected Unix seconds)",
        "record 1 (line 1), track 4": "track is not a JSON object",
        "record 1 (line 1), track 5": "bad date.uts 'None' (expected Unix seconds)",
        "record 2 (line 1)": "recenttracks is not an object",
    }
