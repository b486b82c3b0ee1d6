"""YouTube Music history from Google Takeout: a real listening history written as
``watch-history.json`` reads back as the same songs and times; videos and removed
videos skipped; refusals by record; the listener above Takeout's own folders."""

from __future__ import annotations

import json
from pathlib import Path

from parser_data import parsed

from models.events import PlayEvent
from models.parsers import parse_paths
from models.parsers.detect import detect_format

TAKEOUT = Path("Takeout") / "YouTube and YouTube Music" / "history" / "watch-history.json"


def as_record(play: PlayEvent, n: int, *, header: str = "YouTube Music") -> dict[str, object]:
    """A play as Takeout writes it (millisecond times, ``Watched`` titles)."""
    return {
        "header": header,
        "title": f"Watched {play.track_name}",
        "titleUrl": f"https://www.youtube.com/watch?v=vid{n:07d}",
        "subtitles": [{"name": f"{play.artist_name} - Topic", "url": "https://www.youtube.com/channel/UC0"}],
        "time": play.played_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "products": ["YouTube"],
        "activityControls": ["YouTube watch history"],
    }


def test_a_real_history_as_takeout_reads_back_as_the_same_songs(tmp_path: Path) -> None:
    plays = [p for p in parsed("ext_dryd33n").events if p.ms_played and p.ms_played >= 30_000]
    newest = sorted(plays, key=lambda p: p.played_at, reverse=True)
    records: list[dict[str, object]] = []
    for n, p in enumerate(newest):
        # Half the songs played in YouTube Music, half on YouTube from the artist's Topic channel.
        records.append(as_record(p, n, header="YouTube Music" if n % 2 else "YouTube"))
    video = {
        "header": "YouTube",
        "title": "Watched How to tie a tie",
        "subtitles": [{"name": "Tie Guy"}],
        "titleUrl": "https://www.youtube.com/watch?v=x",
        "time": "2023-01-01T00:00:00Z",
    }
    removed = {  # a video taken down since: its URL for a title, no channel
        "header": "YouTube Music",
        "title": "Watched https://www.youtube.com/watch?v=gone",
        "titleUrl": "https://www.youtube.com/watch?v=gone",
        "time": "2023-01-01T00:00:00Z",
    }
    records.insert(3, video)
    records.insert(5, removed)
    path = tmp_path / "kit" / TAKEOUT
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2))
    assert detect_format(path) == "youtube-music"
    back = parse_paths([tmp_path / "kit"])
    assert back.rejected == 0 and back.skipped == {"video": 1, "no track or artist": 1}

    def key(p: PlayEvent) -> tuple[object, ...]:
        return (p.track_id, p.played_at.replace(microsecond=p.played_at.microsecond // 1000 * 1000))

    assert sorted(map(key, back.events)) == sorted(map(key, plays))
    assert {p.user_id for p in back.events} == {"kit"}  # Takeout's own folders say nothing
    assert {p.source for p in back.events} == {"youtube-music"} and all(
        p.ms_played is None for p in back.events
    )


def test_each_refusal_names_its_record_and_loses_nothing_else(tmp_path: Path) -> None:
    good = {
        "header": "YouTube Music",
        "title": "Watched Solar",
        "subtitles": [{"name": "Sault - Topic"}],
        "titleUrl": "https://www.youtube.com/watch?v=-e8N",
        "time": "2022-04-25T18:09:04.784Z",
    }
    records = [
        good,
        good | {"time": "noon"},
        good | {"title": 42},
        {k: v for k, v in good.items() if k != "time"} | {"time": None},
        good | {"subtitles": [], "title": "Watched Untitled 3"},  # no channel: the video id
    ]
    path = tmp_path / "watch-history.json"
    path.write_text(json.dumps(records))
    report = parse_paths([path], user="ana")
    assert [(p.user_id, p.track_id) for p in report.events][1] == ("ana", "yt:-e8N")
    assert {r.location: r.reason for r in report.rejects} == {
        "record 2 (line 1)": "bad time 'noon' (expected ISO-8601)",
        "record 3 (line 1)": "title is not text ('42')",
        "record 4 (line 1)": "missing time",
    }


def test_searches_and_ads_are_skipped_as_what_they_are(tmp_path: Path) -> None:
    song = {
        "header": "YouTube Music",
        "title": "Watched Solar",
        "titleUrl": "https://music.youtube.com/watch?v=-e8N",
        "subtitles": [{"name": "Sault - Topic"}],
        "time": "2022-04-25T18:09:04.784Z",
    }
    search = {
        "header": "YouTube",
        "title": "Searched for sault solar",
        "titleUrl": "https://www.youtube.com/results?search_query=sault+solar",
        "time": "2022-04-25T18:00:00Z",
        "products": ["YouTube"],
        "activityControls": ["YouTube search history"],
    }
    ad = {  # YouTube Music's own ad: no channel, so it would be a play of its video id
        "header": "YouTube Music",
        "title": "Watched Buy Now Super Shoes",
        "titleUrl": "https://music.youtube.com/watch?v=ad1",
        "time": "2022-04-25T17:00:00Z",
        "details": [{"name": "From Google Ads"}],
    }
    advertiser = ad | {"header": "YouTube", "subtitles": [{"name": "AdvertiserCo"}], "titleUrl": "x?v=ad2"}
    history = tmp_path / "ana" / TAKEOUT
    history.parent.mkdir(parents=True)
    history.write_text(json.dumps([song, ad, advertiser, search | {"header": "YouTube Music"}]))
    (history.parent / "search-history.json").write_text(json.dumps([search, search]))
    report = parse_paths([tmp_path / "ana"])
    assert [(p.user_id, p.track_name) for p in report.events] == [("ana", "Solar")]
    assert report.skipped == {"search": 3, "ad": 2} and report.rejected == 0
    by_file = {Path(f.path).name: f.skipped for f in report.files}
    assert by_file["search-history.json"] == {"search": 2}
